#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# dmab.sh [threads=N[+N...]] [seconds=N] PAGES... - dma_map_benchmark on pci-testdev
#
# Binds pci-testdev (1b36:0005) to the dma_map_benchmark driver and, for
# each number of threads, direction (0 bidirectional, 1 to device, 2 from
# device) and number of pages, prints to the results port (/dev/ttyS1, or
# what iob.results= names):
#   @@IOB DMAB dir=D pages=P threads=T map_us=M unmap_us=U map_sd_us=S unmap_sd_us=S
# (stddev columns as dma_map_benchmark prints them; "@@IOB STEP ..." before
# each run for the host's progress line). Busybox sh only.
out=/dev/ttyS1
for w in $(cat /proc/cmdline); do
	case $w in iob.results=*) out=/dev/${w#iob.results=} ;; esac
done
proto() { echo "@@IOB $*" >"$out"; }
fail() { proto "DMAB-ERROR $*"; echo "dmab.sh: $*" >&2; exit 1; }

threads=1
seconds=2
pages=
for a in "$@"; do
	case $a in
	threads=*) threads=$(echo "${a#threads=}" | tr + ' ') ;;
	seconds=*) seconds=${a#seconds=} ;;
	*) pages="$pages $a" ;;
	esac
done
[ -n "$pages" ] || pages="1 4 16 32"

proto "KERNEL $(uname -srvm)"
proto "CMDLINE $(cat /proc/cmdline)"
dev=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1b36 ] && [ "$(cat "$d/device")" = 0x0005 ] &&
		{ dev=${d##*/}; break; }
done
[ -n "$dev" ] || fail "no pci-testdev"
echo dma_map_benchmark >"/sys/bus/pci/devices/$dev/driver_override"
echo "$dev" >/sys/bus/pci/drivers_probe
[ -e /sys/kernel/debug/dma_map_benchmark ] || fail "dma_map_benchmark did not bind $dev"
group=$(basename "$(readlink "/sys/bus/pci/devices/$dev/iommu_group" 2>/dev/null)" 2>/dev/null)
proto "DEVICE dev=$dev group=${group:-none} type=$(cat /sys/kernel/iommu_groups/$group/type 2>/dev/null || echo none) cpus=$(grep -c '^processor' /proc/cpuinfo)"

n=0
for t in $threads; do
	for dir in 0 1 2; do
		for p in $pages; do
			proto "STEP dmab threads=$t dir=$dir pages=$p"
			r=$(dma_map_benchmark -t "$t" -s "$seconds" -g "$p" -d "$dir" 2>&1) ||
				fail "dma_map_benchmark -t $t -g $p -d $dir: $r"
			# "average map latency(us):1.2 standard deviation:0.3"
			map=$(echo "$r" | sed -n 's/^average map latency(us):\([0-9.]*\).*/\1/p')
			unmap=$(echo "$r" | sed -n 's/^average unmap latency(us):\([0-9.]*\).*/\1/p')
			msd=$(echo "$r" | sed -n 's/^average map latency.*deviation:\([0-9.]*\).*/\1/p')
			usd=$(echo "$r" | sed -n 's/^average unmap latency.*deviation:\([0-9.]*\).*/\1/p')
			[ -n "$map" ] && [ -n "$unmap" ] || fail "no latencies in: $r"
			proto "DMAB dir=$dir pages=$p threads=$t map_us=$map unmap_us=$unmap map_sd_us=${msd:-NaN} unmap_sd_us=${usd:-NaN}"
			n=$((n + 1))
		done
	done
done
if [ -r "/sys/kernel/debug/iommu-bounce/group$group/stats" ]; then
	while read -r key val; do
		proto "POOL ${key%:}=$val"
	done <"/sys/kernel/debug/iommu-bounce/group$group/stats"
fi
proto "DMAB-DONE count=$n"
