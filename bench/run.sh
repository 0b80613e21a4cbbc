#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/run.sh - fio IOPS, DMA costs, dma_map_benchmark latency, bounce
# pool memory and NIC request/response and streaming rates per DMA mode and
# IOMMU, in QEMU.
#
# Every fio boot runs one mode with all workloads (bench/guest/fio.sh).
# Modes are interleaved and the whole round repeated, so slow drift of a
# shared machine spreads over all modes instead of biasing one:
#
#   for rep in 1..REPS: for iommu in IOMMUS: for mode in MODES: one boot
#                       then one policy boot per IOMMU
#
# Repetition r boots the modes in reverse when r is even, rotated by
# r - 1 (strict lazy bounce; lazy strict bounce; bounce strict lazy;
# ...), so that no mode always boots first or always right after the
# same one.
#
# A policy boot compares the bounce policies of one kernel in one boot: it
# switches the NVMe group's policy at run time (sysfs: bounce,
# bounce_threshold) between the POLICIES before each run, ROUNDS times
# over the POLICY_WORKLOADS after an unmeasured round that warms every
# path up, each workload and round starting with another policy, so
# that the auto policy and the fixed thresholds meet strict under the same
# guest memory layout and host load, a few seconds apart.
#
# In rep 1 only, after its measured runs (so they never perturb the IOPS
# numbers), each boot also makes the profiler pass: per workload, one run
# under the ftrace function profiler counting the dma-iommu map/unmap
# time and one counting the requests sent to the IOMMU. In rep 1 of the
# POOL_MODES boots a guest sampler records the pool's bytes and the bytes
# in flight every 0.5 s, during one more, unmeasured, pass over the
# workloads after the measured runs and for IDLE s of idling after.
# Then one -smp DMAB_SMP boot per DMAB_MODES mode runs dma_map_benchmark
# on pci-testdev (bench/guest/dmab.sh).
#
# Last, the NIC bench (NET=0 skips it): one boot per IOMMU and NET_NICS model, with
# two NICs of that model on a QEMU hub (qemu.sh --devices), the second in
# a network namespace (bench/guest/net.sh). The kernel boots strict
# (iommu.strict=1 iommu.bounce=0) and every NET_MODES mode is set at run
# time in both NICs' groups, so the modes meet in one boot, seconds apart:
#   strict       type DMA, bounce off      lazy  type DMA-FQ, bounce off
#   passthrough  type identity             auto  type DMA, bounce auto
#   bounce       type DMA, bounce on with bounce_threshold NET_THRESHOLD
#                (131072: every mapping up to the largest slot, so that
#                whatever size a NIC maps its buffers in, the pool serves
#                it; the requests-per-packet target asks what it leaves to
#                the IOMMU)
# (a type change unbinds both NICs, writes the type and binds them again).
# NET_ROUNDS rounds (after an unmeasured round 0 if NET_PRIME > 0): round
# r runs the modes rotated by r, reversed every other round, so each round
# starts with another mode and no mode always follows the same one; each
# mode first runs an unmeasured 64 B ping-pong of NET_WARMUP s (the first
# packets after a switch pay for it: ARP, a fresh ring, an empty pool),
# then every NET_TESTS test for NET_RUNTIME s: rr:SIZE is a
# sockperf TCP ping-pong with SIZE-byte messages (transactions/s), stream
# an iperf3 TCP stream at the MTU, default MSS, 1 s omitted (Mbit/s
# received). Then, unmeasured, per mode and test a run under the function
# profiler counting the IOMMU requests (REQ_FUNCS) per packet both NICs
# sent and received, and per NET_POOL_MODES mode one NET_POOL_SECS s
# stream into the second NIC sampling its group's pool bytes every second.
#
# Environment (all optional):
#   QUICK=1   a smoke run within 10 minutes: REPS=1, RUNTIME=2,
#             MODES="strict lazy passthrough bounce", WORKLOADS="read:4k
#             read:16k read:128k read:1m write:64k", POLICIES="strict
#             bounce-auto bounce-4096 bounce-131072", POLICY_WORKLOADS=
#             "read:4k read:16k read:128k", ROUNDS=1, DMAB_MODES="strict
#             bounce", dma_map_benchmark with 1 and 4 pages only, and a
#             NIC bench of about 3 minutes: NET_NICS=virtio-net,
#             NET_MODES="strict passthrough bounce", NET_TESTS="rr:64
#             stream", NET_ROUNDS=2, NET_WARMUP=0, NET_PROF_RUNTIME=1,
#             NET_POOL_MODES=bounce, NET_POOL_SECS=10 (each still
#             overridable)
#   MODES     modes to run, one boot each, space separated (default:
#             strict lazy passthrough swiotlb bounce). Accepted: strict
#             lazy passthrough swiotlb bounce (fixed 16K threshold)
#             bounce-auto (the kernel's auto, with its default 4K
#             threshold) and bounce-<bytes> (fixed threshold of that many
#             bytes)
#   POLICIES  the policy boots' policies (default: strict bounce-auto
#             bounce-4096 bounce-131072; "" for no policy boots).
#             Accepted: strict bounce-auto bounce-<bytes>
#   POLICY_WORKLOADS the policy boots' workloads (default: read:4k read:16k
#             read:64k read:128k read:1m)
#   ROUNDS    times a policy boot runs every policy on every workload
#             (default 3)
#   PRIME     seconds of an unmeasured run of every workload before the
#             measured ones, in every fio boot (a policy boot: under every
#             policy), since the first run of a workload after boot is
#             slow (default 1; 0: none)
#   HUGE      1 (default): fio's buffers in huge pages, so that each I/O is
#             one physically contiguous run and the number of IOMMU
#             requests it costs does not depend on the guest's memory
#             layout; 0: in small pages
#   ARCH      x86_64 (default) or arm64 (testbed/lib.sh): arm64 boots
#             QEMU's virt machine under TCG with the arm64 bench kernel;
#             its IOMMUs are smmuv3 and virtio, NET defaults to 0, and
#             RESULTS to results/arm64
#   IOMMU     x86_64: virtio (default), vtd, or both; arm64: smmuv3
#             (default), virtio, or both
#   REPS      repetitions (default 3)
#   RUNTIME   seconds of fio per measured point (default 3)
#   WARMUP    seconds of unmeasured fio before each point (default 1)
#   WORKLOADS fio workloads RW:BS (default: read:4k read:16k read:64k
#             read:128k read:1m randread:4k write:4k write:64k)
#   BS, RW    old style: every size in BS with fio --rw RW (used when
#             WORKLOADS is not set and either is)
#   PROFILE   1 (default) or 0: the profiler pass in rep 1
#   PROF_RUNTIME seconds counted per profiled fio run (default 1)
#   POOL_MODES modes whose rep-1 boot samples the pool (default: bounce
#             bounce-auto); IDLE seconds of idle sampling (default 12)
#   DMAB_MODES dma_map_benchmark modes (default strict lazy bounce, add
#             bounce-auto for 1.5 more minutes; "" for none), DMAB_SMP (4),
#             DMAB_THREADS ("1 4"), DMAB_PAGES ("1 4 16 32"), DMAB_SECONDS (1)
#   NET       1 (default; 0 on arm64) or 0: the NIC bench (one boot per
#             IOMMU and NIC model, about 12 minutes each under TCG)
#   NET_NICS  NIC models, one boot each (default: virtio-net). Accepted:
#             e1000e virtio-net
#   NET_MODES modes of the NIC bench (default: strict lazy passthrough
#             bounce auto). Accepted: strict lazy passthrough bounce auto
#   NET_TESTS tests (default: rr:64 rr:1024 stream). Accepted: rr:<bytes>
#             (14..65536) stream
#   NET_ROUNDS measured rounds (default 5); NET_RUNTIME seconds per
#             measured run (default 2); NET_WARMUP seconds of unmeasured
#             64 B ping-pong after each mode switch (default 1; 0: none);
#             NET_PRIME seconds per test and mode of an unmeasured round 0
#             before the measured ones (default 0: none)
#   NET_THRESHOLD bounce_threshold of the bounce mode, bytes (default
#             131072; accepted 1..131072)
#   NET_PROFILE 1 (default) or 0: the profiler pass; NET_PROF_RUNTIME
#             seconds counted per profiled run (default 2)
#   NET_POOL_MODES modes whose pool is sampled under a sustained stream
#             (default: bounce auto; "" for none). Accepted: bounce auto;
#             NET_POOL_SECS its seconds (default 60)
#   NET_CPUS  CLIENT+SERVER: the guest CPUs the clients and the servers run
#             on (taskset; default 0+0, "" lets the scheduler place them).
#             Unpinned, the two ends of a ping-pong share a vCPU in one run
#             and not in the next; under TCG the 64 B ping-pong rate of one
#             mode then spread 703-1851 transactions/s over 4 rounds split
#             (0+1), 1112-1364 on one CPU (0+0)
#   KERNEL    guest kernel (default: build with testbed/kernel.sh bench)
#   INITRD    guest initramfs, booted as it is (default: build one with
#             testbed/initramfs.sh, at IOB_INITRD when that is set)
#   RESULTS   output folder (default: results/ at the top of the repo,
#             results/arm64 for ARCH=arm64)
#   BENCH_DISK the NVMe's sparse raw image (default $IOB_CACHE/bench-disk.img)
#   SMP, MEM  guest CPUs and MiB of the fio boots (default 2 and 2048)
#   IOB_ACCEL kvm or tcg, to force QEMU's accelerator (testbed/lib.sh)
#   DISK_MB   size of the NVMe image when it is created (default 1024)
#
# Writes to RESULTS: fio.csv (iommu,mode,rw,bs,rep,iops,boot: boot is the
# boot's name, *-policy-rep<N> for a policy boot, whose rep counts runs:
# (N - 1) * ROUNDS + round), cpu.csv (busy
# CPU ticks and bytes per measured run), prof.csv (the profiler's hits and
# times), pool.csv (pool counters after each boot: iommu,mode,rep,key,value,
# mode "policy" for a policy boot; costly_flush and threshold among them
# tell what bounce-auto decided), pool-time.csv, dmab.csv
# (dir as dma_map_benchmark -d: 0 bidirectional, 1 to device, 2 from
# device), meta, with NET=1 net.csv (iommu,mode,test,size,rep,rate: test
# is NIC:rr or NIC:stream, size the message bytes or the MTU, rep the
# round, rate transactions/s for rr and Mbit/s received for stream),
# net-prof.csv (iommu,mode,test,size,seconds,packets,func,hits: the
# profiler pass), net-copy.csv (iommu,mode,test,size,packets,maps,bytes:
# the mappings both pools bounced in the profiled window and their bytes;
# "none" without a pool), net-maps.csv (iommu,nic,mode,rep,maps_a,maps_b,
# fallbacks_a,fallbacks_b: what the two pools served in each mode's
# measured runs of a round; "none" without a pool) and net-pool.csv
# (mode,second,bytes,maps,nic,iommu: the receiving group's pool, every
# second of the sustained stream),
# and for every boot under RESULTS/bench/ NAME.console (ttyS0), NAME.res
# (the guest's results port) and NAME.log (all qemu.sh printed); then
# bench/report.py writes report.md, costs.csv, costs-funcs.csv,
# cpu-per-io.csv and net-costs.csv, and gnuplot fio.png (bench/plot.gp),
# pool.png (bench/pool.gp) and net.png (bench/net.gp).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/../testbed/lib.sh"

log() { printf '[bench] %s\n' "$*" >&2; }
fail() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# The mode table: name -> kernel command line. Add a mode here and it is
# accepted by MODES, named in the CSV and shown by report.py and plot.gp.
# iommu.bounce= is explicit wherever the NVMe has a DMA domain: without it
# a pool starts in auto, which bounces every mapping up to the threshold
# where the IOMMU driver says invalidations are costly (virtio-iommu, VT-d
# in caching mode, as qemu.sh boots it) and only what must bounce
# elsewhere. The bounce mode keeps the 16K threshold it has always been
# measured with (the kernel's default is now AUTO_THRESHOLD).
declare -A MODE_ARGS=(
	[strict]="iommu.strict=1 iommu.bounce=0"
	[lazy]="iommu.strict=0 iommu.bounce=0"
	[passthrough]="iommu.passthrough=1"
	[swiotlb]="iommu.passthrough=1 swiotlb=force"
	[bounce]="iommu.strict=1 iommu.bounce=1 iommu.bounce_threshold=16384"
	[bounce-auto]="iommu.strict=1 iommu.bounce=auto"
)
# The kernel's default bounce_threshold, which bounce-auto runs with: its
# boots do not set one, and a policy boot sets it back (fio.sh autothr=)
# before each bounce-auto run. report.py reads it from meta
# (auto_threshold) to tell what auto decided at each size.
AUTO_THRESHOLD=4096
# The IOMMU group type the NVMe must end up in, checked after each boot.
declare -A MODE_GROUP_TYPE=(
	[strict]=DMA
	[lazy]=DMA-FQ
	[passthrough]=identity
	[swiotlb]=identity
	[bounce]=DMA
	[bounce-auto]=DMA
)
MODE_ORDER=(strict lazy passthrough swiotlb bounce bounce-auto)	# CSV/report order
DEFAULT_MODES="strict lazy passthrough swiotlb bounce"
# The fixed thresholds bracket the classes: 4096 bounces 4K only, 131072
# everything (16384 is the bounce mode's, measured in its own boots)
DEFAULT_POLICIES="strict bounce-auto bounce-4096 bounce-131072"
# How a policy boot boots before it switches
POLICY_ARGS="iommu.strict=1 iommu.bounce=auto"
if [ "$IOB_ARCH" = arm64 ]; then
	IOMMU_ORDER=(smmuv3 virtio)
else
	IOMMU_ORDER=(virtio vtd)
fi
# bounce-<bytes>: a fixed threshold, any positive number of bytes.
for m in ${MODES:-$DEFAULT_MODES} ${DMAB_MODES-} ${POOL_MODES-}; do
	if [[ $m =~ ^bounce-([1-9][0-9]*)$ ]]; then
		MODE_ARGS[$m]="iommu.strict=1 iommu.bounce=1 iommu.bounce_threshold=${BASH_REMATCH[1]}"
		MODE_GROUP_TYPE[$m]=DMA
	fi
done
# The functions whose calls are the requests sent to each IOMMU, counted
# by the profiler pass: virtio-iommu adds every MAP/UNMAP request to its
# request queue in __viommu_add_req and kicks the device and waits in
# __viommu_sync_req (iotlb_sync, iotlb_sync_map, flush, full queue);
# VT-d in caching mode tells QEMU about every map and unmap through an
# invalidation, submitted by qi_submit_sync, and the page table changes
# themselves are intel_iommu_map_pages/intel_iommu_unmap_pages; SMMUv3
# changes its page tables in memory and sends every TLB invalidation (and
# the CMD_SYNC that waits for it) through its command queue, in
# arm_smmu_cmdq_issue_cmdlist.
declare -A REQ_FUNCS=(
	[virtio]="__viommu_add_req+__viommu_sync_req"
	[vtd]="intel_iommu_map_pages+intel_iommu_unmap_pages+qi_submit_sync"
	[smmuv3]="arm_smmu_cmdq_issue_cmdlist"
)
# The NIC bench's modes, set at run time in both NICs' groups by
# bench/guest/net.sh, as the guest reads them back: group type and bounce
# ("none": an identity domain has no pool)
NET_MODE_ORDER=(strict lazy passthrough bounce auto)
declare -A NET_MODE_TYPE=([strict]=DMA [lazy]=DMA-FQ [passthrough]=identity [bounce]=DMA [auto]=DMA)
declare -A NET_MODE_BOUNCE=([strict]=off [lazy]=off [passthrough]=none [bounce]=on [auto]=auto)
NET_NIC_MODELS=(e1000e virtio-net)	# the NICs of IOB_DEVICES
# The NIC boots boot strict; net.sh switches from there
NET_BOOT_ARGS=${MODE_ARGS[strict]}

quick=${QUICK:-0}
REPS=${REPS:-$([ "$quick" = 1 ] && echo 1 || echo 3)}
RUNTIME=${RUNTIME:-$([ "$quick" = 1 ] && echo 2 || echo 3)}
WARMUP=${WARMUP:-1}
PROFILE=${PROFILE:-1}
PROF_RUNTIME=${PROF_RUNTIME:-1}
IDLE=${IDLE:-12}
HUGE=${HUGE:-1}
if [ "$quick" = 1 ]; then
	MODES=${MODES:-strict lazy passthrough bounce}
	POLICIES=${POLICIES-strict bounce-auto bounce-4096 bounce-131072}
	POLICY_WORKLOADS=${POLICY_WORKLOADS:-read:4k read:16k read:128k}
	ROUNDS=${ROUNDS:-1}
	DMAB_MODES=${DMAB_MODES-strict bounce}
	DMAB_PAGES=${DMAB_PAGES:-1 4}
	[ -n "${WORKLOADS:-}${BS:-}${RW:-}" ] ||
		WORKLOADS="read:4k read:16k read:128k read:1m write:64k"
	# The NIC bench in about 3 minutes: the modes and the tests its
	# targets need, two rounds for a (wide) paired interval, no warm-up
	NET_NICS=${NET_NICS:-virtio-net}
	NET_MODES=${NET_MODES:-strict passthrough bounce}
	NET_TESTS=${NET_TESTS:-rr:64 stream}
	NET_ROUNDS=${NET_ROUNDS:-2}
	NET_RUNTIME=${NET_RUNTIME:-2}
	NET_WARMUP=${NET_WARMUP:-0}
	NET_PROF_RUNTIME=${NET_PROF_RUNTIME:-1}
	NET_POOL_MODES=${NET_POOL_MODES-bounce}
	NET_POOL_SECS=${NET_POOL_SECS:-10}
fi
POLICIES=${POLICIES-$DEFAULT_POLICIES}
POLICY_WORKLOADS=${POLICY_WORKLOADS:-read:4k read:16k read:64k read:128k read:1m}
ROUNDS=${ROUNDS:-3}
PRIME=${PRIME:-1}
POOL_MODES=${POOL_MODES-bounce}
DMAB_MODES=${DMAB_MODES-strict lazy bounce}
DMAB_SMP=${DMAB_SMP:-4}
DMAB_THREADS=${DMAB_THREADS:-1 4}
DMAB_PAGES=${DMAB_PAGES:-1 4 16 32}
DMAB_SECONDS=${DMAB_SECONDS:-1}
if [ -z "${WORKLOADS:-}" ]; then
	if [ -n "${BS:-}${RW:-}" ]; then
		WORKLOADS=
		for b in ${BS:-4k 16k 64k 128k}; do WORKLOADS+=" ${RW:-read}:$b"; done
	else
		WORKLOADS="read:4k read:16k read:64k read:128k read:1m randread:4k write:4k write:64k"
	fi
fi
NET=${NET:-$([ "$IOB_ARCH" = arm64 ] && echo 0 || echo 1)}
NET_NICS=${NET_NICS:-virtio-net}
NET_MODES=${NET_MODES:-${NET_MODE_ORDER[*]}}
NET_TESTS=${NET_TESTS:-rr:64 rr:1024 stream}
NET_ROUNDS=${NET_ROUNDS:-5}
NET_RUNTIME=${NET_RUNTIME:-2}
NET_WARMUP=${NET_WARMUP:-1}
NET_PRIME=${NET_PRIME:-0}
NET_THRESHOLD=${NET_THRESHOLD:-131072}
NET_PROFILE=${NET_PROFILE:-1}
NET_PROF_RUNTIME=${NET_PROF_RUNTIME:-2}
NET_POOL_MODES=${NET_POOL_MODES-bounce auto}
NET_POOL_SECS=${NET_POOL_SECS:-60}
NET_CPUS=${NET_CPUS-0+0}
SMP=${SMP:-2}
MEM=${MEM:-2048}
DISK_MB=${DISK_MB:-1024}
RESULTS=${RESULTS:-$IOB_TOP/results$([ "$IOB_ARCH" = arm64 ] && echo /arm64 || true)}
read -r -a modes <<<"${MODES:-$DEFAULT_MODES}"
read -r -a workloads <<<"$WORKLOADS"
read -r -a policies <<<"$POLICIES"
read -r -a policy_workloads <<<"$POLICY_WORKLOADS"
read -r -a dmab_modes <<<"$DMAB_MODES"
read -r -a dmab_threads <<<"$DMAB_THREADS"
read -r -a dmab_pages <<<"$DMAB_PAGES"
read -r -a net_nics <<<"$NET_NICS"
read -r -a net_modes <<<"$NET_MODES"
read -r -a net_tests <<<"$NET_TESTS"
read -r -a net_pool_modes <<<"$NET_POOL_MODES"

case ${IOMMU:-${IOMMU_ORDER[0]}} in
both) iommus=("${IOMMU_ORDER[@]}") ;;
*) iob_check_one_of "IOMMU on $IOB_ARCH" "${IOMMU:-${IOMMU_ORDER[0]}}" "${IOMMU_ORDER[@]}" both
   iommus=("${IOMMU:-${IOMMU_ORDER[0]}}") ;;
esac
[ ${#modes[@]} -gt 0 ] || fail "MODES is empty (accepted: ${MODE_ORDER[*]} bounce-<bytes>)"
for m in "${modes[@]}" "${dmab_modes[@]}" $POOL_MODES; do
	[ -n "${MODE_ARGS[$m]:-}" ] ||
		fail "unknown mode '$m' (accepted: ${MODE_ORDER[*]} bounce-<bytes>)"
done
[ ${#workloads[@]} -gt 0 ] || fail "WORKLOADS is empty"
for p in "${policies[@]}"; do
	[[ $p =~ ^(strict|bounce-auto|bounce-[1-9][0-9]*)$ ]] ||
		fail "unknown policy '$p' in POLICIES (accepted: strict bounce-auto bounce-<bytes>)"
done
[ ${#policies[@]} -eq 0 ] || [ ${#policy_workloads[@]} -gt 0 ] ||
	fail "POLICY_WORKLOADS is empty"
for w in "${workloads[@]}" "${policy_workloads[@]}"; do
	[[ $w =~ ^(read|write|randread|randwrite|rw|readwrite|randrw):[1-9][0-9]*[kKmM]?$ ]] ||
		fail "bad workload '$w' in WORKLOADS (RW:BS, e.g. read:4k randread:4k write:64k read:1m)"
done
for v in REPS RUNTIME WARMUP SMP MEM DISK_MB PROF_RUNTIME IDLE DMAB_SMP DMAB_SECONDS ROUNDS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || fail "$v must be a positive integer, not '${!v}'"
done
[[ $PRIME =~ ^[0-9]+$ ]] || fail "PRIME must be a number of seconds, not '$PRIME'"
for v in "${dmab_threads[@]}" "${dmab_pages[@]}"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || fail "DMAB_THREADS and DMAB_PAGES take positive integers, not '$v'"
done
[[ $PROFILE =~ ^[01]$ ]] || fail "PROFILE must be 0 or 1, not '$PROFILE'"
[[ $HUGE =~ ^[01]$ ]] || fail "HUGE must be 0 or 1, not '$HUGE'"
[[ $NET =~ ^[01]$ ]] || fail "NET must be 0 or 1, not '$NET'"
if [ "$NET" = 1 ]; then
	# no_dups NAME WORD...: fail if a word repeats (its rows would collide)
	no_dups() {
		local name=$1 w
		shift
		local -A listed=()
		for w in "$@"; do
			[ -z "${listed[$w]:-}" ] || fail "$name lists '$w' twice"
			listed[$w]=1
		done
	}
	[ ${#net_nics[@]} -gt 0 ] || fail "NET_NICS is empty (accepted: ${NET_NIC_MODELS[*]}; NET=0 skips the NIC bench)"
	for v in "${net_nics[@]}"; do
		[[ " ${NET_NIC_MODELS[*]} " == *" $v "* ]] ||
			fail "unknown NIC '$v' in NET_NICS (accepted: ${NET_NIC_MODELS[*]})"
	done
	[ ${#net_modes[@]} -gt 0 ] || fail "NET_MODES is empty (accepted: ${NET_MODE_ORDER[*]})"
	for v in "${net_modes[@]}"; do
		[ -n "${NET_MODE_TYPE[$v]:-}" ] ||
			fail "unknown mode '$v' in NET_MODES (accepted: ${NET_MODE_ORDER[*]})"
	done
	for v in "${net_pool_modes[@]}"; do
		[[ $v =~ ^(bounce|auto)$ ]] ||
			fail "unknown mode '$v' in NET_POOL_MODES (accepted: bounce auto)"
	done
	[ ${#net_tests[@]} -gt 0 ] || fail "NET_TESTS is empty (accepted: rr:<bytes> stream)"
	for v in "${net_tests[@]}"; do
		if [[ $v =~ ^rr:([1-9][0-9]*)$ ]]; then
			(( BASH_REMATCH[1] >= 14 && BASH_REMATCH[1] <= 65536 )) ||
				fail "bad test '$v' in NET_TESTS (accepted: rr:<bytes> with 14..65536 bytes, stream)"
		elif [ "$v" != stream ]; then
			fail "bad test '$v' in NET_TESTS (accepted: rr:<bytes> with 14..65536 bytes, stream)"
		fi
	done
	no_dups NET_NICS "${net_nics[@]}"
	no_dups NET_MODES "${net_modes[@]}"
	no_dups NET_TESTS "${net_tests[@]}"
	no_dups NET_POOL_MODES "${net_pool_modes[@]}"
	for v in NET_ROUNDS NET_RUNTIME NET_PROF_RUNTIME NET_POOL_SECS NET_THRESHOLD; do
		[[ ${!v} =~ ^[1-9][0-9]*$ ]] || fail "$v must be a positive integer, not '${!v}'"
	done
	(( NET_THRESHOLD <= 131072 )) ||
		fail "NET_THRESHOLD must be 1..131072 bytes (the largest slot), not '$NET_THRESHOLD'"
	for v in NET_WARMUP NET_PRIME; do
		[[ ${!v} =~ ^[0-9]+$ ]] || fail "$v must be a number of seconds (0: none), not '${!v}'"
	done
	[[ $NET_PROFILE =~ ^[01]$ ]] || fail "NET_PROFILE must be 0 or 1, not '$NET_PROFILE'"
	if [ -n "$NET_CPUS" ]; then
		[[ $NET_CPUS =~ ^([0-9]+)\+([0-9]+)$ ]] && (( BASH_REMATCH[1] < SMP && BASH_REMATCH[2] < SMP )) ||
			fail "NET_CPUS must be CLIENT+SERVER, two CPU numbers below SMP ($SMP), or empty, not '$NET_CPUS'"
	fi
fi

iob_deps
if [ -z "${KERNEL:-}" ]; then
	log "building the bench kernel (testbed/kernel.sh bench; set KERNEL= to skip)"
	"$IOB_TOP/testbed/kernel.sh" bench
	KERNEL=$(iob_kernel bench)
fi
if [ -z "${INITRD:-}" ]; then
	log "building the initramfs (testbed/initramfs.sh; set INITRD= to skip)"
	"$IOB_TOP/testbed/initramfs.sh" bench
	INITRD=${IOB_INITRD:-$(iob_initrd bench)}
fi
[ -f "$KERNEL" ] || fail "no kernel at $KERNEL"
[ -f "$INITRD" ] || fail "no initramfs at $INITRD"
accel=	# what qemu.sh reports it used, recorded after the first boot
disk=${BENCH_DISK:-$IOB_CACHE/bench-disk.img}	# our own image: tests may run beside us

mkdir -p "$RESULTS/bench"
rm -f "$RESULTS"/bench/*.log "$RESULTS"/bench/*.res "$RESULTS"/bench/*.console \
	"$RESULTS"/{fio,cpu,prof,pool,pool-time,classes,decisions,dmab,costs,costs-funcs}.csv \
	"$RESULTS"/{report.md,fio.png,policy.png,pool.png} "$RESULTS"/{fio,policy}-*.dat \
	"$RESULTS"/{net,net-prof,net-copy,net-maps,net-pool,net-costs}.csv "$RESULTS"/{net.png,net.dat,net-panels.gp}
csv=$RESULTS/fio.csv
echo "iommu,mode,rw,bs,rep,iops,boot" >"$csv"
echo "iommu,mode,rw,bs,rep,bytes,busy_ticks,hz" >"$RESULTS/cpu.csv"
echo "iommu,mode,rw,bs,set,bytes,func,hits,time_us" >"$RESULTS/prof.csv"
echo "iommu,mode,rep,key,value" >"$RESULTS/pool.csv"
echo "iommu,mode,t,phase,bs,pool_bytes,inflight_bytes,inflight_reqs_now" >"$RESULTS/pool-time.csv"
echo "iommu,mode,threads,dir,pages,map_us,unmap_us,map_sd_us,unmap_sd_us" >"$RESULTS/dmab.csv"
# The NIC bench's files exist only when it runs: report.py then reports it
if [ "$NET" = 1 ]; then
	echo "iommu,mode,test,size,rep,rate" >"$RESULTS/net.csv"
	echo "iommu,mode,test,size,seconds,packets,func,hits" >"$RESULTS/net-prof.csv"
	echo "iommu,mode,test,size,packets,maps,bytes" >"$RESULTS/net-copy.csv"
	echo "iommu,nic,mode,rep,maps_a,maps_b,fallbacks_a,fallbacks_b" >"$RESULTS/net-maps.csv"
	echo "mode,second,bytes,maps,nic,iommu" >"$RESULTS/net-pool.csv"
fi

in_list() { local x=$1; shift; for y in "$@"; do [ "$x" = "$y" ] && return 0; done; return 1; }
n_wl=${#workloads[@]}
n_dmab=$(( ${#dmab_threads[@]} * 3 * ${#dmab_pages[@]} ))
n_pol=$(( ${#policies[@]} * ${#policy_workloads[@]} * ROUNDS ))
policy_boots=$(( ${#policies[@]} > 0 ? REPS * ${#iommus[@]} : 0 ))
fio_boots=$(( REPS * ${#iommus[@]} * ${#modes[@]} + policy_boots ))
dmab_boots=$(( ${#iommus[@]} * ${#dmab_modes[@]} ))
net_boots=$(( NET == 1 ? ${#iommus[@]} * ${#net_nics[@]} : 0 ))
total=$(( fio_boots + dmab_boots + net_boots ))
# NIC bench: results per boot (measured runs, profiled functions, pool samples)
n_net=$(( NET_ROUNDS * ${#net_modes[@]} * ${#net_tests[@]} ))
n_net_pool=$(( NET_POOL_SECS * ${#net_pool_modes[@]} ))
# Boot and power-off take well under a minute under TCG; allow generously
# for that plus warm-up, measurement and fio's start-up per workload.
timeout_fio=$(( 300 + n_wl * (WARMUP + RUNTIME + PRIME + 60) ))
timeout_rep1=$(( timeout_fio + IDLE + 30 + n_wl * (WARMUP + RUNTIME + 30) \
	+ PROFILE * n_wl * (WARMUP + 2 * PROF_RUNTIME + 60) ))
timeout_dmab=$(( 300 + n_dmab * (DMAB_SECONDS + 30) ))
timeout_policy=$(( 300 + n_pol * (WARMUP + RUNTIME + 30) + n_pol / ROUNDS * (PRIME + 30) ))
# A NIC mode switch may unbind, retype and bind both NICs and set the pair
# up again (a few seconds under TCG): 30 s each, and 15 s of start-up per
# run (about 5 x what a run takes)
net_slot=$(( 30 + NET_WARMUP + 15 + ${#net_tests[@]} * (NET_RUNTIME + 1 + 15) ))
timeout_net=$(( 300 + NET_ROUNDS * ${#net_modes[@]} * net_slot
	+ (NET_PRIME > 0) * ${#net_modes[@]} * (30 + ${#net_tests[@]} * (NET_PRIME + 15))
	+ NET_PROFILE * ${#net_modes[@]} * (30 + ${#net_tests[@]} * (NET_PROF_RUNTIME + 20))
	+ ${#net_pool_modes[@]} * (30 + NET_POOL_SECS + NET_POOL_SECS / 5 + 10 + 25) ))
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel_file=$KERNEL"
	echo "kernel_sha1=$(sha1sum <"$KERNEL" | cut -c1-12)"
	echo "series=$(cat "$IOB_TOP"/patches/*.patch 2>/dev/null | sha1sum | cut -c1-12)"
	echo "repo=$(git -C "$IOB_TOP" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "qemu=$("qemu-system-$([ "$IOB_ARCH" = arm64 ] && echo aarch64 || echo x86_64)" --version | head -n 1)"
	echo "host_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "host_cpus=$(nproc)"
	echo "quick=$quick"
	echo "reps=$REPS"
	echo "runtime=$RUNTIME"
	echo "warmup=$WARMUP"
	echo "workloads=${workloads[*]}"
	echo "policies=${policies[*]}"
	echo "policy_workloads=${policy_workloads[*]}"
	echo "rounds=$ROUNDS"
	echo "prime=$PRIME"
	echo "huge=$HUGE"
	echo "policy_args=$POLICY_ARGS"
	echo "auto_threshold=$AUTO_THRESHOLD"
	echo "rw=$(printf '%s\n' "${workloads[@]}" | cut -d: -f1 | sort -u | tr '\n' ' ' | sed 's/ $//')"
	echo "profile=$PROFILE"
	echo "prof_runtime=$PROF_RUNTIME"
	echo "pool_modes=$POOL_MODES"
	echo "idle=$IDLE"
	echo "dmab_modes=${dmab_modes[*]}"
	echo "dmab_smp=$DMAB_SMP"
	echo "dmab_threads=${dmab_threads[*]}"
	echo "dmab_pages=${dmab_pages[*]}"
	echo "dmab_seconds=$DMAB_SECONDS"
	echo "arch=$IOB_ARCH"
	echo "iommus=${iommus[*]}"
	echo "modes=${modes[*]}"
	echo "smp=$SMP"
	echo "mem=$MEM"
	echo "disk_mb=$DISK_MB"
	for i in "${iommus[@]}"; do echo "req_funcs.$i=${REQ_FUNCS[$i]}"; done
	echo "net=$NET"
	if [ "$NET" = 1 ]; then
		echo "net_nics=${net_nics[*]}"
		echo "net_modes=${net_modes[*]}"
		echo "net_tests=${net_tests[*]}"
		echo "net_rounds=$NET_ROUNDS"
		echo "net_runtime=$NET_RUNTIME"
		echo "net_warmup=$NET_WARMUP"
		echo "net_prime=$NET_PRIME"
		echo "net_threshold=$NET_THRESHOLD"
		echo "net_profile=$NET_PROFILE"
		echo "net_prof_runtime=$NET_PROF_RUNTIME"
		echo "net_pool_modes=${net_pool_modes[*]}"
		echo "net_pool_secs=$NET_POOL_SECS"
		echo "net_cpus=$NET_CPUS"
		echo "net_boot_args=$NET_BOOT_ARGS"
	fi
	for m in $(printf '%s\n' "${modes[@]}" "${dmab_modes[@]}" | sort -u); do
		echo "mode_args.$m=${MODE_ARGS[$m]}"
	done
} >"$RESULTS/meta"
log "$total boots ($fio_boots fio, $policy_boots of them policy boots, $dmab_boots dma_map_benchmark," \
    "$net_boots NIC):" \
    "reps=$REPS iommu=${iommus[*]} modes=${modes[*]} workloads=${workloads[*]}" \
    "policies=${policies[*]:-none} policy_workloads=${policy_workloads[*]} rounds=$ROUNDS huge=$HUGE" \
    "runtime=${RUNTIME}s warmup=${WARMUP}s profile=$PROFILE(${PROF_RUNTIME}s)" \
    "dmab=${dmab_modes[*]:-none} kernel=$KERNEL disk=$disk"
[ "$NET" = 0 ] || log "NIC bench: nics=${net_nics[*]} modes=${net_modes[*]} tests=${net_tests[*]}" \
    "rounds=$NET_ROUNDS runtime=${NET_RUNTIME}s warmup=${NET_WARMUP}s prime=${NET_PRIME}s" \
    "threshold=$NET_THRESHOLD profile=$NET_PROFILE(${NET_PROF_RUNTIME}s)" \
    "pool=${net_pool_modes[*]:-none}(${NET_POOL_SECS}s)"

fmt_time() { printf '%dm%02ds' $(( $1 / 60 )) $(( $1 % 60 )); }

start=$(date +%s)
done_boots=0
kernel_version=
qpid=
trap '[ -n "$qpid" ] && kill "$qpid" 2>/dev/null; true' EXIT

# boot NAME IOMMU SMP TIMEOUT APPEND EXPECT [DEVICES]: one guest run, with
# a progress line on stderr for every "@@IOB STEP" the guest reports; then
# the checks every boot must pass, among them that the guest's command
# line has every argument of EXPECT. DEVICES: qemu.sh --devices. Sets
# $res to the cleaned results file.
boot() {
	local name=$1 iommu=$2 smp=$3 tmo=$4 append=$5 expect=$6 devices=${7:-}
	local con=$RESULTS/bench/$name.console out=$RESULTS/bench/$name.log
	local t0 rc=0 seen=0 n used try
	res=$RESULTS/bench/$name.res
	t0=$(date +%s)
	for try in 1 2; do
		rc=0 seen=0
		"$IOB_TOP/testbed/qemu.sh" --kernel "$KERNEL" --initrd "$INITRD" \
			--iommu "$iommu" --smp "$smp" --mem "$MEM" --timeout "$tmo" \
			--append "$append" --disk "$disk" --disk-size "$DISK_MB" \
			${devices:+--devices "$devices"} \
			--console "$con" --results "$res" >"$out" 2>&1 &
		qpid=$!
		while kill -0 "$qpid" 2>/dev/null; do
			sleep 2
			n=$(grep -ac '^@@IOB STEP' "$res" 2>/dev/null || true)
			while [ "${n:-0}" -gt "$seen" ]; do
				seen=$(( seen + 1 ))
				log "$name: $(grep -a '^@@IOB STEP' "$res" | sed -n "${seen}p" | tr -d '\r' |
					sed 's/^@@IOB STEP //'); boot $(( done_boots + 1 )) of $total," \
				    "$(( total - done_boots - 1 )) after it, elapsed $(fmt_time $(( $(date +%s) - start )))"
			done
		done
		wait "$qpid" || rc=$?
		qpid=
		# QEMU itself failing (exit status 1; seen once: an assertion in its
		# MSI-X emulation 4 s into a boot) is retried once; kernel reports,
		# timeouts and failed guest scripts are not.
		if [ $rc -eq 1 ] && [ $try = 1 ]; then
			log "boot $name: QEMU failed ($(grep -a -m1 'qemu-system\|Assertion\|qemu failed' "$out" |
				tr -d '\r' | cut -c1-160)); retrying once"
			cp "$out" "$out.try1"
			echo "retried.$name=$(grep -a -m1 'Assertion\|qemu failed' "$out" | tr -d '\r' | cut -c1-200)" \
				>>"$RESULTS/meta"
			continue
		fi
		break
	done
	if [ $rc -ne 0 ]; then
		tail -n 60 "$out" | tr -d '\r' | sed 's/^/[bench]   | /' >&2
		fail "boot $name failed: qemu.sh exit status $rc (output: $out)"
	fi
	{ grep -a '^accelerator:\|^qemu.sh:' "$out" || true; } | sed 's/^/[bench]   /' >&2
	used=$(sed -n 's/^accelerator: \([a-z]*\).*/\1/p' "$out" | head -n 1)
	[ -n "$used" ] || fail "qemu.sh did not say which accelerator it used ($out)"
	if [ -z "$accel" ]; then
		accel=$used
		echo "accel=$accel" >>"$RESULTS/meta"
		echo "accel_line=$(grep -m1 '^accelerator:' "$out")" >>"$RESULTS/meta"
	elif [ "$accel" != "$used" ]; then
		fail "boot $name ran on $used, earlier boots on $accel: not comparable"
	fi
	[ -f "$res" ] || fail "boot $name wrote no results file $res"
	tr -d '\r' <"$res" >"$res.tmp" && mv "$res.tmp" "$res"
	# The guest must really have booted with the mode's arguments.
	local cmdline a
	cmdline=" $(sed -n 's/^@@IOB CMDLINE //p' "$res") "
	for a in $expect; do
		[[ $cmdline == *" $a "* ]] ||
			fail "guest command line of $name lacks '$a' (results: $res)"
	done
	[ -n "$kernel_version" ] ||
		kernel_version=$(sed -n 's/^@@IOB KERNEL //p' "$res" | head -n 1)
	# A namespace that came late is kept in the report, not hidden
	local waited
	waited=$(sed -n 's/^@@IOB NVME-WAIT seconds=//p' "$res" | head -n 1)
	if [ -n "$waited" ]; then
		log "boot $name: the NVMe namespace appeared after ${waited}s (kernel lines: NVME-DMESG in $res)"
		echo "nvme_wait.$name=$waited" >>"$RESULTS/meta"
	fi
	done_boots=$(( done_boots + 1 ))
	log "boot $name took $(fmt_time $(( $(date +%s) - t0 )))"
	echo "boot_secs.$name=$(( $(date +%s) - t0 ))" >>"$RESULTS/meta"
}

# script_done NAME SCRIPT TAG COUNT: the guest script SCRIPT of boot NAME
# ran to its end: no "@@IOB TAG-ERROR", init's "@@IOB END bench/SCRIPT
# pass", and its "@@IOB TAG-DONE count=COUNT" (all COUNT results given).
script_done() {
	local name=$1 script=$2 tag=$3 count=$4
	if grep -q "^@@IOB $tag-ERROR" "$res" ||
	   ! grep -q "^@@IOB END bench/$script pass" "$res"; then
		tail -n 40 "$res" >&2
		fail "$script failed in boot $name (results: $res)"
	fi
	grep -q "^@@IOB $tag-DONE count=$count\$" "$res" ||
		{ tail -n 30 "$RESULTS/bench/$name.console" >&2 2>/dev/null || true
		  fail "boot $name ended without $tag-DONE count=$count (results: $res)"; }
}

# kv KEY LINE: the value of KEY=value in a protocol line
kv() { local k=$1; shift; sed -n "s/.* $k=\([^ ]*\).*/\1/p" <<<" $*"; }

# pool_lines IOMMU MODE REP: the pool's counters from $res into pool.csv
pool_lines() {
	sed -n 's/^@@IOB POOL \([a-z_0-9]*\)=\(.*\)$/'"$1,$2,$3"',\1,\2/p' \
		"$res" >>"$RESULTS/pool.csv"
}

# domain_type NAME TYPE: fails unless the NVMe of boot NAME was in an IOMMU
# domain of TYPE (the guest's "@@IOB DEVICE" line in $res)
domain_type() {
	local gtype
	gtype=$(sed -n 's/^@@IOB DEVICE .* type=\([^ ]*\).*/\1/p' "$res")
	[ "$gtype" = "$2" ] ||
		fail "NVMe of $1 is in an IOMMU domain of type '$gtype'," \
		     "expected '$2' (results: $res)"
}

# auto_threshold NAME: a boot whose pool ended in mode auto must end with
# the threshold AUTO_THRESHOLD, which report.py takes auto's decisions
# from
auto_threshold() {
	local thr
	[ "$(sed -n 's/^@@IOB POOL mode=//p' "$res")" = auto ] || return 0
	thr=$(sed -n 's/^@@IOB POOL threshold=//p' "$res")
	[ "$thr" = "$AUTO_THRESHOLD" ] ||
		fail "boot $1 ended in mode auto with threshold '$thr', expected $AUTO_THRESHOLD (results: $res)"
}

# pool_summary: the pool's maps and what auto decides on, for the log
pool_summary() {
	local k
	for k in maps bytes mode costly_flush threshold; do
		printf '%s=%s ' "$k" "$(sed -n "s/^@@IOB POOL $k=//p" "$res")"
	done
}

# fio_rows IOMMU MODE REP NAME: the boot's "@@IOB FIO" lines into fio.csv
# and cpu.csv, a progress line each; a policy boot's lines carry their own
# mode= and round=: they count as repetition (REP - 1) * ROUNDS + round of
# that mode. Prints how many.
fio_rows() {
	local line rw bs iops m r n=0
	while read -r line; do
		rw=$(kv rw "$line"); bs=$(kv bs "$line"); iops=$(kv iops "$line")
		m=$(kv mode "$line"); r=$(kv round "$line")
		[[ $bs =~ ^[0-9]+$ && $iops =~ ^[0-9]+$ ]] ||
			fail "malformed result line in $res: $line"
		if [ -n "$m$r" ]; then
			in_list "$m" "${policies[@]}" && [[ $r =~ ^[1-9][0-9]*$ ]] &&
				[ "$r" -le "$ROUNDS" ] ||
				fail "policy run of $4 with mode '$m' round '$r' (results: $res)"
			r=$(( ($3 - 1) * ROUNDS + r ))
		else
			m=$2 r=$3
		fi
		echo "$1,$m,$rw,$bs,$r,$iops,$4" >>"$csv"
		echo "$1,$m,$rw,$bs,$r,$(kv bytes "$line"),$(kv busy "$line"),$(kv hz "$line")" \
			>>"$RESULTS/cpu.csv"
		printf '[bench]   %-14s %-8s bs=%-8s %8s IOPS\n' "$m" "$rw" "$bs" "$iops" >&2
		n=$(( n + 1 ))
	done < <(grep '^@@IOB FIO ' "$res")
	echo "$n"
}

# net_modes_ok NAME: every "@@IOB NETMODE" line of the NIC boot NAME shows
# both groups as its mode wants them (net.sh checks too; this is the
# record)
net_modes_ok() {
	local line m n=0
	while read -r line; do
		m=$(kv mode "$line")
		[ -n "${NET_MODE_TYPE[$m]:-}" ] || fail "boot $1: unknown mode in: $line"
		if [ "$(kv type_a "$line") $(kv type_b "$line")" != "${NET_MODE_TYPE[$m]} ${NET_MODE_TYPE[$m]}" ] ||
		   [ "$(kv bounce_a "$line") $(kv bounce_b "$line")" != "${NET_MODE_BOUNCE[$m]} ${NET_MODE_BOUNCE[$m]}" ]; then
			fail "boot $1: mode $m wants type ${NET_MODE_TYPE[$m]} and bounce" \
			     "${NET_MODE_BOUNCE[$m]}, the guest has: $line (results: $res)"
		fi
		n=$(( n + 1 ))
	done < <(grep '^@@IOB NETMODE ' "$res")
	[ "$n" -ge $(( NET_ROUNDS * ${#net_modes[@]} )) ] ||
		fail "boot $1: $n mode switches, expected at least $(( NET_ROUNDS * ${#net_modes[@]} )) (results: $res)"
}

# net_rows IOMMU NIC NAME: the NIC boot's "@@IOB NET" lines into net.csv
# (test NIC:rr or NIC:stream), checked: every mode, round and test exactly
# once, a positive rate; a progress line each
net_rows() {
	local iommu=$1 nic=$2 name=$3 line m r t sz rate unit key n=0 mtu ok
	local -A got=()
	mtu=$(sed -n 's/^@@IOB NETDEV .* mtu=\([0-9]*\).*/\1/p' "$res")
	[ -n "$mtu" ] || fail "boot $name: no NETDEV line with the MTU (results: $res)"
	while read -r line; do
		m=$(kv mode "$line"); r=$(kv round "$line"); t=$(kv test "$line")
		sz=$(kv size "$line"); rate=$(kv rate "$line"); unit=$(kv unit "$line")
		ok=0
		if in_list "$m" "${net_modes[@]}" && [[ $r =~ ^[1-9][0-9]*$ ]] && (( r <= NET_ROUNDS )) &&
		   [[ $rate =~ ^[0-9]+(\.[0-9]+)?$ && ! $rate =~ ^0+(\.0*)?$ ]]; then
			case $t/$unit in
			rr/tps) in_list "rr:$sz" "${net_tests[@]}" && ok=1 ;;
			stream/mbps) [ "$sz" = "$mtu" ] && in_list stream "${net_tests[@]}" && ok=1 ;;
			esac
		fi
		[ $ok = 1 ] || fail "boot $name: malformed or unexpected NIC result: $line (results: $res)"
		key=$m/$r/$t/$sz
		[ -z "${got[$key]:-}" ] || fail "boot $name: two results for $key (results: $res)"
		got[$key]=1
		echo "$iommu,$m,$nic:$t,$sz,$r,$rate" >>"$RESULTS/net.csv"
		printf '[bench]   %-12s round %-2s %-6s %-8s %12s %s\n' "$m" "$r" "$t" \
			"$([ "$t" = rr ] && echo "$sz B" || echo "MTU $sz")" "$rate" \
			"$([ "$unit" = tps ] && echo transactions/s || echo Mbit/s)" >&2
		n=$(( n + 1 ))
	done < <(grep '^@@IOB NET ' "$res")
	# distinct and within the expected set: as many as expected is all
	[ "$n" -eq "$n_net" ] || fail "boot $name gave $n NIC results, expected $n_net (results: $res)"
}

# net_extra IOMMU NIC NAME: the NIC boot's profiler pass, pool counters and
# pool samples into net-prof.csv, net-maps.csv and net-pool.csv; fails
# when the bounce mode's pools served nothing (no bounce run at all)
net_extra() {
	local iommu=$1 nic=$2 name=$3 line m ma mb n
	while read -r line; do
		[[ $(kv packets "$line") =~ ^[1-9][0-9]*$ && $(kv hits "$line") =~ ^[0-9]+$ ]] ||
			fail "boot $name: malformed profiler result: $line (results: $res)"
		echo "$iommu,$(kv mode "$line"),$nic:$(kv test "$line"),$(kv size "$line"),$(kv secs "$line"),$(kv packets "$line"),$(kv func "$line"),$(kv hits "$line")"
	done < <(grep '^@@IOB NETPROF ' "$res") >>"$RESULTS/net-prof.csv"
	n=$(grep -c '^@@IOB NETPROF ' "$res" || true)
	[ "$NET_PROFILE" = 0 ] || [ "$n" -eq $(( ${#net_modes[@]} * ${#net_tests[@]} *
		$(tr + '\n' <<<"${REQ_FUNCS[$iommu]}" | wc -l) )) ] ||
		fail "boot $name: $n profiler results, expected one per mode, test and function (results: $res)"
	while read -r line; do
		[[ $(kv packets "$line") =~ ^[1-9][0-9]*$ &&
		   $(kv maps "$line") =~ ^([0-9]+|none)$ && $(kv bytes "$line") =~ ^([0-9]+|none)$ ]] ||
			fail "boot $name: malformed pool count: $line (results: $res)"
		echo "$iommu,$(kv mode "$line"),$nic:$(kv test "$line"),$(kv size "$line"),$(kv packets "$line"),$(kv maps "$line"),$(kv bytes "$line")"
	done < <(grep '^@@IOB NETCOPY ' "$res") >>"$RESULTS/net-copy.csv"
	n=$(grep -c '^@@IOB NETCOPY ' "$res" || true)
	[ "$NET_PROFILE" = 0 ] || [ "$n" -eq $(( ${#net_modes[@]} * ${#net_tests[@]} )) ] ||
		fail "boot $name: $n pool counts, expected one per mode and test (results: $res)"
	while read -r line; do
		m=$(kv mode "$line") ma=$(kv maps_a "$line") mb=$(kv maps_b "$line")
		echo "$iommu,$nic,$m,$(kv round "$line"),$ma,$mb,$(kv fallbacks_a "$line"),$(kv fallbacks_b "$line")" \
			>>"$RESULTS/net-maps.csv"
		if [ "$m" = bounce ] && { [ "$ma" = 0 ] || [ "$mb" = 0 ]; }; then
			fail "boot $name: in mode bounce a pool served no mapping: $line (results: $res)"
		fi
	done < <(grep '^@@IOB NETMAPS ' "$res")
	while read -r line; do
		echo "$(kv mode "$line"),$(kv t "$line"),$(kv bytes "$line"),$(kv maps "$line"),$nic,$iommu"
	done < <(grep '^@@IOB NETPOOL ' "$res") >>"$RESULTS/net-pool.csv"
	n=$(grep -c '^@@IOB NETPOOL ' "$res" || true)
	[ "$n" -eq "$n_net_pool" ] ||
		fail "boot $name: $n pool samples, expected $n_net_pool (results: $res)"
	{
		sed -n 's/^@@IOB NETPOOLRUN mode=\([a-z]*\) .* mbps=\([0-9.]*\).*/'"net_pool_mbps.$iommu.$nic"'.\1=\2/p' "$res"
		sed -n 's/^@@IOB NETORDER round=\([0-9]*\) modes=\(.*\)$/'"net_order.$iommu.$nic"'.\1=\2/p' "$res"
		sed -n 's/^@@IOB NETDEV /'"net_dev.$iommu.$nic"'=/p' "$res"
	} >>"$RESULTS/meta"
}

for rep in $(seq 1 "$REPS"); do
	base=("${modes[@]}")
	if (( rep % 2 == 0 )); then
		for (( i = 0, j = ${#base[@]} - 1; i < j; i++, j-- )); do
			m=${base[i]} base[i]=${base[j]} base[j]=$m
		done
	fi
	rot=$(( (rep - 1) % ${#base[@]} ))
	rep_modes=("${base[@]:rot}" "${base[@]:0:rot}")
	log "rep $rep/$REPS boots the modes in this order: ${rep_modes[*]}"
	for iommu in "${iommus[@]}"; do
		for mode in "${rep_modes[@]}"; do
			log "rep $rep/$REPS mode $mode ($iommu): boot $(( done_boots + 1 )) of $total," \
			    "elapsed $(fmt_time $(( $(date +%s) - start )))"
			name=$iommu-$mode-rep$rep
			args="runtime=$RUNTIME,warmup=$WARMUP,huge=$HUGE,prime=$PRIME"
			tmo=$timeout_fio
			if [ "$rep" = 1 ]; then
				tmo=$timeout_rep1
				[ "$PROFILE" = 1 ] &&
					args+=",profile=$PROF_RUNTIME,reqfuncs=${REQ_FUNCS[$iommu]}"
				in_list "$mode" $POOL_MODES && args+=",pool=1,idle=$IDLE"
			fi
			args+=",$(IFS=,; echo "${workloads[*]}")"
			boot "$name" "$iommu" "$SMP" "$tmo" \
			     "${MODE_ARGS[$mode]} iob.run=bench:fio.sh iob.args=$args" \
			     "${MODE_ARGS[$mode]}"
			script_done "$name" fio.sh FIO "$n_wl"
			domain_type "$name" "${MODE_GROUP_TYPE[$mode]}"
			n=$(fio_rows "$iommu" "$mode" "$rep" "$name")
			[ "$n" -eq "$n_wl" ] ||
				fail "boot $name gave $n results, expected $n_wl (results: $res)"
			while read -r line; do
				echo "$iommu,$mode,$(kv rw "$line"),$(kv bs "$line"),$(kv set "$line"),$(kv bytes "$line"),$(kv func "$line"),$(kv hits "$line"),$(kv time_us "$line")"
			done < <(grep '^@@IOB PROF ' "$res") >>"$RESULTS/prof.csv"
			# inflight bytes: the mean number of requests in flight
			# since the previous sample (growth of time_in_queue, in
			# request-ms, over the ms between samples) x request size
			# (at most max_sectors_kb: a 1M read may be several); the
			# instant's count of requests beside it
			{ grep '^@@IOB POOLT ' "$res" || true; } | sed 's/=/ /g' |
			awk -v io="$iommu" -v m="$mode" '{
				t = $4; ph = $6; bs = $8; pool = $10; infl = $12; rq = $14; tiq = $16
				sz = (rq > 0 && bs > rq) ? rq : bs
				mean = (NR > 1 && t > pt) ? (tiq - ptiq) / ((t - pt) * 1000) : infl
				pt = t; ptiq = tiq
				printf "%s,%s,%s,%s,%d,%d,%d,%d\n", io, m, t, ph, bs, pool, mean * sz, infl
			}' >>"$RESULTS/pool-time.csv"
			pool_lines "$iommu" "$mode" "$rep"
			auto_threshold "$name"
			# A bounce run the pool did not serve is no bounce run at
			# all; a bounce-<bytes> threshold may be below every
			# mapping (say so); auto bounces nothing where the IOMMU
			# driver does not call its invalidations costly.
			pmaps=$(sed -n 's/^@@IOB POOL maps=//p' "$res")
			if [ "${pmaps:-0}" -eq 0 ]; then
				case $mode in
				bounce) fail "boot $name: the bounce pool served no mapping (results: $res)" ;;
				bounce-[0-9]*) log "warning: boot $name: the bounce pool served no mapping" ;;
				esac
			fi
			if [[ $mode == bounce* ]]; then
				log "pool after $name: $(pool_summary)"
			fi
		done
		[ ${#policies[@]} -gt 0 ] || continue
		name=$iommu-policy-rep$rep
		log "rep $rep/$REPS policy boot ($iommu): ${policies[*]} x ${policy_workloads[*]}" \
		    "x $ROUNDS rounds: boot $(( done_boots + 1 )) of $total," \
		    "elapsed $(fmt_time $(( $(date +%s) - start )))"
		args="runtime=$RUNTIME,warmup=$WARMUP,huge=$HUGE,policies=$(IFS=+; echo "${policies[*]}")"
		args+=",rounds=$ROUNDS,prime=$PRIME,autothr=$AUTO_THRESHOLD,$(IFS=,; echo "${policy_workloads[*]}")"
		boot "$name" "$iommu" "$SMP" "$timeout_policy" \
		     "$POLICY_ARGS iob.run=bench:fio.sh iob.args=$args" "$POLICY_ARGS"
		script_done "$name" fio.sh FIO "$n_pol"
		domain_type "$name" DMA
		n=$(fio_rows "$iommu" policy "$rep" "$name")
		[ "$n" -eq "$n_pol" ] ||
			fail "boot $name gave $n results, expected $n_pol (results: $res)"
		pool_lines "$iommu" policy "$rep"
		auto_threshold "$name"
		log "pool after $name: $(pool_summary)"
	done
done

for iommu in "${iommus[@]}"; do
	for mode in "${dmab_modes[@]}"; do
		log "dma_map_benchmark mode $mode ($iommu, -smp $DMAB_SMP): boot $(( done_boots + 1 )) of $total," \
		    "elapsed $(fmt_time $(( $(date +%s) - start )))"
		name=$iommu-$mode-dmab
		args="threads=$(IFS=+; echo "${dmab_threads[*]}"),seconds=$DMAB_SECONDS,$(IFS=,; echo "${dmab_pages[*]}")"
		boot "$name" "$iommu" "$DMAB_SMP" "$timeout_dmab" \
		     "${MODE_ARGS[$mode]} iob.run=bench:dmab.sh iob.args=$args" \
		     "${MODE_ARGS[$mode]}"
		script_done "$name" dmab.sh DMAB "$n_dmab"
		while read -r line; do
			echo "$iommu,$mode,$(kv threads "$line"),$(kv dir "$line"),$(kv pages "$line"),$(kv map_us "$line"),$(kv unmap_us "$line"),$(kv map_sd_us "$line"),$(kv unmap_sd_us "$line")"
		done < <(grep '^@@IOB DMAB ' "$res") >>"$RESULTS/dmab.csv"
	done
done
# The NIC bench: one boot per IOMMU and NIC model, every mode in it
if [ "$NET" = 1 ]; then
	for iommu in "${iommus[@]}"; do
		for nic in "${net_nics[@]}"; do
			log "NIC bench $nic ($iommu): ${net_modes[*]} x ${net_tests[*]} x $NET_ROUNDS rounds:" \
			    "boot $(( done_boots + 1 )) of $total, elapsed $(fmt_time $(( $(date +%s) - start )))"
			name=$iommu-net-$nic
			args="nic=$nic,modes=$(IFS=+; echo "${net_modes[*]}"),tests=$(IFS=+; echo "${net_tests[*]}")"
			args+=",rounds=$NET_ROUNDS,runtime=$NET_RUNTIME,warmup=$NET_WARMUP,prime=$NET_PRIME"
			args+=",threshold=$NET_THRESHOLD,poolsecs=$NET_POOL_SECS"
			[ ${#net_pool_modes[@]} -eq 0 ] || args+=",pool=$(IFS=+; echo "${net_pool_modes[*]}")"
			[ -z "$NET_CPUS" ] || args+=",cpus=$NET_CPUS"
			[ "$NET_PROFILE" = 0 ] || args+=",profile=$NET_PROF_RUNTIME,reqfuncs=${REQ_FUNCS[$iommu]}"
			boot "$name" "$iommu" "$SMP" "$timeout_net" \
			     "$NET_BOOT_ARGS iob.run=bench:net.sh iob.args=$args" "$NET_BOOT_ARGS" "$nic"
			script_done "$name" net.sh NET "$n_net"
			net_modes_ok "$name"
			net_rows "$iommu" "$nic" "$name"
			net_extra "$iommu" "$nic" "$name"
		done
	done
fi
echo "kernel=$kernel_version" >>"$RESULTS/meta"
log "all $total boots done in $(fmt_time $(( $(date +%s) - start ))): $csv"

log "writing $RESULTS/report.md and $RESULTS/costs.csv"
python3 "$BENCH/report.py" --results "$RESULTS" >/dev/null
log "plotting $RESULTS/fio.png"
gnuplot -e "resdir='$RESULTS'; iommus='${iommus[*]}'; note='$accel, reps=$REPS'" \
	"$BENCH/plot.gp" ||
	fail "gnuplot failed"
[ -s "$RESULTS/fio.png" ] || fail "gnuplot wrote no $RESULTS/fio.png"
if [ "$policy_boots" -gt 0 ]; then
	log "plotting $RESULTS/policy.png"
	gnuplot -e "resdir='$RESULTS'; iommus='${iommus[*]}'; prefix='policy';" \
		-e "what='bounce policy, switched in the same boots'; note='$accel, $REPS boots x $ROUNDS rounds'" \
		"$BENCH/plot.gp" || fail "gnuplot failed on the policy plot"
	[ -s "$RESULTS/policy.png" ] || fail "gnuplot wrote no $RESULTS/policy.png"
fi
if [ "$(wc -l <"$RESULTS/pool-time.csv")" -gt 1 ]; then
	log "plotting $RESULTS/pool.png"
	gnuplot -e "resdir='$RESULTS'; panels='$(tail -n +2 "$RESULTS/pool-time.csv" |
		cut -d, -f1,2 | sort -u | tr ',\n' ': ' | sed 's/ $//')'" "$BENCH/pool.gp" ||
		fail "gnuplot failed on pool.gp"
	[ -s "$RESULTS/pool.png" ] || fail "gnuplot wrote no $RESULTS/pool.png"
fi
if [ "$NET" = 1 ]; then
	log "plotting $RESULTS/net.png"
	[ -s "$RESULTS/net-panels.gp" ] || fail "report.py wrote no $RESULTS/net-panels.gp"
	gnuplot -e "resdir='$RESULTS'; note='$accel, $NET_ROUNDS rounds'" "$BENCH/net.gp" ||
		fail "gnuplot failed on net.gp"
	[ -s "$RESULTS/net.png" ] || fail "gnuplot wrote no $RESULTS/net.png"
fi
cat "$RESULTS/report.md"
log "done in $(fmt_time $(( $(date +%s) - start ))): $(cd "$RESULTS" && ls -d \
	report.md fio.png policy.png pool.png net.png fio.csv costs.csv dmab.csv pool-time.csv \
	net.csv net-costs.csv net-pool.csv 2>/dev/null |
	sed "s|^|$RESULTS/|" | tr '\n' ' ')"
