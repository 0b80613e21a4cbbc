#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# prof.sh - the ftrace function profiler helpers that fio.sh and net.sh
# share; sourced, not run. The caller defines fail() and TR (the tracefs
# mount).

# prof_filter FUNC...: set the profiler's filter to exactly these
# functions; a name the kernel cannot trace is an error (writing it would
# leave the filter empty, and the profiler would then trace everything).
prof_filter() {
	: >"$TR/set_ftrace_filter" || fail "cannot clear $TR/set_ftrace_filter"
	for f in "$@"; do
		echo "$f" >>"$TR/set_ftrace_filter" 2>/dev/null ||
			fail "cannot trace $f (not in available_filter_functions?)"
	done
	[ "$(grep -vc '^#' "$TR/set_ftrace_filter")" -eq $# ] ||
		fail "ftrace filter is not exactly: $*"
}

# prof_snap FILE: the profiler's counters now, summed over the CPUs'
# trace_stat/functionN files ("name hits time us avg us s^2 us"), as
# "name hits time_us" lines. Reading them changes no code: safe while
# the traced functions run.
prof_snap() {
	cat "$TR"/trace_stat/function* | awk '
		$2 ~ /^[0-9]+$/ && $4 == "us" { h[$1] += $2; t[$1] += $3 }
		END { for (f in h) printf "%s %d %.3f\n", f, h[f], t[f] }' >"$1" ||
		fail "cannot read $TR/trace_stat"
}
