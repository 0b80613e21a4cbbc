#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dtb.sh KIND OUT [qemu.sh options] - write an arm64 device tree to OUT:
# QEMU's own for those options (qemu.sh --dump-dtb), changed as KIND says.
#
#   noncoherent  the PCIe host bridge without "dma-coherent": every PCI
#                device, the NVMe, edu and virtio-iommu included, is then
#                DMA non-coherent, so the kernel does CPU cache maintenance
#                for it (arch_sync_dma_for_device/cpu), and so does the
#                bounce pool for its slots.
#
# Needs dtc (Debian's device-tree-compiler, installed by lib.sh's iob_deps
# for arm64).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ $# -ge 2 ] || { echo "usage: dtb.sh noncoherent OUT [qemu.sh options]" >&2; exit 2; }
kind=$1 out=$2
shift 2
iob_check_one_of "device tree kind" "$kind" noncoherent
[ "$IOB_ARCH" = arm64 ] || die "device trees are for ARCH=arm64"
iob_deps

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$IOB_TOP/testbed/qemu.sh" --dump-dtb "$tmp/qemu.dtb" "$@" >"$tmp/qemu.log" 2>&1 ||
	{ cat "$tmp/qemu.log" >&2; die "qemu.sh could not dump its device tree"; }
dtc -q -I dtb -O dts -o "$tmp/qemu.dts" "$tmp/qemu.dtb"

# The node of the generic PCIe host: compatible = "pci-host-ecam-generic".
# Drop "dma-coherent;" inside it, and fail if there was none to drop, so a
# QEMU that changes its tree cannot make the boot silently coherent.
awk '
	/^\t[^\t].*\{$/ { node = $0; inpci = 0 }
	/compatible = "pci-host-ecam-generic"/ { inpci = 1 }
	{ lines[NR] = $0; owner[NR] = node }
	inpci { pci[node] = 1 }
	END {
		for (i = 1; i <= NR; i++) {
			if (pci[owner[i]] && lines[i] ~ /^\t\tdma-coherent;$/) { dropped++; continue }
			print lines[i]
		}
		if (dropped != 1) { print "dropped " dropped + 0 " dma-coherent lines" > "/dev/stderr"; exit 1 }
	}' "$tmp/qemu.dts" >"$tmp/noncoherent.dts" ||
	die "no single dma-coherent property in QEMU's PCIe host node"
mkdir -p "$(dirname "$out")"
dtc -q -I dts -O dtb -o "$out" "$tmp/noncoherent.dts"
say "non-coherent PCIe device tree: $out"
