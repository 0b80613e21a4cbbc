# SPDX-License-Identifier: GPL-2.0
#
# Helpers for NIC tests and the NIC bench (busybox sh). Sourced after
# common/guest.sh and common/bounce.sh.
#
# testbed/qemu.sh --devices e1000e (or virtio-net) gives the guest two NICs
# of that model on a QEMU hub of their own, with no host backend: nothing
# leaves the guest. _net_pair puts the second NIC in a network namespace,
# so that traffic between the two addresses really crosses both NICs (and
# both IOMMU groups) instead of the loopback. Addresses are link-local
# (169.254.N.1 and .2), on the hub only.

# PCI vendor:device of each NIC model the test bed attaches
_nic_ids() {
	case $1 in
	e1000e) echo "0x8086 0x10d3" ;;
	virtio-net) echo "0x1af4 0x1041" ;;
	*) return 1 ;;
	esac
}

# Kernel driver expected on each model, for the failure message
_nic_driver() {
	case $1 in
	e1000e) echo e1000e ;;
	virtio-net) echo virtio_net ;;
	esac
}

# _nic_ifaces MODEL: print "PCI IFACE" for each NIC of MODEL; _fail when
# the pair is not there or a NIC has no network interface (driver
# missing from the kernel): never a skip.
_nic_ifaces() {
	_ids=$(_nic_ids "$1") || { _fail "unknown NIC model $1"; return 1; }
	# shellcheck disable=SC2086 # vendor and device as two words
	_pcis=$(_pci_find $_ids)
	[ "$(echo "$_pcis" | grep -c .)" -eq 2 ] ||
		{ _fail "expected two $1 NICs ($_ids) on the PCI bus, found: $_pcis"; return 1; }
	for _p in $_pcis; do
		_n=$(_pci_iface "$_p") ||
			{ _fail "$1 NIC $_p has no network interface: driver $(_nic_driver "$1") missing from the kernel?"; return 1; }
		echo "$_p $_n"
	done
}

# _pci_iface PCI: print the network interface of PCI device PCI; nonzero
# when it has none (no driver bound, or not probed yet)
_pci_iface() {
	# virtio: the net device hangs off the virtio bus device
	for _d in "/sys/bus/pci/devices/$1"/net/* "/sys/bus/pci/devices/$1"/virtio*/net/*; do
		[ -e "$_d" ] && { echo "${_d##*/}"; return 0; }
	done
	return 1
}

# _net_wait_ifaces PCI...: wait until every PCI device has a network
# interface again (after a bind), at most 30 s; nonzero if one has not
_net_wait_ifaces() {
	for _p in "$@"; do
		_w=0
		until _pci_iface "$_p" >/dev/null; do
			_w=$((_w + 1))
			[ $_w -lt 300 ] || return 1
			sleep 0.1
		done
	done
}

# _net_pair MODEL N: bring the pair up as 169.254.N.1 (this namespace)
# and 169.254.N.2 (a new network namespace held by a sleeping process).
# Sets NET_MODEL, NET_PID (run commands there with _net_ns CMD...),
# NET_A, NET_B (the two addresses), NET_IF_A, NET_IF_B (the interfaces;
# B's /sys/class/net entry is in the namespace), NET_PCI_A, NET_PCI_B,
# NET_GRP_A, NET_GRP_B (their IOMMU groups). Undo with _net_unpair.
_net_pair() {
	_l=$(_nic_ifaces "$1") || return 1
	NET_PCI_A=$(echo "$_l" | sed -n '1s/ .*//p')
	NET_PCI_B=$(echo "$_l" | sed -n '2s/ .*//p')
	_ia=$(echo "$_l" | sed -n '1s/.* //p')
	_ib=$(echo "$_l" | sed -n '2s/.* //p')
	NET_MODEL=$1 NET_IF_A=$_ia NET_IF_B=$_ib
	NET_GRP_A=$(_group_of "$NET_PCI_A") || { _fail "$1 $NET_PCI_A has no IOMMU group"; return 1; }
	NET_GRP_B=$(_group_of "$NET_PCI_B") || { _fail "$1 $NET_PCI_B has no IOMMU group"; return 1; }
	NET_A=169.254.$2.1
	NET_B=169.254.$2.2
	ip link set lo up
	unshare -n sleep 100000 &
	NET_PID=$!
	# the namespace exists once sleep runs in it
	_i=0
	while [ "$(readlink "/proc/$NET_PID/ns/net")" = "$(readlink /proc/self/ns/net)" ] && [ $_i -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	ip link set "$_ib" netns "$NET_PID" ||
		{ _fail "cannot move $_ib into a network namespace"; _net_unpair; return 1; }
	ip addr add "$NET_A/24" dev "$_ia" && ip link set "$_ia" up ||
		{ _fail "cannot configure $_ia"; _net_unpair; return 1; }
	_net_ns ip link set lo up
	_net_ns ip addr add "$NET_B/24" dev "$_ib" && _net_ns ip link set "$_ib" up ||
		{ _fail "cannot configure $_ib in the namespace"; _net_unpair; return 1; }
	echo "$1: $_ia ($NET_PCI_A, group $NET_GRP_A) $NET_A <-> $_ib ($NET_PCI_B, group $NET_GRP_B) $NET_B in netns of pid $NET_PID"
	# Link up takes a moment (e1000e autonegotiation): wait for ping
	_i=0
	until ping -c 1 -W 1 "$NET_B" >/dev/null 2>&1; do
		_i=$((_i + 1))
		[ $_i -lt 30 ] || { _fail "$1: no ping reply from $NET_B in 30 s"; _net_unpair; return 1; }
	done
}

# _net_ns CMD...: run CMD in the second NIC's network namespace
_net_ns() {
	nsenter -t "$NET_PID" -n "$@"
}

# _net_unpair: end the namespace and leave both NICs down, without
# addresses. Down matters at power-off: the virtio bus resets a
# virtio-iommu (virtio_dev_shutdown) before e1000e's .shutdown unmaps its
# receive ring, every one of those unmaps then fails and dma-iommu WARNs.
# That is upstream shutdown ordering, seen in strict mode with no pool
# involved; a NIC that is down has unmapped its rings already.
_net_unpair() {
	[ -n "${NET_PID:-}" ] || return 0
	# Home first: moving is synchronous, the namespace's teardown is not.
	# After an unbind the interface is gone and there is nothing to move.
	_net_ns ip link set "$NET_IF_B" netns 1 2>/dev/null
	kill "$NET_PID" 2>/dev/null
	wait "$NET_PID" 2>/dev/null
	NET_PID=
	for _i in "$NET_IF_A" "$NET_IF_B"; do
		[ -e "/sys/class/net/$_i" ] || continue
		ip link set "$_i" down && ip addr flush dev "$_i" ||
			_fail "cannot take $_i down"
	done
}

# _net_release MODEL: unbind both NICs of the last pair from their driver,
# _fail unless their groups' pools then hold no slot in use (the driver's
# teardown gave every bounced mapping back), and bind them again (also
# when something failed half-way).
_net_release() {
	_net_drv=
	_rel=0
	for _p in "$NET_PCI_A" "$NET_PCI_B"; do
		_d=$(readlink "/sys/bus/pci/devices/$_p/driver") ||
			{ _fail "$1 $_p has no driver to unbind"; _rel=1; break; }
		_d=${_d##*/}
		echo "$_p" >"/sys/bus/pci/drivers/$_d/unbind" ||
			{ _fail "cannot unbind $1 $_p from $_d"; _rel=1; break; }
		_net_drv="$_net_drv $_p=$_d"
	done
	if [ $_rel = 0 ]; then
		for _g in "$NET_GRP_A" "$NET_GRP_B"; do
			_bounce_stat "$_g" bytes >/dev/null ||
				{ _fail "$1: group $_g has no bounce pool"; continue; }
			_expect_eq "$(_bounce_in_use "$_g")" 0 "$1 unbound: slots in use in group $_g"
		done
	fi
	for _pd in $_net_drv; do
		echo "${_pd%%=*}" >"/sys/bus/pci/drivers/${_pd#*=}/bind" ||
			{ _fail "cannot bind ${_pd%%=*} to ${_pd#*=} again"; _rel=1; }
	done
	_net_wait_ifaces "$NET_PCI_A" "$NET_PCI_B" ||
		{ _fail "$1: no network interfaces 30 s after binding again"; _rel=1; }
	return $_rel
}

# _net_tcp_check FROM TO LABEL: send 8 MiB of random data over TCP from
# side FROM to side TO (a: this namespace, b: the other) with busybox nc,
# and _fail unless the SHA-256 at the receiving end equals the sender's.
_net_tcp_check() {
	_tx=$IOB_STATE/tcp.tx _rx=$IOB_STATE/tcp.rx _port=$((5000 + ${NET_PORT:-0}))
	NET_PORT=$((${NET_PORT:-0} + 1))
	dd if=/dev/urandom of="$_tx" bs=1M count=8 2>/dev/null
	rm -f "$_rx"
	if [ "$2" = b ]; then _dst=$NET_B; _rxns=_net_ns; _txns=; else _dst=$NET_A; _rxns=; _txns=_net_ns; fi
	# The listener's stdin must stay open: busybox nc stops on its EOF
	( sleep 300 | $_rxns nc -l -p "$_port" >"$_rx" ) &
	_lpid=$!
	sleep 1
	if ! $_txns timeout 240 nc "$_dst" "$_port" <"$_tx"; then
		_fail "$3: nc to $_dst:$_port failed"
	fi
	_i=0
	while [ "$(stat -c %s "$_rx" 2>/dev/null || echo 0)" -lt 8388608 ] && [ $_i -lt 60 ]; do
		sleep 1
		_i=$((_i + 1))
	done
	kill "$_lpid" 2>/dev/null
	_s1=$(sha256sum <"$_tx" | cut -d' ' -f1)
	_s2=$(sha256sum <"$_rx" | cut -d' ' -f1)
	echo "$3: tcp $1->$2 $(stat -c %s "$_rx") bytes, sent sha256 $_s1, received $_s2"
	[ "$_s1" = "$_s2" ] || _fail "$3: TCP data $1->$2 differs (sha256 $_s1 sent, $_s2 received, $(stat -c %s "$_rx") bytes)"
	rm -f "$_tx" "$_rx"
}

# _net_udp_burst FROM TO LABEL: a 2 s burst of 64-byte UDP datagrams with
# iperf3 from side FROM to side TO; _fail unless datagrams arrived.
_net_udp_burst() {
	_port=$((5200 + ${NET_PORT:-0}))
	NET_PORT=$((${NET_PORT:-0} + 1))
	if [ "$2" = b ]; then _dst=$NET_B; _rxns=_net_ns; _txns=; else _dst=$NET_A; _rxns=; _txns=_net_ns; fi
	$_rxns iperf3 -s -1 -p "$_port" >"$IOB_STATE/udp.srv" 2>&1 &
	_spid=$!
	sleep 1
	$_txns timeout 60 iperf3 -c "$_dst" -p "$_port" -u -l 64 -b 4M -t 2 >"$IOB_STATE/udp.cli" 2>&1 ||
		{ cat "$IOB_STATE/udp.cli"; _fail "$3: iperf3 UDP $1->$2 failed"; }
	wait "$_spid" 2>/dev/null
	# receiver line: ... Lost/Total Datagrams as "L/T (P%)"
	_lt=$(grep receiver "$IOB_STATE/udp.cli" | tail -n 1 | grep -o '[0-9]*/[0-9]* ' | head -n 1)
	_lost=${_lt%/*} _tot=${_lt#*/}
	_tot=${_tot% }
	echo "$3: udp $1->$2 64 B datagrams: ${_tot:-?} sent, ${_lost:-?} lost"
	[ -n "$_tot" ] && [ "$_tot" -gt 0 ] && [ "$_lost" -lt "$_tot" ] ||
		_fail "$3: UDP $1->$2: no datagram arrived ($(grep receiver "$IOB_STATE/udp.cli" | tail -n 1))"
}

# _net_irq_maps GROUP: bounced mappings the pool made in softirq or
# hardirq context so far
_net_irq_maps() {
	echo $(( $(_bounce_stat "$1" maps_softirq) + $(_bounce_stat "$1" maps_hardirq) ))
}

# _net_test MODEL N: TCP (checksummed) and UDP both ways across the pair,
# with bouncing off, on (threshold 128 KiB: every class) and auto (same
# threshold) in both NICs' groups. With bouncing off the pools map
# nothing; with it on both pools map, and some of the mappings are made
# in interrupt context (NAPI refilling the receive ring, or transmit
# completion). auto must do as on does where the IOMMU driver says its
# invalidations are costly (debugfs costly_flush: virtio-iommu), and as
# off does elsewhere (SMMUv3).
_net_test() {
	_net_on_pair "$1" "$2" _net_modes "$1"
}

# _net_on_pair MODEL N CMD ARGS...: pair the MODEL NICs as N, run CMD
# ARGS... on the pair, then undo and release the pair whatever CMD did;
# fails if CMD or the release failed
_net_on_pair() {
	_net_pair "$1" "$2" || return 1
	shift 2
	"$@"
	_rc=$?
	_net_unpair
	_net_release "$NET_MODEL" || _rc=1
	return $_rc
}

# _net_modes MODEL: _net_test's checks on the pair, one policy after the
# other
_net_modes() {
	for mode in off on auto; do
		as=$mode
		if [ "$mode" = auto ]; then
			as=off
			[ "$(_bounce_stat "$NET_GRP_A" costly_flush)" = 1 ] && as=on
		fi
		_bounce_mode "$NET_GRP_A" "$mode" 131072 || return 1
		_bounce_mode "$NET_GRP_B" "$mode" 131072 || return 1
		ma=$(_bounce_stat "$NET_GRP_A" maps) mb=$(_bounce_stat "$NET_GRP_B" maps)
		ia=$(_net_irq_maps "$NET_GRP_A") ib=$(_net_irq_maps "$NET_GRP_B")
		_net_tcp_check a b "$1-$mode"
		_net_tcp_check b a "$1-$mode"
		_net_udp_burst a b "$1-$mode"
		_net_udp_burst b a "$1-$mode"
		ma1=$(_bounce_stat "$NET_GRP_A" maps) mb1=$(_bounce_stat "$NET_GRP_B" maps)
		ia1=$(_net_irq_maps "$NET_GRP_A") ib1=$(_net_irq_maps "$NET_GRP_B")
		echo "== $1 bounce $mode (as $as): pool maps +$((ma1 - ma)) (group $NET_GRP_A) +$((mb1 - mb)) (group $NET_GRP_B), of them in softirq/hardirq +$((ia1 - ia)) +$((ib1 - ib))"
		case $as in
		off)
			_expect_eq "$ma1" "$ma" "$1: pool maps of group $NET_GRP_A with bouncing $mode"
			_expect_eq "$mb1" "$mb" "$1: pool maps of group $NET_GRP_B with bouncing $mode"
			;;
		on)
			# 16 MiB of TCP each way alone is thousands of packets
			_expect_gt "$ma1" "$((ma + 1000))" "$1: pool maps of group $NET_GRP_A with bouncing $mode"
			_expect_gt "$mb1" "$((mb + 1000))" "$1: pool maps of group $NET_GRP_B with bouncing $mode"
			_expect_gt "$((ia1 - ia + ib1 - ib))" 0 "$1: pool maps made in softirq or hardirq context ($mode)"
			;;
		esac
	done
	_bounce_stats "$NET_GRP_A" | grep -E '^(mode|costly_flush|threshold|maps|bytes|fallback_|slots_)'
	_bounce_stats "$NET_GRP_B" | grep -E '^(mode|costly_flush|threshold|maps|bytes|fallback_|slots_)'
}

# _net_hold MODEL N SECS: with bouncing on (every class) in the receiving
# NIC's group, stream TCP into it for SECS s while sampling its pool's
# bytes every second. Prints every sample, the max and the median; sets
# HOLD_MAX, HOLD_MED (bytes) and HOLD_RX (packets received).
_net_hold() {
	_net_on_pair "$1" "$2" _net_stream "$@"
}

# _net_stream MODEL N SECS: _net_hold's stream and samples on the pair
_net_stream() {
	_bounce_mode "$NET_GRP_A" on 131072 || return 1
	_bounce_mode "$NET_GRP_B" on 131072 || return 1
	_rx0=$(cat "/sys/class/net/$NET_IF_A/statistics/rx_packets")
	iperf3 -s -1 -p 5301 >"$IOB_STATE/hold.srv" 2>&1 &
	_spid=$!
	sleep 1
	# the sender is in the namespace: the receive side is NIC A
	_net_ns iperf3 -c "$NET_A" -p 5301 -t "$3" >"$IOB_STATE/hold.cli" 2>&1 &
	_cpid=$!
	: >"$IOB_STATE/hold.samples"
	_s=0
	while [ $_s -lt "$3" ]; do
		sleep 1
		_s=$((_s + 1))
		_b=$(_bounce_stat "$NET_GRP_A" bytes)
		echo "$_s $_b" >>"$IOB_STATE/hold.samples"
	done
	wait "$_cpid" || { cat "$IOB_STATE/hold.cli"; _fail "$1: iperf3 stream failed"; }
	wait "$_spid" 2>/dev/null
	HOLD_RX=$(( $(cat "/sys/class/net/$NET_IF_A/statistics/rx_packets") - _rx0 ))
	HOLD_MAX=$(sort -n -k2 "$IOB_STATE/hold.samples" | tail -n 1 | cut -d' ' -f2)
	HOLD_MED=$(sort -n -k2 "$IOB_STATE/hold.samples" | sed -n "$(( ($3 + 1) / 2 ))p" | cut -d' ' -f2)
	tr '\n' ' ' <"$IOB_STATE/hold.samples" | sed 's/^/pool bytes per second (s bytes): /'
	echo
	grep -E 'receiver|sender' "$IOB_STATE/hold.cli" | tail -n 2
	echo "$1: $HOLD_RX packets received in $3 s; pool bytes held: max $HOLD_MAX, median $HOLD_MED"
}
