# SPDX-License-Identifier: GPL-2.0
#
# Kernel report detection shared by testbed/qemu.sh and tests/check
# (sourced, not run).

# IOB_REPORT_RE: one extended regex (grep -E and awk syntax) matching the
# first line of anything the kernel prints when it caught a bug: WARN/BUG,
# oopses, KASAN/UBSAN, lockdep, DMA-API debug, kmemleak, panics, and the
# "Call Trace:" every stack dump carries. A console line matching it fails
# the run (qemu.sh) or the test whose markers enclose it (tests/check).
IOB_REPORT_RE='BUG:|WARNING:|Oops|KASAN|kernel BUG|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|INFO: .*lockdep|DMA-API:|kmemleak: [0-9]+ new suspected|Kernel panic|general protection fault|Call Trace:'

# iob_reports FILE: print "LINENO<TAB>TEST<TAB>LINE" for every report line
# in console log FILE. TEST is the test whose "@@IOB BEGIN/END" markers
# enclose the line, or "-" outside any test. Carriage returns are dropped.
iob_reports() {
	awk -v re="$IOB_REPORT_RE" '
		{ sub(/\r+$/, "") }
		/@@IOB BEGIN / { cur = $0; sub(/.*@@IOB BEGIN /, "", cur); sub(/ .*/, "", cur); next }
		/@@IOB END /   { cur = ""; next }
		$0 ~ re        { printf "%d\t%s\t%s\n", NR, (cur == "" ? "-" : cur), $0 }
	' "$1"
}

# iob_report_context FILE LINENO...: print each report line of FILE with
# two lines before and five after, so one can tell what fired.
iob_report_context() {
	local f=$1 n
	shift
	for n in "$@"; do
		echo "--- console line $n:"
		sed -n "$(( n > 2 ? n - 2 : 1 )),$(( n + 5 ))p" "$f" | tr -d '\r'
	done
}
