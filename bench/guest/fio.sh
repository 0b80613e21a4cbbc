#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# fio.sh [OPTION=VALUE...] WORKLOAD... - guest side of bench/run.sh.
#
# A WORKLOAD is RW:BS (read:4k, randread:4k, write:64k, read:1m); the old
# form "RW BS..." (every size with one rw) is still accepted.
#
# Runs fio on the emulated NVMe's raw block device (O_DIRECT, libaio,
# iodepth 64), once per workload, each run starting with an unmeasured
# warm-up (fio's ramp_time), and writes protocol lines to standard output,
# which the guest's /init connects to the results port (/dev/ttyS1). With
# policies=P1+P2+... and rounds=N it runs, N times over, every workload
# once per policy (strict, bounce-auto, bounce-<bytes>), setting the NVMe
# group's policy in sysfs before each run and starting each workload and
# round with another policy; those runs' FIO lines end with
# "mode=<policy> round=<r>". prime=SEC runs every workload for SEC s,
# unmeasured, before the measured runs (with policies=: a round 0, every
# workload under every policy).
#
#   @@IOB STEP <what>                      a step starts (host progress)
#   @@IOB FIO rw=<rw> bs=<bytes> iops=<n> bytes=<n> busy=<jiffies> hz=<n>
#       one per measured run; bytes from /sys/block/<dev>/stat and busy
#       CPU (/proc/stat user+nice+system+irq+softirq+steal, all CPUs, in
#       USER_HZ ticks) from the end of the warm-up to fio's exit
#   @@IOB POOLT t=<s> phase=<rw-bs|idle> bs=<bytes> pool=<bytes> inflight=<reqs> rqmax=<bytes> tiq=<ms>
#       pool=1: the bounce pool's "bytes", the device's in-flight requests
#       and its time_in_queue (/sys/block/<dev>/stat field 11: request-
#       milliseconds, so its growth over an interval is the mean number of
#       requests in flight), sampled every 0.5 s during a pass over the
#       workloads after the measured runs (WARMUP + RUNTIME s each, not
#       measured) and idle=SEC after it
#   @@IOB PROF rw=<rw> bs=<bytes> set=map|req bytes=<n> func=<f> hits=<n> time_us=<t>
#       profile=SEC: after the measured runs, per workload one fio run
#       under the ftrace function profiler with the dma-iommu map/unmap
#       functions, then one with the IOMMU request functions of reqfuncs=,
#       each counted over SEC seconds (the first after WARMUP s of I/O)
#       between two snapshots of the counters, with the bytes moved in
#       between from /sys/block/<dev>/stat
#   @@IOB POOL <key>=<value>               the pool's debugfs stats at the end
#
# plus "@@IOB KERNEL", "@@IOB CMDLINE" and "@@IOB DEVICE" lines first and
# "@@IOB FIO-DONE count=<n>" last, so the host can tell a complete run from
# one that died half-way. Any failure prints "@@IOB FIO-ERROR <why>" and
# exits non-zero. Progress goes to the console. Options: runtime= warmup=
# iodepth= (RUNTIME, WARMUP, IODEPTH in the environment; defaults 5, 1,
# 64), profile=SEC (0: no profiler pass), reqfuncs=f1+f2 (IOMMU request
# functions to count), pool=0|1, idle=SEC (default 12), policies= and
# rounds= (above), autothr=BYTES (the bounce_threshold a bounce-auto run
# of a policy boot sets; default: the group's when fio.sh starts, the
# boot's), huge=1 (fio's buffers in huge pages: "@@IOB HUGE
# pages=<n> kb=<size>"). DEV overrides the device, to try the script on a
# host. Runs under busybox sh.

RUNTIME=${RUNTIME:-5}
WARMUP=${WARMUP:-1}
IODEPTH=${IODEPTH:-64}
PROFILE=0
REQFUNCS=
POOLT=0
IDLE=12
POLICIES=
ROUNDS=1
PRIME=0
AUTOTHR=
HUGE=0
MAPFUNCS="iommu_dma_map_page iommu_dma_unmap_page iommu_dma_map_sg iommu_dma_unmap_sg"
TR=/sys/kernel/debug/tracing

# Progress to the console when there is one (stdout is the results port).
if [ -w /dev/console ] && [ -z "${DEV:-}" ]; then
	say() { echo "[fio.sh] $*" >/dev/console; }
else
	say() { echo "[fio.sh] $*" >&2; }
fi
proto() { echo "@@IOB $*" || exit 1; say "result: $*"; }
fail() { [ -n "${spid:-}" ] && kill "$spid" 2>/dev/null; proto "FIO-ERROR $*"; say "error: $*"; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	runtime=*) RUNTIME=${1#runtime=} ;;
	warmup=*) WARMUP=${1#warmup=} ;;
	iodepth=*) IODEPTH=${1#iodepth=} ;;
	profile=*) PROFILE=${1#profile=} ;;
	reqfuncs=*) REQFUNCS=$(echo "${1#reqfuncs=}" | tr + ' ') ;;
	pool=*) POOLT=${1#pool=} ;;
	idle=*) IDLE=${1#idle=} ;;
	policies=*) POLICIES=$(echo "${1#policies=}" | tr + ' ') ;;
	rounds=*) ROUNDS=${1#rounds=} ;;
	prime=*) PRIME=${1#prime=} ;;
	autothr=*) AUTOTHR=${1#autothr=} ;;
	huge=*) HUGE=${1#huge=} ;;
	*) break ;;
	esac
	shift
done
[ $# -ge 1 ] || fail "usage: fio.sh [runtime=SEC] [warmup=SEC] [profile=SEC] RW:BS..."
# Old form: RW BS...
case $1 in
*:*) workloads="$*" ;;
*) rw=$1; shift; workloads=; for b in "$@"; do workloads="$workloads $rw:$b"; done ;;
esac
[ -n "$workloads" ] || fail "no workload given"

# to_bytes 4k -> 4096 (fio's binary suffixes: k, m; case-insensitive)
to_bytes() {
	case $1 in
	*[kK]) echo $(( ${1%?} * 1024 )) ;;
	*[mM]) echo $(( ${1%?} * 1048576 )) ;;
	*[!0-9]*|'') return 1 ;;
	*) echo "$1" ;;
	esac
}
for w in $workloads; do
	case ${w%%:*} in
	read|write|randread|randwrite|rw|readwrite|randrw) ;;
	*) fail "unknown rw in '$w' (accepted: read write randread randwrite rw readwrite randrw)" ;;
	esac
	to_bytes "${w#*:}" >/dev/null || fail "bad block size in '$w'"
done

proto "KERNEL $(uname -srvm)"
proto "CMDLINE $(cat /proc/cmdline)"

# The namespace appears when the nvme driver's asynchronous probe is done,
# well under a second after boot here. Once (1 boot in 101) it had not
# appeared after 10 s; the console's log level hid why. So wait as long
# as the nvme driver's admin command timeout (60 s) and a little more, and
# whenever we had to wait, put the kernel's NVMe lines in the results.
NVME_WAIT=75
dev=${DEV:-}
waited=0
[ -n "$dev" ] || while :; do
	for b in /sys/block/nvme*n1; do
		[ -e "$b" ] && dev=/dev/${b##*/} && break
	done
	[ -n "$dev" ] && [ -b "$dev" ] && break
	dev=
	[ "$waited" -lt "$NVME_WAIT" ] || break
	waited=$(( waited + 1 ))
	[ $(( waited % 10 )) -eq 1 ] && say "waiting for the NVMe namespace (${waited}s)"
	sleep 1
done
if [ "$waited" -gt 0 ]; then
	proto "NVME-WAIT seconds=$waited"
	dmesg | grep -i -e nvme -e smmu | tail -n 20 | while read -r l; do proto "NVME-DMESG $l"; done
fi
[ -n "$dev" ] || fail "no NVMe namespace in /sys/block after ${NVME_WAIT}s (nvme driver bound?)"
[ -b "$dev" ] || fail "$dev is not a block device"
blk=/sys/block/${dev#/dev/}
sectors=$(cat $blk/size)
size=$(( sectors * 512 ))
[ "$size" -gt 0 ] || size=$(( 512 * 1048576 ))
group=$(basename "$(readlink $blk/device/device/iommu_group 2>/dev/null)" 2>/dev/null)
gtype=$(cat /sys/kernel/iommu_groups/$group/type 2>/dev/null)
stats=/sys/kernel/debug/iommu-bounce/group$group/stats
rqmax=$(( $(cat $blk/queue/max_sectors_kb 2>/dev/null || echo 0) * 1024 ))
ncpu=$(grep -c '^processor' /proc/cpuinfo)
say "device $dev, $size bytes, iommu group ${group:-none} (${gtype:-no domain})"
proto "DEVICE dev=$dev size=$size group=${group:-none} type=${gtype:-none} rqmax=$rqmax cpus=$ncpu"

# busy_ticks: CPU time not idle, all CPUs, in USER_HZ ticks (/proc/stat)
busy_ticks() {
	read -r _ u n s _ _ i si st _ </proc/stat
	echo $(( u + n + s + i + si + st ))
}
# dev_bytes: bytes read + written on the device so far (/sys/block/*/stat)
dev_bytes() {
	read -r _ _ rs _ _ _ ws _ <$blk/stat
	echo $(( (rs + ws) * 512 ))
}
# phase NAME BYTES: what the sampler labels its samples with (atomic)
phase() { echo "$1 $2" >/tmp/iob-phase.new && mv /tmp/iob-phase.new /tmp/iob-phase; }
# wait_io: return once the device moves data (fio has started its I/O),
# at most 30 s
wait_io() {
	w0=$(dev_bytes)
	i=0
	while [ "$(dev_bytes)" = "$w0" ] && [ $i -lt 300 ]; do
		sleep 0.1
		i=$(( i + 1 ))
	done
}

# The pool sampler: every 0.5 s the pool's "bytes" and the device's
# in-flight requests, shell builtins only (one sleep a sample) so that it
# costs the measured runs next to nothing.
sampler() {
	read -r t0 _ </proc/uptime
	while [ ! -e /tmp/iob-stop ]; do
		read -r up _ </proc/uptime
		ph= pbs=
		read -r ph pbs </tmp/iob-phase
		read -r ir iw <$blk/inflight
		read -r _ _ _ _ _ _ _ _ _ _ tiq _ <$blk/stat
		pool=0
		while read -r k v; do
			[ "$k" = bytes: ] && { pool=$v; break; }
		done <"$stats"
		echo "$up ${ph:-unknown} ${pbs:-0} ${pool:-0} $(( ir + iw )) $tiq" >>/tmp/poolt
		sleep 0.5
	done
	echo "$t0" >/tmp/poolt.t0
}

common="--filename=$dev --direct=1 --ioengine=libaio --iodepth=$IODEPTH --size=$size --name=b --output-format=json"
# huge=1: fio's buffers in huge pages (SysV shm, SHM_HUGETLB), so that every
# I/O is one physically contiguous run and costs the IOMMU path the same
# number of requests in every run; in small pages that number follows the
# guest's memory layout, which differs from run to run.
if [ "$HUGE" = 1 ]; then
	maxbs=0
	for w in $workloads; do
		b=$(to_bytes "${w#*:}")
		[ "$b" -gt "$maxbs" ] && maxbs=$b
	done
	hp=$(sed -n 's/^Hugepagesize: *\([0-9]*\) kB$/\1/p' /proc/meminfo)
	[ -n "$hp" ] || fail "huge=1 but no huge pages (CONFIG_HUGETLBFS?)"
	# fio's buffer: iodepth blocks of the largest size, plus alignment.
	# fio rounds it up to its hugepage-size, 4 MiB unless told (on
	# arm64 too, where the kernel's are 2 MiB): it is told the kernel's.
	need=$(( IODEPTH * maxbs / (hp * 1024) + 2 ))
	echo "$need" >/proc/sys/vm/nr_hugepages
	got=$(cat /proc/sys/vm/nr_hugepages)
	[ "$got" -ge "$need" ] || fail "huge=1: got $got huge pages of ${hp} kB, need $need"
	say "fio buffers in huge pages: $got of ${hp} kB"
	proto "HUGE pages=$got kb=$hp"
	common="$common --mem=shmhuge --hugepage-size=${hp}k"
fi
# runfio RW BYTES RAMP SECONDS OUT: one fio run of RAMP s unmeasured
# (fio's ramp_time) then SECONDS measured, JSON output in OUT
runfio() {
	fio $common --rw="$1" --bs="$2" --ramp_time="$3" --runtime="$4" --time_based \
		>"$5" 2>/tmp/fio.err ||
		{ cat "$5" /tmp/fio.err >&2; fail "fio exited non-zero for rw=$1 bs=$2"; }
}

spid=
[ "$POOLT" = 1 ] && [ ! -r "$stats" ] && fail "pool=1 but no bounce pool stats at $stats"

# pool_stat KEY: a value of the pool's stats, empty without a pool
pool_stat() { [ -r "$stats" ] && sed -n "s/^$1: //p" "$stats"; }

# measure RW:BS [TAG]: one measured fio run and its "@@IOB FIO" line;
# TAG (" mode=.. round=..") is appended to it
measure() {
	rw=${1%%:*} bytes=$(to_bytes "${1#*:}") tag=${2:-}
	phase "$rw-$bytes" "$bytes"
	proto "STEP fio rw=$rw bs=$bytes$tag"
	say "rw=$rw bs=$bytes$tag: warm-up ${WARMUP}s, measuring ${RUNTIME}s"
	# CPU and bytes from the end of the warm-up (fio's start-up done and
	# I/O going for WARMUP s) to the end of fio: about fio's window.
	runfio "$rw" "$bytes" "$WARMUP" "$RUNTIME" /tmp/fio.out &
	fpid=$!
	wait_io
	sleep "$WARMUP"
	c0=$(busy_ticks); b0=$(dev_bytes)
	wait "$fpid" || fail "fio failed for $rw:$bytes$tag"
	c1=$(busy_ticks); b1=$(dev_bytes)
	# fio's JSON, one job: its error and IOPS (read + write, rounded)
	awk -f /lib/iob/fio-json.awk /tmp/fio.out >/tmp/fio.flat ||
		{ cat /tmp/fio.out /tmp/fio.err >&2; fail "fio's JSON for $rw:$bytes$tag not understood"; }
	err=$(sed -n 's/^jobs\.0\.error //p' /tmp/fio.flat)
	[ -n "$err" ] || { cat /tmp/fio.out /tmp/fio.err >&2; fail "no job in fio's JSON for $rw:$bytes$tag"; }
	riops=$(awk '$1 == "jobs.0.read.iops" { printf "%.0f", $2 }' /tmp/fio.flat)
	wiops=$(awk '$1 == "jobs.0.write.iops" { printf "%.0f", $2 }' /tmp/fio.flat)
	[ "$err" = 0 ] || fail "fio reported error $err for $rw:$bytes$tag"
	iops=$(( riops + wiops ))
	[ "$iops" -gt 0 ] || fail "fio measured 0 IOPS for $rw:$bytes$tag"
	[ -s /tmp/fio.err ] && { say "fio stderr:"; cat /tmp/fio.err >&2; }
	proto "FIO rw=$rw bs=$bytes iops=$iops bytes=$(( b1 - b0 )) busy=$(( c1 - c0 )) hz=100$tag"
	n=$(( n + 1 ))
}

# prime RW:BS [POLICY]: one unmeasured run of PRIME s. The first run of a
# workload after boot is slow whatever the policy (seen: 13.6k against
# 18.5k IOPS at read 16k under strict); with policies= it would always
# hit the policy that happens to open that workload in round 1.
prime() {
	proto "STEP prime rw=${1%%:*} bs=$(to_bytes "${1#*:}")${2:+ mode=$2}"
	runfio "${1%%:*}" "$(to_bytes "${1#*:}")" 0 "$PRIME" /tmp/fio.out
}

# set_threshold BYTES: the NVMe group's bounce_threshold, read back
set_threshold() {
	echo "$1" >"$gdir/bounce_threshold" ||
		fail "cannot set $gdir/bounce_threshold to $1"
	[ "$(cat "$gdir/bounce_threshold")" = "$1" ] ||
		fail "$gdir/bounce_threshold reads $(cat "$gdir/bounce_threshold"), not $1"
}

# set_policy POLICY: the NVMe group's bounce policy, as bench/run.sh names
# it (strict: off; bounce-auto: auto with the threshold AUTOTHR, since auto
# bounces up to bounce_threshold where invalidations are costly and a
# bounce-<bytes> run before it left its own; bounce-<bytes>: on, that
# threshold), read back from sysfs
set_policy() {
	case $1 in
	strict) val=0 want=off ;;
	bounce-auto) val=auto want=auto; set_threshold "$AUTOTHR" ;;
	bounce-[1-9]*) val=1 want=on; set_threshold "${1#bounce-}" ;;
	*) fail "unknown policy '$1' (accepted: strict bounce-auto bounce-<bytes>)" ;;
	esac
	echo "$val" >"$gdir/bounce" ||
		fail "cannot set $gdir/bounce for $1"
	[ "$(cat "$gdir/bounce")" = "$want" ] ||
		fail "$gdir/bounce reads $(cat "$gdir/bounce"), not $want, for $1"
	# Free the idle slots of the run before (the pool's shrinker), so that
	# no run pays for the aging of another policy's slots
	echo 2 >/proc/sys/vm/drop_caches || fail "cannot drop caches"
}

n=0
if [ -n "$POLICIES" ]; then
	gdir=/sys/kernel/iommu_groups/$group
	[ -w "$gdir/bounce" ] || fail "policies= but no writable $gdir/bounce"
	[ -n "$AUTOTHR" ] || AUTOTHR=$(cat "$gdir/bounce_threshold") ||
		fail "cannot read $gdir/bounce_threshold"
	case $AUTOTHR in
	'' | *[!0-9]*) fail "bad autothr= or bounce_threshold: '$AUTOTHR'" ;;
	esac
	set -- $POLICIES
	np=$#
	# Round 0: every workload primed under every policy
	r=$([ "$PRIME" -gt 0 ] && echo 0 || echo 1)
	while [ "$r" -le "$ROUNDS" ]; do
		j=0
		for w in $workloads; do
			# Each workload and round starts at another policy, so
			# none always runs first or always follows the same one
			k=0
			while [ "$k" -lt "$np" ]; do
				i=$(( (r + np - 1 + j + k) % np + 1 ))
				eval "p=\${$i}"
				set_policy "$p"
				if [ "$r" = 0 ]; then
					prime "$w" "$p"
				else
					measure "$w" " mode=$p round=$r"
				fi
				k=$(( k + 1 ))
			done
			j=$(( j + 1 ))
		done
		r=$(( r + 1 ))
	done
else
	[ "$PRIME" -gt 0 ] && for w in $workloads; do
		prime "$w"
	done
	for w in $workloads; do
		measure "$w"
	done
fi

# The pool pass: every workload once more, unmeasured, with the sampler
# on. Sampling during the measured runs would slow only the modes that
# are sampled, against the ones they are compared with.
if [ "$POOLT" = 1 ]; then
	# Start from an empty pool: the shrinker frees the measured runs' slots
	echo 2 >/proc/sys/vm/drop_caches || fail "cannot drop caches"
	rm -f /tmp/poolt /tmp/iob-stop
	phase start 0
	sampler &
	spid=$!
	for w in $workloads; do
		rw=${w%%:*} bytes=$(to_bytes "${w#*:}")
		phase "$rw-$bytes" "$bytes"
		proto "STEP pool pass rw=$rw bs=$bytes"
		runfio "$rw" "$bytes" "$WARMUP" "$RUNTIME" /tmp/fio.out
	done
fi

if [ -n "$spid" ]; then
	phase idle 0
	proto "STEP pool idle ${IDLE}s"
	sleep "$IDLE"
	: >/tmp/iob-stop
	wait "$spid"
	spid=
	read -r t0 </tmp/poolt.t0
	while read -r up ph pbs pool infl tiq; do
		# t in seconds with two decimals, from /proc/uptime's centiseconds
		cs=$(( ${up%.*}${up#*.} - ${t0%.*}${t0#*.} ))
		t=$(( cs / 100 )).$(( cs % 100 / 10 ))$(( cs % 10 ))
		echo "@@IOB POOLT t=$t phase=$ph bs=$pbs pool=$pool inflight=$infl rqmax=$rqmax tiq=$tiq"
	done </tmp/poolt
	say "pool samples: $(wc -l </tmp/poolt)"
fi

# prof_filter, prof_snap
# shellcheck source=prof.sh
. "$(dirname "$0")/prof.sh"
# prof_run SET SKIP FUNC...: one fio run with the profiler on FUNC...;
# counted are the PROFILE s that follow the first SKIP s of I/O (between
# two snapshots, with the bytes the device moved in between). The filter
# is changed and the profiler switched on and off only while no I/O runs:
# that patches the traced functions' code, and doing it while another
# vCPU runs them has crashed TCG guests ("Oops: int3").
prof_run() {
	p_set=$1 p_skip=$2
	shift 2
	prof_filter "$@"
	echo 1 >$TR/function_profile_enabled || fail "cannot enable the function profiler"
	fio $common --rw="$rw" --bs="$bytes" --runtime=$(( p_skip + PROFILE + 60 )) --time_based \
		>/tmp/prof.out 2>&1 &
	fpid=$!
	wait_io
	[ "$p_skip" = 0 ] || sleep "$p_skip"
	prof_snap /tmp/prof.0; b0=$(dev_bytes)
	sleep "$PROFILE"
	prof_snap /tmp/prof.1; b1=$(dev_bytes)
	kill -0 "$fpid" 2>/dev/null || { cat /tmp/prof.out >&2; fail "fio ended early in the profiler pass for $rw:$bytes"; }
	kill -INT "$fpid"	# fio stops its I/O and exits
	wait "$fpid"
	echo 0 >$TR/function_profile_enabled
	for f in "$@"; do
		set -- $(grep "^$f " /tmp/prof.0) ; h0=${2:-0} t0=${3:-0}
		set -- $(grep "^$f " /tmp/prof.1) ; h1=${2:-0} t1=${3:-0}
		echo "@@IOB PROF rw=$rw bs=$bytes set=$p_set bytes=$(( b1 - b0 )) func=$f" \
		     "hits=$(( h1 - h0 )) time_us=$(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }")"
	done
}

if [ "$PROFILE" != 0 ]; then
	[ -w $TR/function_profile_enabled ] || fail "no function profiler ($TR/function_profile_enabled)"
	[ -n "$REQFUNCS" ] || fail "profile= needs reqfuncs="
	echo nop >$TR/current_tracer
	# Inclusive times: graph-time on (a function's time includes what it
	# calls), sleep-time off (time scheduled out is not counted).
	echo 1 >$TR/options/graph-time 2>/dev/null || say "no graph-time option"
	echo 0 >$TR/options/sleep-time 2>/dev/null || say "no sleep-time option"
	for w in $workloads; do
		rw=${w%%:*}
		bytes=$(to_bytes "${w#*:}")
		proto "STEP profile rw=$rw bs=$bytes"
		# Steady state: WARMUP s of I/O before the map/unmap window (the
		# pool grows), and the request window follows at once (the pool
		# ages slots only after 5 s idle).
		prof_run map "$WARMUP" $MAPFUNCS
		prof_run req 0 $REQFUNCS
	done
	: >$TR/set_ftrace_filter
fi

# The bounce pool's counters, when the NVMe's domain has one: they show
# whether the pool really served the run (maps, fallbacks, memory held)
# and what auto decides on (costly_flush: the IOMMU driver says its
# invalidations are costly, so auto bounces up to the threshold).
if [ -r "$stats" ]; then
	while read -r key val; do
		proto "POOL ${key%:}=$val"
	done <"$stats"
fi
proto "FIO-DONE count=$n"
