# SPDX-License-Identifier: GPL-2.0
#
# bench/plot.gp - median fio throughput per block size (the sequential
# read sweep, 4k..1M), one line per DMA mode, one panel per IOMMU. Reads
# RESDIR/PREFIX-<iommu>.dat (written by bench/report.py: a header "bs mode1
# mode2 ...", then one row per block size in bytes with the median MiB/s of
# each mode) and writes RESDIR/PREFIX.png. PREFIX is "fio" (a boot per
# mode, the default) or "policy" (the policy boots).
#
#   gnuplot -e "resdir='results'; iommus='virtio vtd'; note='tcg, 3 reps'" bench/plot.gp
#   gnuplot -e "resdir='results'; prefix='policy'; what='bounce policy, same boots'" bench/plot.gp
#
# Modes are taken from the header, so a new mode needs no change here.

if (!exists("resdir")) resdir = "results"
if (!exists("iommus")) iommus = "virtio"
if (!exists("note")) note = ""
if (!exists("prefix")) prefix = "fio"
if (!exists("what")) what = "DMA mode"
n = words(iommus)

set terminal pngcairo noenhanced size (n > 1 ? 1400 : 800), 560 font "sans,11"
set output resdir."/".prefix.".png"
set datafile missing "NaN"
set key top left box opaque
set grid xtics ytics mytics
set logscale x 2
set logscale y 10
set xlabel "block size (fio read, QD64, O_DIRECT, raw NVMe)"
set ylabel "median throughput, MiB/s (log scale)"
set style data linespoints

name(i) = i eq "virtio" ? "virtio-iommu" : i eq "vtd" ? "Intel VT-d" : i eq "smmuv3" ? "Arm SMMUv3" : i
bslabel(b) = b >= 1048576 ? sprintf("%dM", b / 1048576) : \
	     b >= 1024 ? sprintf("%dk", b / 1024) : sprintf("%d", b)

set multiplot layout 1, n title "fio median throughput per ".what.(note eq "" ? "" : " (".note.")")
do for [k = 1:n] {
	io = word(iommus, k)
	f = resdir."/".prefix."-".io.".dat"
	set title name(io)
	# Pad the x range so the first and last block size keep their labels.
	stats f using 1 nooutput
	set xrange [STATS_min / 1.5 : STATS_max * 1.5]
	plot for [c = 2:*] f using 1:c:xtic(bslabel($1)) title columnheader(c) \
		lw 2 pt (c + 4) ps 1.3
}
unset multiplot
