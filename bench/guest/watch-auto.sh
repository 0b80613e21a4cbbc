#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# watch-auto.sh [SECONDS [BS [CLASS]]] - guest side: watch the auto policy
# of the NVMe's pool during one fio read run.
#
# Sets the NVMe group's policy to auto, runs fio read at block size BS
# (default 4k, QD64, buffers in huge pages) for SECONDS (default 60) and
# prints, every 0.1 s, the debugfs line of the size class of CLASS bytes
# (default 4096); then fio's read IOPS and every iommu_bounce_decide event
# (each switch, with the estimates that made it). Lines go to standard
# output (the results port):
#   @@IOB S t=<uptime> class_<bytes>: <decision> iommu_ns=... bounce_ns=...
#   @@IOB IOPS <n>
#   @@IOB T <trace line>
# Not part of make bench: it shows how the estimates move between bursts.
# Boot it with the bench kernel and an initramfs that holds it, e.g.
#   testbed/qemu.sh --kernel K --initrd I --iommu virtio --smp 2 \
#     --mem 2048 --disk D --results R \
#     --append "iommu.strict=1 iommu.bounce=auto iob.run=bench:watch-auto.sh iob.args=90,4k,4096"
# Busybox sh.

fail() { echo "@@IOB WATCH-ERROR $*"; exit 1; }

secs=${1:-60}
bs=${2:-4k}
cls=${3:-4096}
dev=
for b in /sys/block/nvme*n1; do
	[ -e "$b" ] && dev=/dev/${b##*/}
done
[ -b "$dev" ] || fail "no NVMe namespace"
blk=/sys/block/${dev#/dev/}
group=$(basename "$(readlink "$blk/device/device/iommu_group")")
stats=/sys/kernel/debug/iommu-bounce/group$group/stats
[ -r "$stats" ] || fail "no pool stats at $stats"
echo auto >"/sys/kernel/iommu_groups/$group/bounce" || fail "cannot set auto"
# QD64 blocks of up to 1 MiB in 2 MiB pages, plus alignment
echo 34 >/proc/sys/vm/nr_hugepages
TR=/sys/kernel/debug/tracing
echo 1 >$TR/events/iommu_bounce/iommu_bounce_decide/enable ||
	fail "no iommu_bounce_decide event"
echo 1 >$TR/tracing_on
fio --filename="$dev" --direct=1 --ioengine=libaio --iodepth=64 \
	--size=512m --name=w --mem=shmhuge --rw=read --bs="$bs" \
	--time_based --runtime="$secs" --output-format=json >/tmp/fio.out 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
	read -r up _ </proc/uptime
	echo "@@IOB S t=$up $(grep "^class_$cls:" "$stats")"
	sleep 0.1
done
wait $pid || fail "fio: $(cat /tmp/fio.out)"
iops=$(awk -f /lib/iob/fio-json.awk /tmp/fio.out |
	awk '$1 == "jobs.0.read.iops" { printf "%.0f", $2 }')
[ -n "$iops" ] || fail "no read IOPS in fio's JSON: $(cat /tmp/fio.out)"
echo "@@IOB IOPS $iops"
sed 's/^/@@IOB T /' $TR/trace
