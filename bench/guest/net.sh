#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# net.sh [OPTION=VALUE...] - guest side of bench/run.sh's NIC bench.
#
# The guest has two NICs of one model on a QEMU hub of their own
# (testbed/qemu.sh --devices MODEL); /tests/common/net.sh puts the second
# in a network namespace (169.254.10.1 here, 169.254.10.2 there), so all
# traffic crosses both NICs and both IOMMU groups. A sockperf server and
# an iperf3 server run in the namespace; the clients run here.
#
# All modes are measured in this one boot, switched at run time in both
# NICs' groups, so that they meet the same guest memory layout and host
# load seconds apart:
#   strict       group type DMA, bounce off
#   lazy         group type DMA-FQ, bounce off
#   passthrough  group type identity (no pool)
#   bounce       group type DMA, bounce on, bounce_threshold=THRESHOLD
#   auto         group type DMA, bounce auto
# A type change needs the group's devices unbound: both NICs are unbound,
# the types written, the NICs bound again and the pair set up anew. After
# every switch the pool's idle slots are dropped (vm.drop_caches=2, the
# pool's shrinker), so that no mode pays for the aging of another's.
#
# Round 0 (prime=SEC > 0) runs every test for SEC s under every mode,
# unmeasured: the first runs after boot are slow whatever the mode. Then
# ROUNDS measured rounds; round r runs the modes rotated by r and, every
# other round, in reverse, so that each round starts with another mode and
# no mode always follows the same one. In each round every mode runs, after
# an unmeasured 64 B ping-pong of WARMUP s, every test once:
#   rr:SIZE  sockperf ping-pong over TCP with SIZE-byte messages, RUNTIME s:
#            transactions/s = ReceivedMessages / RunTime of sockperf's
#            "[Valid Duration]" line (sockperf leaves out its own 400 ms
#            warm-up there)
#   stream   iperf3 TCP, default MSS, here -> namespace, RUNTIME s after
#            1 s omitted (slow start): Mbit/s received ("sum_received")
# Then (profile=SEC) an unmeasured pass: per mode and test one run under
# the ftrace function profiler counting the IOMMU request functions of
# reqfuncs=, over SEC s between two snapshots, with the packets both NICs
# sent and received in the same window (/proc/net/dev of each namespace:
# the second NIC's /sys/class/net entry is only visible in its namespace).
# Then, per mode of pool= (bounce, auto), one stream of POOLSECS s into the
# second NIC, sampling its group's pool "bytes" every second.
#
# Protocol lines on standard output (the results port):
#   @@IOB KERNEL <uname>, @@IOB CMDLINE <cmdline>     first
#   @@IOB NETDEV nic=<model> pci_a= pci_b= grp_a= grp_b= if_a= if_b= mtu=
#   @@IOB STEP <what>                                  host progress
#   @@IOB NETORDER round=<r> modes=<m1+m2+...>         each round's order
#   @@IOB NETMODE mode=<m> round=<r> type_a= type_b= bounce_a= bounce_b=
#       after each switch, read back from sysfs (bounce none: no pool)
#   @@IOB NET mode=<m> round=<r> test=rr size=<bytes> rate=<trans/s> unit=tps valid_s=<s> msgs=<n> total_s=<s> lat_us=<sockperf avg-latency>
#   @@IOB NET mode=<m> round=<r> test=stream size=<mtu> rate=<Mbit/s> unit=mbps bytes=<n> secs=<s>
#       one per measured run
#   @@IOB NETMAPS mode=<m> round=<r> maps_a= maps_b= fallbacks_a= fallbacks_b=
#       mappings the two pools served and fell back on during the mode's
#       measured runs of the round (warm-up included; "none": no pool)
#   @@IOB NETPROF mode=<m> test=<rr|stream> size=<n> secs=<s> packets=<n> func=<f> hits=<n>
#   @@IOB NETCOPY mode=<m> test=<rr|stream> size=<n> packets=<n> maps=<n> bytes=<n>
#       the same window: mappings both pools bounced and their bytes
#       ("none": no pool)
#   @@IOB NETPOOL mode=<m> t=<s> bytes=<n> maps=<n>    one per second
#   @@IOB NETPOOLRUN mode=<m> group=<g> secs=<n> mbps=<received Mbit/s>
#   @@IOB NET-DONE count=<number of NET lines>         last
# Any failure prints "@@IOB NET-ERROR <why>" and exits non-zero: no
# number is ever guessed. Progress goes to the console. Options: nic=
# (virtio-net, e1000e), modes=m1+m2, rounds=, runtime=, warmup=, prime=,
# tests=rr:64+rr:1024+stream, threshold=, profile=SEC (0: none),
# reqfuncs=f1+f2, pool=bounce+auto, poolsecs=, cpus=C+S (pin the
# clients to CPU C and the servers to CPU S). Runs under busybox sh.

NIC=virtio-net
MODES="strict lazy passthrough bounce auto"
ROUNDS=5
RUNTIME=2
WARMUP=1
PRIME=0
TESTS="rr:64 rr:1024 stream"
THRESHOLD=131072
PROFILE=0
REQFUNCS=
POOLMODES=
POOLSECS=60
CPUS=
SUBNET=10	# 169.254.10.0/24: the NIC tests use 1 and 2
OMIT=1		# seconds of each stream iperf3 leaves out (TCP slow start)
SPORT=11111	# sockperf's default port
IPORT=5201	# iperf3's default port
TR=/sys/kernel/debug/tracing

# Progress to the console when there is one (stdout is the results port);
# the helpers' chatter goes there too, on fd 4.
if [ -w /dev/console ]; then exec 4>/dev/console; else exec 4>&2; fi
say() { echo "[net.sh] $*" >&4; }
proto() { echo "@@IOB $*" || exit 1; say "result: $*"; }

SRV_SP='' SRV_IP='' CPID='' PROF_ON=''
# cleanup: stop what runs in the background and the namespace, so that a
# failed run ends at once instead of at the host's timeout
cleanup() {
	for p in $CPID $SRV_SP $SRV_IP; do kill "$p" 2>/dev/null; done
	if [ -n "$PROF_ON" ]; then
		sleep 1
		echo 0 >$TR/function_profile_enabled
	fi
	command -v _net_unpair >/dev/null && _net_unpair
}
# fail WHY: the error line, then exit. Never called inside $(...), where it
# would only leave the subshell: functions that may fail set variables.
fail() { cleanup; proto "NET-ERROR $*"; say "error: $*"; exit 1; }

isint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }
# in_words WORD LIST: WORD is one of the words of LIST
in_words() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }

for a in "$@"; do
	case $a in
	nic=*) NIC=${a#nic=} ;;
	modes=*) MODES=$(echo "${a#modes=}" | tr + ' ') ;;
	rounds=*) ROUNDS=${a#rounds=} ;;
	runtime=*) RUNTIME=${a#runtime=} ;;
	warmup=*) WARMUP=${a#warmup=} ;;
	prime=*) PRIME=${a#prime=} ;;
	tests=*) TESTS=$(echo "${a#tests=}" | tr + ' ') ;;
	threshold=*) THRESHOLD=${a#threshold=} ;;
	profile=*) PROFILE=${a#profile=} ;;
	reqfuncs=*) REQFUNCS=$(echo "${a#reqfuncs=}" | tr + ' ') ;;
	pool=*) POOLMODES=$(echo "${a#pool=}" | tr + ' ') ;;
	poolsecs=*) POOLSECS=${a#poolsecs=} ;;
	cpus=*) CPUS=${a#cpus=} ;;
	*) fail "unknown argument '$a' (accepted: nic= modes= rounds= runtime= warmup= prime= tests= threshold= profile= reqfuncs= pool= poolsecs= cpus=)" ;;
	esac
done

proto "KERNEL $(uname -srvm)"
proto "CMDLINE $(cat /proc/cmdline)"

in_words "$NIC" "e1000e virtio-net" || fail "unknown nic '$NIC' (accepted: e1000e virtio-net)"
[ -n "$MODES" ] || fail "no mode given"
for m in $MODES; do
	in_words "$m" "strict lazy passthrough bounce auto" ||
		fail "unknown mode '$m' (accepted: strict lazy passthrough bounce auto)"
done
for m in $POOLMODES; do
	in_words "$m" "bounce auto" || fail "unknown pool mode '$m' (accepted: bounce auto)"
done
[ -n "$TESTS" ] || fail "no test given"
for t in $TESTS; do
	case $t in
	stream) ;;
	rr:*) if ! isint "${t#rr:}" || [ "${t#rr:}" -lt 14 ] || [ "${t#rr:}" -gt 65536 ]; then
		fail "bad message size in '$t' (sockperf takes 14..65536 bytes)"
	      fi ;;
	*) fail "unknown test '$t' (accepted: rr:<bytes> stream)" ;;
	esac
done
# posint NAME VALUE, secs NAME VALUE: fail unless VALUE is a positive
# integer, a number of seconds (0 included)
posint() { if ! isint "$2" || [ "$2" -eq 0 ]; then fail "$1 must be a positive integer, not '$2'"; fi; }
secs() { isint "$2" || fail "$1 must be a number of seconds, not '$2'"; }
posint rounds "$ROUNDS"
posint runtime "$RUNTIME"
posint poolsecs "$POOLSECS"
posint threshold "$THRESHOLD"
secs warmup "$WARMUP"
secs prime "$PRIME"
secs profile "$PROFILE"
[ "$THRESHOLD" -le 131072 ] || fail "threshold $THRESHOLD is above the largest slot (131072)"
[ "$PROFILE" = 0 ] || [ -n "$REQFUNCS" ] || fail "profile= needs reqfuncs="
# cpus=C+S: every client on CPU C, the servers on CPU S (taskset). Left to
# the scheduler, the two ends of a ping-pong share a vCPU in one run and
# not in the next, and under TCG that moves its rate more than the modes
# do. PIN_C and PIN_S are command prefixes, split into words on purpose.
PIN_C='' PIN_S=''
if [ -n "$CPUS" ]; then
	ncpu=$(grep -c '^processor' /proc/cpuinfo)
	pc=${CPUS%%+*} ps=${CPUS#*+}
	if [ "$CPUS" != "$pc+$ps" ] || ! isint "$pc" || ! isint "$ps" ||
	   [ "$pc" -ge "$ncpu" ] || [ "$ps" -ge "$ncpu" ]; then
		fail "cpus= takes CLIENT+SERVER, two CPU numbers below $ncpu, not '$CPUS'"
	fi
	PIN_C="taskset -c $pc" PIN_S="taskset -c $ps"
fi

for t in sockperf iperf3 nsenter unshare ip ping timeout awk mktemp ${CPUS:+taskset}; do
	command -v $t >/dev/null || fail "$t is not in the guest image"
done
# The test bed's NIC helpers (_net_pair, _net_ns, _net_unpair,
# _nic_ifaces, _bounce_mode) call _fail, which records in $IOB_STATE/fail
IOB_STATE=$(mktemp -d) || fail "mktemp -d failed"
export IOB_STATE
for f in guest.sh bounce.sh net.sh; do
	[ -r /tests/common/$f ] || fail "/tests/common/$f missing from the guest image"
done
# shellcheck source=/dev/null
. /tests/common/guest.sh
# shellcheck source=/dev/null
. /tests/common/bounce.sh
# shellcheck source=/dev/null
. /tests/common/net.sh
# helper_ok WHAT: fail if a helper recorded a failure
helper_ok() {
	[ -s "$IOB_STATE/fail" ] && fail "$1: $(head -n 1 "$IOB_STATE/fail")"
	return 0
}

# find_ifaces: IF_A and IF_B, the two NICs' interfaces, in the order
# _net_pair takes them (both still in this namespace)
find_ifaces() {
	l=$(_nic_ifaces "$NIC") || { helper_ok "$NIC interfaces"; fail "no $NIC interfaces"; }
	IF_A=$(echo "$l" | sed -n '1s/.* //p')
	IF_B=$(echo "$l" | sed -n '2s/.* //p')
	[ -n "$IF_A" ] || fail "no $NIC interface found"
	[ -n "$IF_B" ] || fail "expected two $NIC interfaces, found: $l"
}

# wait_listen PORT NAME PID LOG: wait until the server NAME (PID) listens
# on TCP PORT in the namespace (/proc/net/tcp there: state 0A)
wait_listen() {
	hex=$(printf '%04X' "$1")
	i=0
	while :; do
		kill -0 "$3" 2>/dev/null || fail "$2 server exited: $(tail -n 3 "$4" | tr '\n' ' ')"
		nsenter -t "$NET_PID" -n cat /proc/net/tcp |
			awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 }
				END { exit !f }' && return 0
		i=$((i + 1))
		[ $i -lt 100 ] || fail "$2 server not listening on port $1 after 20 s"
		sleep 0.2
	done
}

# Servers in the namespace, bound to its address. nsenter execs the
# server, so $! is the server's own pid.
start_servers() {
	nsenter -t "$NET_PID" -n $PIN_S sockperf sr --tcp -i "$NET_B" -p "$SPORT" \
		>"$IOB_STATE/sockperf-sr.log" 2>&1 &
	SRV_SP=$!
	nsenter -t "$NET_PID" -n $PIN_S iperf3 -s -B "$NET_B" -p "$IPORT" \
		>"$IOB_STATE/iperf3-s.log" 2>&1 &
	SRV_IP=$!
	wait_listen "$SPORT" sockperf "$SRV_SP" "$IOB_STATE/sockperf-sr.log"
	wait_listen "$IPORT" iperf3 "$SRV_IP" "$IOB_STATE/iperf3-s.log"
}

stop_servers() {
	for p in $SRV_SP $SRV_IP; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	SRV_SP='' SRV_IP=''
}

# pair: the two NICs as two hosts, and the servers
pair() {
	find_ifaces
	_net_pair "$NIC" "$SUBNET" >&4 2>&1 || { helper_ok "pairing the $NIC NICs"; fail "cannot pair the $NIC NICs"; }
	helper_ok "pairing the $NIC NICs"
	if [ -z "${NET_PID:-}" ] || [ -z "${NET_GRP_A:-}" ] || [ -z "${NET_GRP_B:-}" ]; then
		fail "_net_pair set no namespace or IOMMU groups"
	fi
	start_servers
}

# drv_of PCI: DRV, the driver bound to PCI
drv_of() {
	d=$(readlink "/sys/bus/pci/devices/$1/driver") || fail "no driver bound to $1"
	DRV=${d##*/}
}

# retype TYPE: give both NICs' groups a default domain of TYPE: the
# devices must be unbound while the type changes (virtio-pci for
# virtio-net, e1000e for e1000e), so the pair is set up again after.
retype() {
	say "groups $NET_GRP_A and $NET_GRP_B -> $1 (unbind, write the type, bind)"
	stop_servers
	drv_of "$NET_PCI_A"; DRV_A=$DRV
	drv_of "$NET_PCI_B"; DRV_B=$DRV
	echo "$NET_PCI_A" >"/sys/bus/pci/drivers/$DRV_A/unbind" || fail "cannot unbind $NET_PCI_A from $DRV_A"
	echo "$NET_PCI_B" >"/sys/bus/pci/drivers/$DRV_B/unbind" || fail "cannot unbind $NET_PCI_B from $DRV_B"
	_net_unpair
	for g in "$NET_GRP_A" "$NET_GRP_B"; do
		# both NICs may share a group: write each type once
		[ "$(_group_type "$g")" = "$1" ] && continue
		echo "$1" >"/sys/kernel/iommu_groups/$g/type" || fail "cannot write $1 to group $g's type"
	done
	echo "$NET_PCI_A" >"/sys/bus/pci/drivers/$DRV_A/bind" || fail "cannot bind $NET_PCI_A to $DRV_A"
	echo "$NET_PCI_B" >"/sys/bus/pci/drivers/$DRV_B/bind" || fail "cannot bind $NET_PCI_B to $DRV_B"
	_net_wait_ifaces "$NET_PCI_A" "$NET_PCI_B" ||
		fail "the $NIC NICs have no network interfaces 30 s after binding"
	pair
}

# stats_of GROUP: SF, the stats file of the group's pool. A new default
# domain may get "group<id>.<n>" while the old one still has "group<id>":
# wait until exactly one is left.
stats_of() {
	i=0
	while :; do
		n=0 SF=
		for d in "/sys/kernel/debug/iommu-bounce/group$1" "/sys/kernel/debug/iommu-bounce/group$1".*; do
			[ -r "$d/stats" ] && { SF=$d/stats; n=$((n + 1)); }
		done
		[ $n = 1 ] && return 0
		i=$((i + 1))
		[ $i -lt 50 ] || fail "group $1 has $n pool stats files under /sys/kernel/debug/iommu-bounce, expected one"
		sleep 0.1
	done
}

# pool_get FILE: PG_MAPS, PG_FB (all fallbacks) and PG_BYTES (the bytes
# of the mappings it bounced) of a pool's stats; "none" when FILE is empty
# (no pool: identity)
pool_get() {
	PG_MAPS=none PG_FB=none PG_BYTES=none
	[ -n "$1" ] || return 0
	v=$(awk -F': ' '$1 == "maps" { m = $2; hm = 1 } $1 == "bytes_bounced" { b = $2; hb = 1 }
		$1 ~ /^fallback_/ { f += $2 }
		END { if (!hm || !hb) exit 1; printf "%d %d %d\n", m, f, b }' "$1") ||
		fail "no maps: or bytes_bounced: line in $1"
	read -r PG_MAPS PG_FB PG_BYTES <<EOF
$v
EOF
}
# pools_get: PM, PB: the maps and bytes_bounced of both pools together
# ("none" without pools)
pools_get() {
	pool_get "$STATS_A"
	PM=$PG_MAPS PB=$PG_BYTES
	pool_get "$STATS_B"
	[ "$PM" = none ] || { PM=$((PM + PG_MAPS)); PB=$((PB + PG_BYTES)); }
}

# set_mode MODE: both groups in MODE (see the top), read back from sysfs
set_mode() {
	MODE=$1
	case $1 in
	strict) want=DMA pol=off ;;
	lazy) want=DMA-FQ pol=off ;;
	passthrough) want=identity pol= ;;
	bounce) want=DMA pol=on ;;
	auto) want=DMA pol=auto ;;
	esac
	if [ "$(_group_type "$NET_GRP_A")" != "$want" ] || [ "$(_group_type "$NET_GRP_B")" != "$want" ]; then
		retype "$want"
	fi
	if [ -n "$pol" ]; then
		_bounce_mode "$NET_GRP_A" "$pol" "$THRESHOLD" >&4 2>&1
		_bounce_mode "$NET_GRP_B" "$pol" "$THRESHOLD" >&4 2>&1
		helper_ok "mode $1"
	fi
	echo 2 >/proc/sys/vm/drop_caches || fail "cannot drop caches"
	ta=$(_group_type "$NET_GRP_A") tb=$(_group_type "$NET_GRP_B")
	ba=$(cat "/sys/kernel/iommu_groups/$NET_GRP_A/bounce" 2>/dev/null) || ba=none
	bb=$(cat "/sys/kernel/iommu_groups/$NET_GRP_B/bounce" 2>/dev/null) || bb=none
	if [ "$ta" != "$want" ] || [ "$tb" != "$want" ]; then
		fail "mode $1: groups $NET_GRP_A and $NET_GRP_B are of type $ta and $tb, not $want"
	fi
	if [ "$ba" != "${pol:-none}" ] || [ "$bb" != "${pol:-none}" ]; then
		fail "mode $1: groups $NET_GRP_A and $NET_GRP_B have bounce $ba and $bb, not ${pol:-none}"
	fi
	STATS_A='' STATS_B=
	if [ -n "$pol" ]; then
		stats_of "$NET_GRP_A"; STATS_A=$SF
		stats_of "$NET_GRP_B"; STATS_B=$SF
	fi
	proto "NETMODE mode=$1 round=$ROUND type_a=$ta type_b=$tb bounce_a=$ba bounce_b=$bb"
}

# ifpkts LIST: packets received + sent by interface $2 in /proc/net/dev
# as LIST ($1) shows it, into PKV
ifpkts() {
	PKV=$(echo "$1" | sed 's/:/ /' | awk -v i="$2" '$1 == i { printf "%.0f\n", $3 + $11; f = 1 }
		END { exit !f }') || fail "no counters for $2 in /proc/net/dev"
}
# pkts: PK, the packets both NICs sent and received so far, each counted
# in its own namespace
pkts() {
	ifpkts "$(cat /proc/net/dev)" "$IF_A"
	pa=$PKV
	ifpkts "$(nsenter -t "$NET_PID" -n cat /proc/net/dev)" "$IF_B"
	PK=$((pa + PKV))
}
# wait_traffic PID: return once the NICs carry traffic (a client started),
# at most 30 s; fail if the client PID ended first
wait_traffic() {
	pkts
	w0=$PK
	i=0
	while :; do
		pkts
		[ $((PK - w0)) -ge 20 ] && return 0
		kill -0 "$1" 2>/dev/null || fail "the client ended before any traffic flowed"
		i=$((i + 1))
		[ $i -lt 300 ] || fail "no traffic between $NET_A and $NET_B 30 s after starting a client"
		sleep 0.1
	done
}
# uptime_cs: /proc/uptime in centiseconds (1NN - 100: no octal "08")
uptime_cs() { read -r up _ </proc/uptime; echo $((${up%.*} * 100 + 1${up#*.} - 100)); }

# rr_run SIZE SECS OUT [check]: one sockperf ping-pong; with "check" (a
# measured run) RR_RATE and the numbers behind it from its output
rr_run() {
	timeout $(($2 + 60)) $PIN_C sockperf pp --tcp -i "$NET_B" -p "$SPORT" -m "$1" -t "$2" >"$3" 2>&1
	rc=$?
	[ $rc = 0 ] || { sed 's/^/  | /' "$3" >&4; fail "sockperf pp -m $1 -t $2 exited with status $rc"; }
	# sockperf 3.7 exits 0 even when it cannot connect: its ERROR lines
	if grep -q 'ERROR' "$3"; then
		sed 's/^/  | /' "$3" >&4
		fail "sockperf pp -m $1: $(grep -m 1 'ERROR' "$3" | tr -d '\033')"
	fi
	[ "${4:-}" = check ] || return 0
	# "sockperf: [Valid Duration] RunTime=1.550 sec; SentMessages=56324; ReceivedMessages=56324"
	v=$(sed -n 's/.*\[Valid Duration\] RunTime=\([0-9.]*\) sec; SentMessages=[0-9]*; ReceivedMessages=\([0-9]*\).*/\1 \2/p' "$3" | head -n 1)
	# "sockperf: [Total Run] RunTime=2.001 sec; Warm up time=400 msec; ..."
	RR_TOTAL=$(sed -n 's/.*\[Total Run\] RunTime=\([0-9.]*\) sec.*/\1/p' "$3" | head -n 1)
	RR_LAT=$(sed -n 's/.*avg-latency=\([0-9.]*\).*/\1/p' "$3" | head -n 1)
	if [ -z "$v" ] || [ -z "$RR_TOTAL" ]; then
		sed 's/^/  | /' "$3" >&4
		fail "sockperf pp -m $1: no [Valid Duration] or [Total Run] line ($(grep -m 1 -i 'no valid' "$3"))"
	fi
	RR_VALID=${v% *} RR_MSGS=${v#* }
	# Its clock is the TSC at the rate /proc/cpuinfo gives: its whole run
	# must last about the SECS its timer ran, or its rates are wrong
	RR_RATE=$(awk -v n="$RR_MSGS" -v s="$RR_VALID" -v t="$RR_TOTAL" -v want="$2" 'BEGIN {
		if (n <= 0 || s <= 0) exit 1
		if (t < 0.8 * want || t > 1.5 * want) exit 2
		printf "%.1f\n", n / s }')
	case $? in
	0) ;;
	2) fail "sockperf pp -m $1 -t $2 says its run lasted $RR_TOTAL s: its clock (TSC, cpu MHz) is not the kernel's" ;;
	*) fail "sockperf pp -m $1: $RR_MSGS messages in $RR_VALID s is no rate" ;;
	esac
}

# stream_parse OUT SECS: ST_MBPS, ST_BYTES, ST_SECS from iperf3 -J output
# (the receiver's "sum_received"), checked to span about SECS
stream_parse() {
	# iperf3 3.12 exits 0 with -J even when it cannot connect
	if grep -q '"error"' "$1"; then
		fail "iperf3: $(sed -n 's/.*"error":[[:space:]]*"\(.*\)".*/\1/p' "$1" | head -n 1)"
	fi
	v=$(awk '/"sum_received"/ { f = 1 }
		f && /"bytes"/ { b = $2; sub(/,$/, "", b) }
		f && /"seconds"/ { s = $2; sub(/,$/, "", s) }
		f && /}/ { if (b ~ /^[0-9]+$/ && s ~ /^[0-9]+(\.[0-9]+)?$/) print b, s; exit }' "$1")
	[ -n "$v" ] || { tail -n 30 "$1" >&4; fail "no sum_received bytes and seconds in iperf3's output"; }
	ST_BYTES=${v% *} ST_SECS=${v#* }
	ST_MBPS=$(awk -v b="$ST_BYTES" -v s="$ST_SECS" -v want="$2" 'BEGIN {
		if (b <= 0 || s < 0.8 * want || s > 1.5 * want) exit 1
		printf "%.2f\n", b * 8 / s / 1e6 }') ||
		fail "iperf3 received $ST_BYTES bytes in $ST_SECS s, asked for $2 s"
}

# stream_run SECS OMIT OUT [check]: one iperf3 stream here -> namespace
stream_run() {
	timeout $(($1 + $2 + 60)) $PIN_C iperf3 -c "$NET_B" -p "$IPORT" -t "$1" -O "$2" -J >"$3" 2>&1
	rc=$?
	[ $rc = 0 ] || { tail -n 30 "$3" >&4; fail "iperf3 -c $NET_B -t $1 exited with status $rc"; }
	if [ "${4:-}" = check ]; then
		stream_parse "$3" "$1"
	elif grep -q '"error"' "$3"; then
		stream_parse "$3" "$1"	# fails with iperf3's reason
	fi
}

# run_test TEST SECS [check]: one run of TEST (rr:SIZE or stream)
run_test() {
	case $1 in
	rr:*) rr_run "${1#rr:}" "$2" "$IOB_STATE/rr.out" "${3:-}" ;;
	stream) stream_run "$2" "$([ "${3:-}" = check ] && echo $OMIT || echo 0)" "$IOB_STATE/stream.out" "${3:-}" ;;
	esac
}

# measure TEST: one measured run and its "@@IOB NET" line
measure() {
	proto "STEP net mode=$MODE round=$ROUND test=$1"
	run_test "$1" "$RUNTIME" check
	case $1 in
	rr:*) proto "NET mode=$MODE round=$ROUND test=rr size=${1#rr:} rate=$RR_RATE unit=tps valid_s=$RR_VALID msgs=$RR_MSGS total_s=$RR_TOTAL lat_us=${RR_LAT:-NaN}" ;;
	stream) proto "NET mode=$MODE round=$ROUND test=stream size=$MTU rate=$ST_MBPS unit=mbps bytes=$ST_BYTES secs=$ST_SECS" ;;
	esac
	count=$((count + 1))
}

# order R: the modes of round R: rotated by R, reversed in even rounds,
# the rotation chosen so that round R starts with mode number R
order() {
	o_n=$(echo "$MODES" | wc -w)
	if [ $(($1 % 2)) = 0 ]; then o_k=$(($1 % o_n)); else o_k=$((($1 - 1) % o_n)); fi
	# rotated by o_k: modes o_k.. first, then 0..o_k-1
	o_i=0 o_head='' o_tail=''
	for o_m in $MODES; do
		if [ $o_i -lt $o_k ]; then o_tail="$o_tail $o_m"; else o_head="$o_head $o_m"; fi
		o_i=$((o_i + 1))
	done
	o_out=''
	for o_m in $o_head $o_tail; do
		if [ $(($1 % 2)) = 0 ]; then o_out="$o_m $o_out"; else o_out="$o_out $o_m"; fi
	done
	echo "$o_out"
}

# prof_filter, prof_snap
# shellcheck source=prof.sh
. "$(dirname "$0")/prof.sh"

# prof_test TEST: one run of TEST under the profiler; its requests and
# the packets over PROFILE s inside the run. The filter is set and the
# profiler switched on and off only while no traffic runs (that patches
# the traced functions' code; doing it while another vCPU runs them has
# crashed TCG guests).
prof_test() {
	proto "STEP net profile mode=$MODE test=$1"
	# shellcheck disable=SC2086 # one word per function
	prof_filter $REQFUNCS
	echo 1 >$TR/function_profile_enabled || fail "cannot enable the function profiler"
	PROF_ON=1
	secs=$((PROFILE + 4))	# start-up and sockperf's warm-up, window, slack
	case $1 in
	rr:*) size=${1#rr:}
	      timeout $((secs + 60)) $PIN_C sockperf pp --tcp -i "$NET_B" -p "$SPORT" -m "$size" -t $secs \
		>"$IOB_STATE/prof.out" 2>&1 & ;;
	stream) size=$MTU
	      timeout $((secs + 60)) $PIN_C iperf3 -c "$NET_B" -p "$IPORT" -t $secs -J \
		>"$IOB_STATE/prof.out" 2>&1 & ;;
	esac
	CPID=$!
	wait_traffic "$CPID"
	sleep 1
	prof_snap "$IOB_STATE/prof.0"; pkts; p0=$PK; c0=$(uptime_cs); pools_get; pm0=$PM pb0=$PB
	sleep "$PROFILE"
	prof_snap "$IOB_STATE/prof.1"; pkts; p1=$PK; c1=$(uptime_cs); pools_get; pm1=$PM pb1=$PB
	kill -0 "$CPID" 2>/dev/null || fail "the $1 client ended before the profiled window did"
	wait "$CPID" || { rc=$?; tail -n 20 "$IOB_STATE/prof.out" >&4; fail "the $1 client of the profiler pass exited with status $rc"; }
	CPID=
	sleep 1	# the connection's last packets
	echo 0 >$TR/function_profile_enabled
	PROF_ON=
	grep -q 'ERROR\|"error"' "$IOB_STATE/prof.out" && fail "the $1 client of the profiler pass failed: $(grep -m 1 'ERROR\|"error"' "$IOB_STATE/prof.out")"
	cs=$((c1 - c0))
	[ $((p1 - p0)) -gt 0 ] || fail "no packets counted in the profiled window of $1"
	for f in $REQFUNCS; do
		h0=$(awk -v f="$f" '$1 == f { print $2 }' "$IOB_STATE/prof.0")
		h1=$(awk -v f="$f" '$1 == f { print $2 }' "$IOB_STATE/prof.1")
		# a function not called yet has no line: 0 calls
		[ "${h1:-0}" -ge "${h0:-0}" ] ||
			fail "the profiler's count of $f went back from ${h0:-0} to ${h1:-0} during $1"
		proto "NETPROF mode=$MODE test=${1%%:*} size=$size secs=$((cs / 100)).$((cs % 100 / 10))$((cs % 10)) packets=$((p1 - p0)) func=$f hits=$((${h1:-0} - ${h0:-0}))"
	done
	[ "$pm0" = none ] || { pm1=$((pm1 - pm0)); pb1=$((pb1 - pb0)); }
	proto "NETCOPY mode=$MODE test=${1%%:*} size=$size packets=$((p1 - p0)) maps=$pm1 bytes=$pb1"
}

# pool_run MODE: a stream into the second NIC, its group's pool "bytes"
# sampled POOLSECS times, a second apart (the stream's set-up and each
# sample's own time make that a little longer under TCG: the stream is
# asked for a fifth more and 10 s, and must outlast the sampling)
pool_run() {
	ROUND=pool
	set_mode "$1"
	proto "STEP net pool mode=$1 ${POOLSECS}s"
	plen=$((POOLSECS + POOLSECS / 5 + 10))
	timeout $((plen + 60)) $PIN_C iperf3 -c "$NET_B" -p "$IPORT" -t $plen -J \
		>"$IOB_STATE/pool.out" 2>&1 &
	CPID=$!
	wait_traffic "$CPID"
	t0=$(uptime_cs)
	: >"$IOB_STATE/pool.samples"
	i=0
	while [ $i -lt "$POOLSECS" ]; do
		sleep 1
		i=$((i + 1))
		b='' m=''
		while read -r k v; do
			case $k in
			bytes:) b=$v ;;
			maps:) m=$v ;;
			esac
		done <"$STATS_B"
		[ -n "$b" ] || fail "no bytes: line in $STATS_B"
		[ -n "$m" ] || fail "no maps: line in $STATS_B"
		echo "$(($(uptime_cs) - t0)) $b $m" >>"$IOB_STATE/pool.samples"
	done
	kill -0 "$CPID" 2>/dev/null || fail "the stream ended before the pool sampling did"
	wait "$CPID" || { rc=$?; tail -n 20 "$IOB_STATE/pool.out" >&4; fail "the pool stream exited with status $rc"; }
	CPID=
	stream_parse "$IOB_STATE/pool.out" $plen
	while read -r cs b m; do
		proto "NETPOOL mode=$1 t=$((cs / 100)).$((cs % 100 / 10))$((cs % 10)) bytes=$b maps=$m"
	done <"$IOB_STATE/pool.samples"
	proto "NETPOOLRUN mode=$1 group=$NET_GRP_B secs=$POOLSECS mbps=$ST_MBPS"
}

# The profiler and the request functions are checked now, not after
# ten minutes of measurements
if [ "$PROFILE" -gt 0 ]; then
	[ -w $TR/function_profile_enabled ] || fail "no function profiler ($TR/function_profile_enabled)"
	echo nop >$TR/current_tracer || fail "cannot set the nop tracer"
	# shellcheck disable=SC2086 # one word per function
	prof_filter $REQFUNCS
	: >$TR/set_ftrace_filter
fi

ROUND=0
pair
MTU=$(cat "/sys/class/net/$IF_A/mtu") || fail "no MTU for $IF_A"
proto "NETDEV nic=$NIC pci_a=$NET_PCI_A pci_b=$NET_PCI_B grp_a=$NET_GRP_A grp_b=$NET_GRP_B if_a=$IF_A if_b=$IF_B mtu=$MTU"

count=0
if [ "$PRIME" -gt 0 ]; then
	for m in $(order 0); do
		set_mode "$m"
		for t in $TESTS; do
			proto "STEP net prime mode=$m test=$t"
			run_test "$t" "$PRIME"
		done
	done
fi
r=1
while [ $r -le "$ROUNDS" ]; do
	ROUND=$r
	ord=$(order $r)
	# shellcheck disable=SC2086 # one word per mode
	proto "NETORDER round=$r modes=$(echo $ord | tr ' ' +)"
	for m in $ord; do
		set_mode "$m"
		if [ "$WARMUP" -gt 0 ]; then
			proto "STEP net warm-up mode=$m round=$r"
			rr_run 64 "$WARMUP" "$IOB_STATE/warm.out"
		fi
		pool_get "$STATS_A"; ma=$PG_MAPS fa=$PG_FB
		pool_get "$STATS_B"; mb=$PG_MAPS fb=$PG_FB
		for t in $TESTS; do
			measure "$t"
		done
		pool_get "$STATS_A"
		[ "$ma" = none ] || { ma=$((PG_MAPS - ma)); fa=$((PG_FB - fa)); }
		pool_get "$STATS_B"
		[ "$mb" = none ] || { mb=$((PG_MAPS - mb)); fb=$((PG_FB - fb)); }
		proto "NETMAPS mode=$m round=$r maps_a=$ma maps_b=$mb fallbacks_a=$fa fallbacks_b=$fb"
	done
	r=$((r + 1))
done

if [ "$PROFILE" -gt 0 ]; then
	ROUND=prof
	for m in $MODES; do
		set_mode "$m"
		for t in $TESTS; do
			prof_test "$t"
		done
	done
	: >$TR/set_ftrace_filter
fi

for m in $POOLMODES; do
	pool_run "$m"
done

stop_servers
_net_unpair
proto "NET-DONE count=$count"
