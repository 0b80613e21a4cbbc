# SPDX-License-Identifier: GPL-2.0
#
# bench/net.gp - the NIC bench: one panel per IOMMU, NIC and test (64 B
# and 1 KiB request/response, stream), a bar per mode at the median rate
# over the rounds, the min-max range as an error bar and every round as a
# point, so that a median carried by one odd round shows. Reads
# RESDIR/net.dat (written by bench/report.py: one block per panel, rows
# "x mode median min max round1 round2 ...", NaN for a round not
# measured) and RESDIR/net-panels.gp (npanels, ncols and the arrays
# ptitle and pylabel: each panel's title and rate unit), writes
# RESDIR/net.png.
#
#   gnuplot -e "resdir='results'; note='tcg, 5 rounds'" bench/net.gp
#
# Modes and panels are taken from the files, so a new mode or test needs
# no change here.

if (!exists("resdir")) resdir = "results"
if (!exists("note")) note = ""
load resdir."/net-panels.gp"
f = resdir."/net.dat"
nrows = int(ceil(npanels * 1.0 / ncols))

set terminal pngcairo noenhanced size 480 * ncols, 400 * nrows font "sans,10"
set output resdir."/net.png"
set datafile missing "NaN"
set style fill solid 0.45 border -1
set boxwidth 0.6
set grid ytics
set key below horizontal font "sans,8"
# Mode names side by side would overlap
set xtics nomirror rotate by 30 right
set offsets 0.5, 0.5, 0, 0
# Rates start at zero: a bar's height is the rate, not its excess over an
# axis that moves with the data
set yrange [0:*]

set multiplot layout nrows, ncols title "NIC bench: rate per mode, median over the rounds".(note eq "" ? "" : " (".note.")")
do for [k = 1:npanels] {
	set title ptitle[k]
	set ylabel pylabel[k]
	plot f index (k - 1) using 1:3:xtic(2) with boxes lc rgb "#2e86c1" title "median", \
	     '' index (k - 1) using 1:3:4:5 with yerrorbars lc rgb "#333333" pt 0 title "min-max", \
	     for [c = 6:*] '' index (k - 1) using 1:c with points pt 7 ps 0.6 lc rgb "#c0392b" \
		title (c == 6 ? "rounds" : "")
}
unset multiplot
