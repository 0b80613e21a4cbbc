# SPDX-License-Identifier: GPL-2.0
#
# bench/pool.gp - bounce pool memory over time against the bytes in
# flight, one panel per IOMMU and mode. Reads RESDIR/pool-time.csv
# (iommu,mode,t,phase,bs,pool_bytes,inflight_bytes,inflight_reqs_now, written
# by bench/run.sh from the guest's 0.5 s samples) and writes RESDIR/pool.png.
#
#   gnuplot -e "resdir='results'; panels='virtio:bounce virtio:bounce-auto'" bench/pool.gp
#
# Phase changes (workload or idle) are marked with their names.

if (!exists("resdir")) resdir = "results"
if (!exists("panels")) panels = "virtio:bounce"
n = words(panels)
f = resdir."/pool-time.csv"

set terminal pngcairo noenhanced size 1000, 330 * n font "sans,10"
set output resdir."/pool.png"
set datafile separator ","
set datafile missing "NaN"
set key top right box opaque
set grid xtics ytics
set xlabel "time since the first sample, s"
# Log scale: the pool (up to a few MiB) and 1M reads in flight (tens of
# MiB) on one axis; zero is drawn at the floor.
floor = 0.01
set logscale y 10
set yrange [floor:*]
set ylabel sprintf("MiB (log scale, 0 drawn at %g)", floor)
set style data lines

sel(io, m, v) = (strcol(1) eq io && strcol(2) eq m) ? v : NaN
mib(v) = v / 1048576.0 > floor ? v / 1048576.0 : floor
set multiplot layout n, 1 title "bounce pool memory vs bytes in flight (0.5 s samples, rep 1)"
do for [k = 1:n] {
	p = word(panels, k)
	io = p[1:strstrt(p, ":") - 1]
	m = p[strstrt(p, ":") + 1:]
	set title io." ".m
	# Phase labels: one at the first sample of each phase.
	prev = ""
	unset label
	stats f using (sel(io, m, column(3))) nooutput
	plot f using (sel(io, m, column(3))):(sel(io, m, mib(column(6)))) \
		title "pool bytes" lw 2 lc rgb "#c0392b", \
	     f using (sel(io, m, column(3))):(sel(io, m, mib(column(7)))) \
		title "in flight (mean requests x size)" lw 1.5 lc rgb "#2e86c1", \
	     f using (sel(io, m, (strcol(4) ne prev ? (prev = strcol(4), column(3)) : NaN))):(floor):(strcol(4)) \
		with labels rotate by 90 left offset 0, 0.5 font "sans,8" tc rgb "#555555" notitle
}
unset multiplot
