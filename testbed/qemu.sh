#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu.sh - boot the guest once and check its console for kernel reports.
#
#   qemu.sh --kernel PATH --initrd PATH [--iommu virtio|vtd|smmuv3|none]
#           [--smp N] [--mem MB] [--append "ARGS"] [--timeout SEC]
#           [--console FILE] [--results FILE] [--disk FILE] [--disk-size MB]
#           [--devices LIST] [--dtb FILE] [--dump-dtb FILE]
#
# Machine (ARCH / IOB_ARCH, see lib.sh): x86_64 boots q35, IOMMUs virtio,
# vtd or none; arm64 boots virt (GICv3, Cortex-A72), IOMMUs smmuv3, virtio
# or none. Either has an NVMe (raw image, on pcie-root-port rp0 so it can
# be hot-unplugged), edu and pci-testdev, behind the chosen vIOMMU.
# --dtb boots arm64 with that device tree instead of QEMU's own;
# --dump-dtb writes QEMU's device tree for these options and exits
# (testbed/dtb.sh edits one, e.g. to make PCIe non-coherent).
# --devices adds more, comma-separated (see IOB_DEVICES in lib.sh):
#   e1000e, virtio-net  two NICs of that model joined by a QEMU hub of
#                       their own (no host network: traffic stays in the
#                       guest; the guest puts one in a network namespace)
#   virtio-blk, virtio-scsi, usb-storage (on qemu-xhci), ahci (a SATA disk
#                       on q35's own ICH9 AHCI, on arm64 an added one):
#                       each on a raw image
#                       $IOB_CACHE/disk-NAME.img of 512 MiB (sparse)
# Virtio devices are modern-only with iommu_platform=on, so their DMA
# goes through the DMA API and the vIOMMU.
# The console (x86_64 ttyS0, arm64 ttyAMA0) goes to stdout and --console
# FILE; the guest's results port (x86_64 ttyS1, arm64 ttyS0: a PCI 16550,
# as virt has one UART) goes to --results FILE.
# The QEMU monitor listens on $IOB_CACHE/run/monitor-<pid of qemu.sh>.sock
# (or $IOB_MONITOR): e.g. "echo 'device_del nvme0' | socat - UNIX:PATH".
# The path is printed as "monitor: PATH" and exported to the guest's host
# helpers as IOB_MONITOR for the duration of the run.
#
# Exit status: 0 ok, 1 QEMU failed, 2 bad usage, 3 kernel reports on the
# console (see IOB_REPORT_RE in reports.sh), 4 guest timed out, 5 the
# guest ended without its "@@IOB DONE" marker (iob.run=tests/bench only).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/reports.sh"

usage() {
	sed -n 's/^#   //p; s/^#           //p' "$0" | head -n 3 >&2
	exit 2
}

kernel= initrd= iommu=virtio smp=2 mem=2048 append= tmo=900
console= results= disk=$IOB_CACHE/disk.img disk_mb=1024 devices=
dtb= dump_dtb=
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || { echo "qemu.sh: $1 needs a value" >&2; usage; }
	case $1 in
	--kernel) kernel=$2 ;;
	--initrd) initrd=$2 ;;
	--iommu) iommu=$2 ;;
	--smp) smp=$2 ;;
	--mem) mem=$2 ;;
	--append) append=$2 ;;
	--timeout) tmo=$2 ;;
	--console) console=$2 ;;
	--results) results=$2 ;;
	--disk) disk=$2 ;;
	--disk-size) disk_mb=$2 ;;
	--devices) devices=$2 ;;
	--dtb) dtb=$2 ;;
	--dump-dtb) dump_dtb=$2 ;;
	*) echo "qemu.sh: unknown option $1 (accepted: --kernel --initrd --iommu --smp --mem --append --timeout --console --results --disk --disk-size --devices --dtb --dump-dtb)" >&2; exit 2 ;;
	esac
	shift 2
done
if [ "$IOB_ARCH" = arm64 ]; then
	( iob_check_one_of "iommu on arm64" "$iommu" smmuv3 virtio none ) || exit 2
else
	( iob_check_one_of "iommu on x86_64" "$iommu" virtio vtd none ) || exit 2
	[ -z "$dtb$dump_dtb" ] || { echo "qemu.sh: --dtb and --dump-dtb are for arm64" >&2; exit 2; }
fi
[ -z "$dtb" ] || [ -f "$dtb" ] || { echo "qemu.sh: --dtb '$dtb' not found" >&2; exit 2; }
isnum() { case $2 in ''|*[!0-9]*) die "--$1 must be a number, got '$2'" ;; esac; }
( isnum smp "$smp" && isnum mem "$mem" && isnum timeout "$tmo" && isnum disk-size "$disk_mb" ) || exit 2
for d in ${devices//,/ }; do
	( iob_check_one_of "device" "$d" "${IOB_DEVICES[@]}" ) || exit 2
done
if [ -z "$dump_dtb" ]; then
	[ -f "$kernel" ] || { echo "qemu.sh: --kernel '$kernel' not found" >&2; exit 2; }
	[ -f "$initrd" ] || { echo "qemu.sh: --initrd '$initrd' not found" >&2; exit 2; }
fi

run=$IOB_CACHE/run
mkdir -p "$run"
tmpfiles=()
cleanup() { rm -f "${tmpfiles[@]}"; }
trap cleanup EXIT
if [ -z "$console" ]; then console=$run/console-$$.log; tmpfiles+=("$console"); fi
if [ -z "$results" ]; then results=$run/results-$$.txt; tmpfiles+=("$results"); fi
export IOB_MONITOR=${IOB_MONITOR:-$run/monitor-$$.sock}
tmpfiles+=("$IOB_MONITOR")
: >"$console"
: >"$results"

if [ ! -f "$disk" ]; then
	mkdir -p "$(dirname "$disk")"
	truncate -s "${disk_mb}M" "$disk"
fi

if [ "$IOB_ARCH" = arm64 ]; then
	cmdline="console=ttyAMA0 iob.results=ttyS0"
else
	cmdline="console=ttyS0"
fi
cmdline+=" panic=-1 oops=panic loglevel=4 kunit.enable=0"
iommu_dev=()
case $iommu in
virtio) iommu_dev=(-device virtio-iommu-pci) ;;
vtd) iommu_dev=(-device intel-iommu,caching-mode=on,intremap=off)
     cmdline+=" intel_iommu=on" ;;
esac
cmdline+=" $append"

# KVM when /dev/kvm is usable and a KVM guest really runs: /dev/kvm can
# exist and open fine while guests hang (nested virtualisation without
# VMX). A 20 s test boot of the kernel settles it; its verdict is kept in
# $IOB_CACHE/run/kvm-probe.<host boot id> (empty file: KVM works).
kvm_probe() {
	local cache=$run/kvm-probe.$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo x) why
	if [ ! -f "$cache" ]; then
		if ! why=$(echo quit | timeout 30 qemu-system-x86_64 -machine none -accel kvm \
				-nodefaults -display none -monitor stdio 2>&1 >/dev/null); then
			echo "$why" | grep -v '^$' | tail -n 1 >"$cache"
		elif ! timeout 20 qemu-system-x86_64 -machine q35 -accel kvm -cpu host -m 256 \
				-nodefaults -nographic -no-reboot "${bios[@]}" -kernel "$kernel" \
				-append "console=ttyS0 panic=-1 rdinit=/none init=/none" \
				-serial stdio </dev/null 2>/dev/null | grep -q 'Linux version'; then
			echo "a KVM test boot printed nothing in 20 s" >"$cache"
		else
			: >"$cache"
		fi
	fi
	why=$(cat "$cache")
	[ -z "$why" ] || { echo "$why"; return 1; }
}

# Extra devices (--devices). Virtio: modern only, translated by the vIOMMU.
vio=disable-legacy=on,iommu_platform=on
extra=() hub=0
# extra_disk NAME: a 512 MiB sparse raw image for a block device, as a
# -drive id (grown in place if an older, smaller one is there)
extra_disk() {
	local img=$IOB_CACHE/disk-$1.img
	truncate -s 512M "$img"
	extra+=(-drive "file=$img,if=none,id=$1,format=raw,cache=unsafe")
}
for d in ${devices//,/ }; do
	case $d in
	e1000e | virtio-net)
		model=$d
		[ "$d" = virtio-net ] && model=virtio-net-pci,$vio
		for i in 0 1; do
			extra+=(-netdev "hubport,id=$d$i,hubid=$hub"
				-device "$model,netdev=$d$i,mac=52:54:00:12:$(printf %02x $hub):0$i")
		done
		hub=$((hub + 1))
		;;
	virtio-blk) extra_disk vblk; extra+=(-device "virtio-blk-pci,drive=vblk,serial=iobvblk,$vio") ;;
	virtio-scsi) extra_disk vscsi
		extra+=(-device "virtio-scsi-pci,id=vscsi,$vio"
			-device "scsi-hd,drive=vscsi,bus=vscsi.0,serial=iobvscsi") ;;
	usb-storage) extra_disk usb
		extra+=(-device qemu-xhci,id=xhci -device "usb-storage,drive=usb,bus=xhci.0,serial=iobusb") ;;
	ahci) extra_disk sata
		# q35 has an ICH9 AHCI of its own (ide.0); virt has none
		bus=ide.0
		[ "$IOB_ARCH" = arm64 ] && { extra+=(-device ich9-ahci,id=ahci); bus=ahci.0; }
		extra+=(-device "ide-hd,drive=sata,bus=$bus,serial=iobsata") ;;
	esac
done

accel=$(iob_accel)
accel_note=
if [ "$IOB_ARCH" = arm64 ]; then
	# No KVM for an arm64 guest on this host: always TCG
	[ "$accel" = kvm ] && accel_note=" (kvm cannot run an arm64 guest on $(uname -m))"
	accel=tcg
	machine=virt,gic-version=3
	[ "$iommu" = smmuv3 ] && machine+=,iommu=smmuv3
	[ -n "$dump_dtb" ] && machine+=,dumpdtb=$dump_dtb
	# Cortex-A72: 4 KiB and 64 KiB granules, and no pointer authentication,
	# whose emulation makes TCG several times slower with "max"
	qemu=(qemu-system-aarch64 -machine "$machine" -accel tcg -cpu cortex-a72
	      ${dtb:+-dtb "$dtb"})
	# The results port: virt has a single UART
	results_dev=(-chardev "file,id=res0,path=$results" -device pci-serial,chardev=res0)
else
	bios=()
	[ -f /usr/share/qemu/qboot.rom ] && bios=(-bios /usr/share/qemu/qboot.rom)
	if [ "$accel" = kvm ]; then
		if ! why=$(kvm_probe); then
			accel=tcg
			accel_note=" (kvm failed: $why)"
		fi
	elif [ -e /dev/kvm ]; then
		accel_note=" (kvm not used: $(iob_accel_why))"
	fi
	cpu=${IOB_CPU:-max}	# IOB_CPU: e.g. "max,-erms,-fsrm" for experiments
	[ "$accel" = kvm ] && cpu=host
	qemu=(qemu-system-x86_64 -machine q35 -accel "$accel" -cpu "$cpu" "${bios[@]}")
	results_dev=(-serial "file:$results")
fi
echo "accelerator: $accel$accel_note"
echo "monitor: $IOB_MONITOR"

qemu+=(-smp "$smp" -m "$mem" -nodefaults -nographic -no-reboot
	${kernel:+-kernel "$kernel" -append "$cmdline"} ${initrd:+-initrd "$initrd"}
	-chardev "stdio,id=con0,logfile=$console,signal=on"
	-serial chardev:con0 "${results_dev[@]}"
	-monitor "unix:$IOB_MONITOR,server=on,wait=off"
	"${iommu_dev[@]}"
	-device pcie-root-port,id=rp0,chassis=1
	-drive "file=$disk,if=none,id=nvme0drive,format=raw,cache=unsafe"
	-device nvme,id=nvme0,drive=nvme0drive,serial=iob0,bus=rp0
	-device edu -device pci-testdev "${extra[@]}")

if [ -n "$dump_dtb" ]; then
	"${qemu[@]}" </dev/null >/dev/null || { echo "qemu.sh: could not dump the device tree" >&2; exit 1; }
	echo "qemu.sh: device tree written to $dump_dtb"
	exit 0
fi

# Only a human (iob.run=shell or none) gets our stdin; an automated run
# must not put the terminal into raw mode or wait on it.
interactive=0
case " $cmdline " in
*" iob.run=shell "*) interactive=1 ;;
*" iob.run="*) ;;
*) interactive=1 ;;
esac

start=$(date +%s)
rc=0
if [ $interactive = 1 ]; then
	timeout --foreground -k 10 "$tmo" "${qemu[@]}" || rc=$?
else
	timeout --foreground -k 10 "$tmo" "${qemu[@]}" </dev/null || rc=$?
fi
secs=$(( $(date +%s) - start ))
echo
echo "qemu.sh: guest ran ${secs}s (qemu exit status $rc)"

status=0
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "qemu.sh: guest timed out after $tmo s; last 40 console lines:"
	tail -n 40 "$console" | tr -d '\r' | sed 's/^/  | /'
	status=4
elif [ $rc -ne 0 ]; then
	echo "qemu.sh: qemu failed (exit status $rc)"
	status=1
fi

reports=$(iob_reports "$console")
if [ -n "$reports" ]; then
	echo "qemu.sh: kernel reports on the console ($(echo "$reports" | wc -l) lines):"
	echo "$reports" | cut -f3 | sed 's/^/  ! /'
	# Context of the first few only: one splat has many matching lines.
	iob_report_context "$console" $(echo "$reports" | cut -f1 | head -n 3)
	[ $status -eq 0 ] && status=3
fi

if [ $status -eq 0 ] && [ $interactive = 0 ] && ! grep -q '@@IOB DONE' "$console"; then
	echo "qemu.sh: guest ended without '@@IOB DONE'; last 40 console lines:"
	tail -n 40 "$console" | tr -d '\r' | sed 's/^/  | /'
	status=5
fi
exit $status
