# SPDX-License-Identifier: GPL-2.0
#
# bench/pool.gp - bounce pool memory over time against the bytes in
# flight, one panel per IOMMU and mode. Reads RESDIR/pool-time.csv
# (iommu,mode,t,phase,bs,pool_bytes,inflight_bytes,inflight_reqs, written
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
set ylabel "MiB"
set style data lines

sel(io, m, v) = (strcol(1) eq io && strcol(2) eq m) ? v : NaN
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
	plot f using (sel(io, m, column(3))):(sel(io, m, column(6) / 1048576.0)) \
		title "pool bytes" lw 2 lc rgb "#c0392b", \
	     f using (sel(io, m, column(3))):(sel(io, m, column(7) / 1048576.0)) \
		title "in flight (requests x size)" lw 1.5 lc rgb "#2e86c1", \
	     f using (sel(io, m, (strcol(4) ne prev ? (prev = strcol(4), column(3)) : NaN))):(0):(strcol(4)) \
		with labels rotate by 90 left offset 0, 0.5 font "sans,8" tc rgb "#555555" notitle
}
unset multiplot
