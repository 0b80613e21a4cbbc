#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# dmab.sh [threads=N] [seconds=N] PAGES... - dma_map_benchmark on pci-testdev
#
# Binds pci-testdev (1b36:0005) to the dma_map_benchmark driver and, for
# each direction (0 bidirectional, 1 to device, 2 from device) and number
# of pages, prints to the results port (/dev/ttyS1):
#   @@IOB DMAB dir=D pages=P threads=T map_us=M unmap_us=U
# Busybox sh only.
out=/dev/ttyS1
proto() { echo "@@IOB $*" >"$out"; }
fail() { proto "DMAB-ERROR $*"; echo "dmab.sh: $*" >&2; exit 1; }

threads=1
seconds=2
pages=
for a in "$@"; do
	case $a in
	threads=*) threads=${a#threads=} ;;
	seconds=*) seconds=${a#seconds=} ;;
	*) pages="$pages $a" ;;
	esac
done
[ -n "$pages" ] || pages="1 4 16 32"

dev=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1b36 ] && [ "$(cat "$d/device")" = 0x0005 ] &&
		{ dev=${d##*/}; break; }
done
[ -n "$dev" ] || fail "no pci-testdev"
echo dma_map_benchmark >"/sys/bus/pci/devices/$dev/driver_override"
echo "$dev" >/sys/bus/pci/drivers_probe
[ -e /sys/kernel/debug/dma_map_benchmark ] || fail "dma_map_benchmark did not bind $dev"

n=0
for dir in 0 1 2; do
	for p in $pages; do
		r=$(dma_map_benchmark -t "$threads" -s "$seconds" -g "$p" -d "$dir" 2>&1) ||
			fail "dma_map_benchmark -t $threads -g $p -d $dir: $r"
		map=$(echo "$r" | sed -n 's/^average map latency(us):\([0-9.]*\).*/\1/p')
		unmap=$(echo "$r" | sed -n 's/^average unmap latency(us):\([0-9.]*\).*/\1/p')
		[ -n "$map" ] && [ -n "$unmap" ] || fail "no latencies in: $r"
		proto "DMAB dir=$dir pages=$p threads=$threads map_us=$map unmap_us=$unmap"
		n=$((n + 1))
	done
done
proto "DMAB-DONE count=$n"
