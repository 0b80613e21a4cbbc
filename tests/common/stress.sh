# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the stress group: data integrity across DMA modes, fault
# injection, memory pressure, teardown under I/O, concurrency (busybox
# sh). Sourced after common/guest.sh and common/bounce.sh.

# _bounce_set GROUP 0|1: write the group's bounce file and check it
# took ("off"/"on"; 0/1 are accepted as spellings of the same).
_bounce_set() {
	echo "$2" >"/sys/kernel/iommu_groups/$1/bounce" ||
		{ _fail "cannot write $2 to group $1 bounce"; return 1; }
	_b=$(cat "/sys/kernel/iommu_groups/$1/bounce")
	case "$2:$_b" in
	0:off | 0:0 | 1:on | 1:1) return 0 ;;
	esac
	_fail "group $1 bounce reads '$_b' after writing $2"
	return 1
}

# _bounce_threshold GROUP BYTES: set the group's bounce threshold.
_bounce_threshold() {
	echo "$2" >"/sys/kernel/iommu_groups/$1/bounce_threshold" &&
		[ "$(cat "/sys/kernel/iommu_groups/$1/bounce_threshold")" = "$2" ] ||
		{ _fail "cannot set group $1 bounce_threshold to $2"; return 1; }
}

# _bounce_policy GROUP: print the bounce file (off, on or auto) for logs.
_bounce_policy() {
	cat "/sys/kernel/iommu_groups/$1/bounce" 2>/dev/null || echo "(none)"
}

# _nvme_wait_dev [SECS]: wait (default 60 s) for the NVMe namespace's
# block device to appear after a (re)bind or rescan; print it.
_nvme_wait_dev() {
	_i=0
	while [ $_i -lt "${1:-60}" ]; do
		_nvme_dev && return 0
		sleep 1
		_i=$((_i + 1))
	done
	return 1
}

# _nvme_unbind PCIDEV: unbind the NVMe driver from the controller.
_nvme_unbind() {
	echo "$1" >/sys/bus/pci/drivers/nvme/unbind ||
		{ _fail "cannot unbind nvme from $1"; return 1; }
}

# _nvme_bind PCIDEV: bind the NVMe driver and wait for the namespace.
_nvme_bind() {
	echo "$1" >/sys/bus/pci/drivers/nvme/bind ||
		{ _fail "cannot bind nvme to $1"; return 1; }
	_nvme_wait_dev >/dev/null ||
		{ _fail "no NVMe block device 60 s after binding $1"; return 1; }
}

# _nvme_set_type GROUP TYPE: give the NVMe controller's group a new
# default domain of TYPE (DMA, DMA-FQ): unbind, write the type, rebind.
# _fail unless the group really has that type afterwards.
_nvme_set_type() {
	_pci=$(_nvme_pci) || { _fail "no NVMe controller"; return 1; }
	[ "$(_group_type "$1")" = "$2" ] && return 0
	_nvme_unbind "$_pci" || return 1
	echo "$2" >"/sys/kernel/iommu_groups/$1/type" ||
		_fail "cannot write $2 to group $1 type"
	_nvme_bind "$_pci" || return 1
	_t=$(_group_type "$1")
	[ "$_t" = "$2" ] || { _fail "group $1 type is '$_t' after writing $2"; return 1; }
}

# _fio_flat FILE: fio's JSON document in FILE (made with
# --output-format=json,normal) flattened into FILE.flat, one "PATH VALUE"
# line per value (/lib/iob/fio-json.awk); _fails when there is none.
_fio_flat() {
	awk -f /lib/iob/fio-json.awk "$1" >"$1.flat" &&
		grep -q '^jobs\.0\.jobname ' "$1.flat" ||
		{ _fail "no fio JSON document with a job in $1"; return 1; }
}

# _fio_sum FILE KEY: sum of KEY (read.io_kbytes, write.io_kbytes, error)
# over all jobs of FILE.flat (_fio_flat)
_fio_sum() {
	awk -v k="$2" '{ p = $1; sub(/^jobs\.[0-9]+\./, "", p) }
		$1 ~ /^jobs\.[0-9]+\./ && p == k { s += $2 }
		END { print s + 0 }' "$1.flat"
}

# _fio_verify_points DEV LABEL RW:BS:SIZE...: points of the integrity
# matrix on the raw device, crc32c verified, fatal on the first mismatch,
# all in one fio run (fio's start-up costs seconds under TCG), one job
# after the other (stonewall), each point on its own 32 MiB region:
#   write   sequential write, then fio reads it all back and verifies;
#   randrw  random mix, then fio verifies every block it wrote;
#   read    a write job (no verify), then a separate read job that
#           verifies every block.
# _fails on fio errors, when a job wrote or read back less than asked, or
# verified less than it wrote. Prints one line per point; sets
# FIO_VERIFIED_KB to the KiB verified, all points.
_fio_verify_points() {
	_d=$1 _lbl=$2
	shift 2
	_job=$IOB_STATE/$_lbl.job
	_off=0
	{
		echo "[global]"
		echo "filename=$_d"
		echo "direct=1"
		echo "ioengine=libaio"
		echo "iodepth=16"
		echo "verify=crc32c"
		echo "verify_fatal=1"
		echo "stonewall"
		for _p in "$@"; do
			_rw=${_p%%:*} _bs=${_p#*:} _sz=${_p##*:}
			_bs=${_bs%%:*}
			if [ "$_rw" = read ]; then
				printf '[fill-%s]\nrw=write\ndo_verify=0\nbs=%s\nsize=%s\noffset=%dM\n' \
					"$_bs" "$_bs" "$_sz" "$_off"
			fi
			printf '[%s-%s]\nrw=%s\nbs=%s\nsize=%s\noffset=%dM\n' \
				"$_rw" "$_bs" "$_rw" "$_bs" "$_sz" "$_off"
			_off=$((_off + 32))
		done
	} >"$_job"
	IOB_FIO_QUIET=1 _run_fio --output-format=json,normal "$_job"
	FIO_VERIFIED_KB=0
	_fio_flat "$_out" || return 1
	# per job: name, error, KiB read, KiB written, ms reading + writing
	awk '{ split($1, p, "."); if (p[1] != "jobs") next
	       j = p[2]; k = substr($1, length(p[1] p[2]) + 3)
	       if (j + 1 > n) n = j + 1 }
	     k == "jobname" { name[j] = $2 } k == "error" { err[j] = $2 }
	     k == "read.io_kbytes" { r[j] = $2 } k == "write.io_kbytes" { w[j] = $2 }
	     k == "read.runtime" || k == "write.runtime" { ms[j] += $2 }
	     END { for (j = 0; j < n; j++) print name[j], err[j], r[j], w[j], ms[j] + 0 }' \
		"$_out.flat" >"$_job.res"
	_nres=0
	while read -r _name _err _r _w _ms; do
		_nres=$((_nres + 1))
		_bs=${_name#*-}
		_kind=${_name%%-*}
		[ "$_err" = 0 ] || _fail "$_lbl $_name: fio error $_err"
		case $_kind in
		fill) continue ;;
		read) _v=$_r ;;
		*)
			_v=$_w
			[ "$_r" -ge "$_w" ] ||
				_fail "$_lbl $_name: wrote $_w KiB, read back only $_r KiB"
			;;
		esac
		echo "$_lbl $_kind bs=$_bs: verified $_v KiB (read $_r KiB, written $_w KiB, $_ms ms)"
		FIO_VERIFIED_KB=$((FIO_VERIFIED_KB + _v))
	done <"$_job.res"
	_want=0
	for _p in "$@"; do
		_want=$((_want + 1))
		[ "${_p%%:*}" = read ] && _want=$((_want + 1))
	done
	[ "$_nres" -eq "$_want" ] || _fail "$_lbl: fio reported $_nres jobs, expected $_want"
	# Every point verified as much as it was asked to move: fill and
	# read sizes are exact; write and randrw were checked above
	for _p in "$@"; do
		_rw=${_p%%:*} _bs=${_p#*:} _sz=${_p##*:}
		_bs=${_bs%%:*}
		_kb=$(echo "$_sz" | sed 's/[kK]$//; s/M$/*1024/' | awk '{ split($0, a, "*"); print a[1] * (a[2] ? a[2] : 1) }')
		case $_rw in
		read) _col=3 ;;
		write) _col=4 ;;
		*) continue ;;
		esac
		_got=$(awk -v n="$_rw-$_bs" -v c=$_col '$1 == n { print $c }' "$_job.res")
		[ "$_got" = "$_kb" ] || _fail "$_lbl $_rw-$_bs: moved ${_got:-no} KiB, expected $_kb"
	done
}

# _fio_check_out FILE RC WHAT: _fail unless fio's output FILE and exit
# status RC show a clean run: status 0, every job "err= 0", no verify
# mismatch, every job's error 0 in fio's JSON.
_fio_check_out() {
	[ "$2" -eq 0 ] || _fail "fio $3 exited with status $2"
	grep -q 'err= *0' "$1" || _fail "fio $3 printed no 'err= 0' job line"
	! grep 'err=' "$1" | grep -qv 'err= *0[:,]' ||
		_fail "fio $3: $(grep 'err=' "$1" | grep -v 'err= *0[:,]' | head -n 1)"
	! grep -qi 'verify failed\|bad magic\|bad header' "$1" ||
		_fail "fio $3: verify mismatch: $(grep -i 'verify failed\|bad magic\|bad header' "$1" | head -n 1)"
	_fio_flat "$1" || return 1
	[ "$(_fio_sum "$1" error)" = 0 ] || _fail "fio $3: job error $(_fio_sum "$1" error) in fio's JSON"
}

# _fio_bg NAME FIO-ARGS...: start fio in the background, output in
# $IOB_STATE/NAME.fio; sets FIO_PID. _fio_bg_wait NAME: wait for it,
# print its output, return its exit status. _fio_bg_check NAME: wait
# and _fail unless it was clean (_fio_check_out).
# With IOB_MAKE_IT_FAIL=1, fio runs with /proc/self/make-it-fail set,
# the task filter of _fault_aim.
_fio_bg() {
	_n=$1
	shift
	(
		if [ "${IOB_MAKE_IT_FAIL:-0}" = 1 ]; then
			echo 1 >/proc/self/make-it-fail || exit 99
		fi
		exec fio --output-format=json,normal "$@"
	) >"$IOB_STATE/$_n.fio" 2>&1 &
	FIO_PID=$!
}
_fio_bg_wait() {
	wait "$FIO_PID"
	_rc=$?
	cat "$IOB_STATE/$1.fio"
	return $_rc
}
_fio_bg_check() {
	_fio_bg_wait "$1"
	_fio_check_out "$IOB_STATE/$1.fio" $? "$1"
}

# _fio_loop NAME FIO-ARGS...: run the same (verifying, self-contained)
# fio job again and again in the background until _fio_loop_stop NAME;
# each run writes and then verifies its blocks, so stopping between runs
# never cuts a verify short. Sets FIO_PID.
# _fio_loop_stop NAME: _fio_loop_end NAME, then _fio_loop_results NAME.
# _fio_loop_end NAME: let the current run finish; the I/O has stopped.
# _fio_loop_results NAME: check every run (_fio_check_out), set FIO_RUNS
# and FIO_VERIFIED_KB (KiB written and then verified, all runs), print a
# summary.
_fio_loop() {
	_n=$1
	shift
	rm -f "$IOB_STATE/$_n".*
	(
		_i=0
		while [ ! -e "$IOB_STATE/$_n.stop" ]; do
			_i=$((_i + 1))
			fio --output-format=json,normal "$@" >"$IOB_STATE/$_n.$_i.fio" 2>&1
			echo $? >"$IOB_STATE/$_n.$_i.rc"
		done
	) &
	FIO_PID=$!
}
_fio_loop_stop() {
	_fio_loop_end "$1"
	_fio_loop_results "$1"
}
_fio_loop_end() {
	: >"$IOB_STATE/$1.stop"
	wait "$FIO_PID"
}
_fio_loop_results() {
	FIO_RUNS=0 FIO_VERIFIED_KB=0
	for _rcf in "$IOB_STATE/$1".*.rc; do
		[ -e "$_rcf" ] || continue
		_f=${_rcf%.rc}.fio
		FIO_RUNS=$((FIO_RUNS + 1))
		_rc=$(cat "$_rcf")
		if [ "$_rc" != 0 ] || grep 'err=' "$_f" | grep -qv 'err= *0[:,]'; then
			cat "$_f"
		fi
		_fio_check_out "$_f" "$_rc" "$1 run $FIO_RUNS"
		_w=$(_fio_sum "$_f" write.io_kbytes)
		_r=$(_fio_sum "$_f" read.io_kbytes)
		[ "$_r" -ge "$_w" ] || _fail "fio $1: wrote $_w KiB, read back only $_r KiB"
		FIO_VERIFIED_KB=$((FIO_VERIFIED_KB + _w))
	done
	[ $FIO_RUNS -gt 0 ] || _fail "fio $1 never completed a run"
	echo "fio $1: $FIO_RUNS runs, $FIO_VERIFIED_KB KiB written and verified"
}

# _pool_wait_empty GROUP SECS: wait until the pool holds no memory
# (aging frees idle slots); a generous bound, never a measure. Returns
# nonzero if it still holds some after SECS.
_pool_wait_empty() {
	_i=0
	while [ "$(_bounce_stat "$1" bytes)" != 0 ]; do
		[ $_i -ge "$2" ] && return 1
		sleep 1
		_i=$((_i + 1))
	done
	echo "pool of group $1 empty after ${_i}s"
}

# _pool_shrink: ask the iommu-bounce shrinker (CONFIG_SHRINKER_DEBUG) to
# free up to 100000 idle slots of every pool; print how many it freed.
_pool_shrink() {
	_s=$(ls -d /sys/kernel/debug/shrinker/iommu-bounce-* 2>/dev/null | head -n 1)
	[ -n "$_s" ] || { _fail "no iommu-bounce shrinker in debugfs"; return 1; }
	echo "0 0 100000" >"$_s/scan" || { _fail "shrinker scan failed"; return 1; }
}

# _ksym_span NAME...: print "START END" (hex, 0x-prefixed) spanning the
# text of every function NAME (or NAME.suffix, e.g. .constprop.0) found
# in /proc/kallsyms, each from its address to the next text symbol's.
# Nonzero when none is found (e.g. all inlined).
_ksym_span() {
	echo 0 >/proc/sys/kernel/kptr_restrict 2>/dev/null
	_ks=$IOB_STATE/ksyms
	[ -s "$_ks" ] || awk '($2 == "t" || $2 == "T") && $1 ~ /^ffffffff/ { print $1, $3 }' \
		/proc/kallsyms | sort >"$_ks"
	for _fn in "$@"; do
		awk -v f="$_fn" 'p { print s, $1; exit }
			$2 == f || index($2, f ".") == 1 { s = $1; p = 1 }' "$_ks"
	done | sort | awk 'NR == 1 { s = $1 } { e = ($2 > e ? $2 : e) }
		END { if (NR) print "0x" s, "0x" e; else exit 1 }'
}

# _fault_aim NAME START END PROBABILITY TIMES: make fault attribute NAME
# (/sys/kernel/debug/NAME: failslab, fail_page_alloc) fail atomic
# allocations whose call stack runs through [START, END), silently, in
# the tasks marked make-it-fail only (IOB_MAKE_IT_FAIL=1 _fio_bg) and
# never in interrupt context: the stack filter would otherwise also see
# the interrupted task's frames below an interrupt handler's and fail,
# say, the IOMMU driver's unmap request in an NVMe completion.
_fault_aim() {
	_fd=/sys/kernel/debug/$1
	[ -d "$_fd" ] || { _fail "no $_fd"; return 1; }
	{ echo 0 >"$_fd/probability" &&
	  echo 0 >"$_fd/verbose" &&
	  echo 1 >"$_fd/interval" &&
	  echo 0 >"$_fd/space" &&
	  echo Y >"$_fd/task-filter" &&
	  echo 32 >"$_fd/stacktrace-depth" &&
	  echo "$2" >"$_fd/require-start" &&
	  echo "$3" >"$_fd/require-end" &&
	  echo 0 >"$_fd/reject-start" &&
	  echo 0 >"$_fd/reject-end" &&
	  echo "$5" >"$_fd/times" &&
	  if [ -e "$_fd/min-order" ]; then echo 0 >"$_fd/min-order"; fi &&
	  echo "$4" >"$_fd/probability"; } ||
		{ _fail "cannot set up $1"; return 1; }
}

# _fault_reset NAME: back to the boot defaults (nothing injected).
_fault_reset() {
	_fd=/sys/kernel/debug/$1
	echo 0 >"$_fd/probability"
	echo 1 >"$_fd/times"
	echo 0 >"$_fd/require-start"
	echo 0xffffffffffffffff >"$_fd/require-end"
	echo 2 >"$_fd/verbose"
	echo N >"$_fd/task-filter"
	[ -e "$_fd/min-order" ] && echo 1 >"$_fd/min-order"
	return 0
}

# _wait_for SECS CMD ARGS...: run CMD each second until it succeeds;
# nonzero if it still fails after SECS (a generous bound for a slow
# emulator, never a measure). Prints nothing itself.
_wait_for() {
	_wn=$1
	shift
	_wi=0
	until "$@"; do
		[ $_wi -ge "$_wn" ] && return 1
		sleep 1
		_wi=$((_wi + 1))
	done
}

# _stat_above GROUP KEY N: the pool's counter KEY is above N.
_stat_above() {
	[ "$(_bounce_stat "$1" "$2")" -gt "$3" ] 2>/dev/null
}

# _maps_above GROUP N: the pool has made more than N bounced mappings.
_maps_above() {
	_stat_above "$1" maps "$2"
}

# _alive PID: the process runs (a zombie not yet reaped does not count).
_alive() {
	[ -e "/proc/$1/stat" ] && ! grep -q ') Z ' "/proc/$1/stat" 2>/dev/null
}

# _fio_bg_reap NAME SECS: wait up to SECS for the background fio NAME,
# which is expected to end on its own (e.g. its device went away); kill
# it and _fail if it does not. Prints its exit status and last lines.
_fio_bg_reap() {
	if ! _wait_for "$2" eval "! _alive $FIO_PID"; then
		_fail "fio $1 still running $2 s after its device went away"
		kill -9 "$FIO_PID"
	fi
	wait "$FIO_PID"
	echo "fio $1 exited with status $? (an error is expected here); its last lines:"
	grep -v '^3;fio-' "$IOB_STATE/$1.fio" | tail -n 4
}

# _dmesg_check WHAT: _fail if the kernel log has the pool's teardown
# warning about slots still mapped.
_dmesg_check() {
	if dmesg | grep -q 'bounce slots still mapped at teardown'; then
		_fail "$1: $(dmesg | grep 'bounce slots still mapped at teardown' | tail -n 1)"
	fi
}
