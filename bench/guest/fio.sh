#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# fio.sh [runtime=SEC] [warmup=SEC] RW BS... - guest side of bench/run.sh.
#
# Runs fio on the emulated NVMe's raw block device (O_DIRECT, libaio,
# iodepth 64), once per block size, each preceded by a short unmeasured
# warm-up, and writes one protocol line per size to standard output,
# which the guest's /init connects to the results port (/dev/ttyS1):
#
#   @@IOB FIO rw=<rw> bs=<bytes> iops=<n>
#
# plus "@@IOB KERNEL", "@@IOB CMDLINE" and "@@IOB DEVICE" lines first and
# "@@IOB FIO-DONE count=<n>" last, so the host can tell a complete run from
# one that died half-way. Any failure prints "@@IOB FIO-ERROR <why>" and
# exits non-zero. Progress goes to the console. RUNTIME, WARMUP and IODEPTH
# may also come from the environment (defaults 5, 1, 64); DEV overrides
# the device, to try the script on a host. Runs under busybox sh.

RUNTIME=${RUNTIME:-5}
WARMUP=${WARMUP:-1}
IODEPTH=${IODEPTH:-64}

# Progress to the console when there is one (stdout is the results port).
if [ -w /dev/console ] && [ -z "${DEV:-}" ]; then
	say() { echo "[fio.sh] $*" >/dev/console; }
else
	say() { echo "[fio.sh] $*" >&2; }
fi
proto() { echo "@@IOB $*" || exit 1; say "result: $*"; }
fail() { proto "FIO-ERROR $*"; say "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	runtime=*) RUNTIME=${1#runtime=} ;;
	warmup=*) WARMUP=${1#warmup=} ;;
	iodepth=*) IODEPTH=${1#iodepth=} ;;
	*) break ;;
	esac
	shift
done
[ $# -ge 2 ] || fail "usage: fio.sh [runtime=SEC] [warmup=SEC] RW BS..."
RW=$1
shift
case $RW in
read|write|randread|randwrite|rw|readwrite|randrw) ;;
*) fail "unknown rw '$RW' (accepted: read write randread randwrite rw readwrite randrw)" ;;
esac

# to_bytes 4k -> 4096 (fio's binary suffixes: k, m; case-insensitive)
to_bytes() {
	case $1 in
	*[kK]) echo $(( ${1%?} * 1024 )) ;;
	*[mM]) echo $(( ${1%?} * 1048576 )) ;;
	*[!0-9]*|'') return 1 ;;
	*) echo "$1" ;;
	esac
}

proto "KERNEL $(uname -srvm)"
proto "CMDLINE $(cat /proc/cmdline)"

dev=${DEV:-}
[ -n "$dev" ] || for i in 1 2 3 4 5 6 7 8 9 10; do
	for b in /sys/block/nvme*n1; do
		[ -e "$b" ] && dev=/dev/${b##*/} && break
	done
	[ -n "$dev" ] && [ -b "$dev" ] && break
	say "waiting for the NVMe namespace ($i)"
	dev=
	sleep 1
done
[ -n "$dev" ] || fail "no NVMe namespace in /sys/block (nvme driver bound?)"
[ -b "$dev" ] || fail "$dev is not a block device"
sectors=$(cat /sys/block/${dev#/dev/}/size)
size=$(( sectors * 512 ))
[ "$size" -gt 0 ] || size=$(( 512 * 1048576 ))
group=$(basename "$(readlink /sys/block/${dev#/dev/}/device/device/iommu_group 2>/dev/null)" 2>/dev/null)
gtype=$(cat /sys/kernel/iommu_groups/$group/type 2>/dev/null)
say "device $dev, $size bytes, iommu group ${group:-none} (${gtype:-no domain})"
proto "DEVICE dev=$dev size=$size group=${group:-none} type=${gtype:-none}"

common="--filename=$dev --direct=1 --rw=$RW --ioengine=libaio --iodepth=$IODEPTH --size=$size --name=b --output-format=terse"
n=0
for bs in "$@"; do
	bytes=$(to_bytes "$bs") || fail "bad block size '$bs'"
	say "rw=$RW bs=$bs: warm-up ${WARMUP}s"
	fio $common --bs="$bytes" --runtime="$WARMUP" --time_based >/tmp/warm.out 2>&1 ||
		{ cat /tmp/warm.out >&2; fail "fio warm-up failed for bs=$bs"; }
	say "rw=$RW bs=$bs: measuring ${RUNTIME}s"
	fio $common --bs="$bytes" --runtime="$RUNTIME" --time_based >/tmp/fio.out 2>/tmp/fio.err ||
		{ cat /tmp/fio.out /tmp/fio.err >&2; fail "fio exited non-zero for bs=$bs"; }
	# Terse v3: field 5 error, field 8 read IOPS, field 49 write IOPS.
	line=$(grep '^3;' /tmp/fio.out | head -n 1)
	[ -n "$line" ] || { cat /tmp/fio.out /tmp/fio.err >&2; fail "no terse output for bs=$bs"; }
	err=$(echo "$line" | cut -d';' -f5)
	riops=$(echo "$line" | cut -d';' -f8)
	wiops=$(echo "$line" | cut -d';' -f49)
	[ "$err" = 0 ] || fail "fio reported error $err for bs=$bs"
	iops=$(( riops + wiops ))
	[ "$iops" -gt 0 ] || fail "fio measured 0 IOPS for bs=$bs"
	[ -s /tmp/fio.err ] && { say "fio stderr:"; cat /tmp/fio.err >&2; }
	proto "FIO rw=$RW bs=$bytes iops=$iops"
	n=$(( n + 1 ))
done
# The bounce pool's counters, when the NVMe's domain has one: they show
# whether the pool really served the run (maps, fallbacks, memory held).
stats=/sys/kernel/debug/iommu-bounce/group$group/stats
if [ -r "$stats" ]; then
	while read -r key val; do
		proto "POOL ${key%:}=$val"
	done <"$stats"
fi
proto "FIO-DONE count=$n"
