#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/run.sh - fio IOPS per DMA mode, IOMMU and block size, in QEMU.
#
# Every boot runs one mode with all block sizes (bench/guest/fio.sh).
# Modes are interleaved and the whole round repeated, so slow drift of a
# shared machine spreads over all modes instead of biasing one:
#
#   for rep in 1..REPS: for iommu in IOMMUS: for mode in MODES: one boot
#
# Environment (all optional):
#   MODES     modes to run, space separated (default: strict lazy passthrough
#             swiotlb; every name in the MODE_ARGS table below is accepted)
#   IOMMU     virtio (default), vtd, or both
#   REPS      repetitions (default 3; QUICK=1 makes it 2)
#   RUNTIME   seconds of fio per block size (default 5; QUICK=1 makes it 2)
#   WARMUP    seconds of unmeasured fio before each size (default 1)
#   BS        block sizes (default "4k 16k 64k 128k")
#   RW        fio --rw (default read)
#   KERNEL    guest kernel (default: build with testbed/kernel.sh bench)
#   INITRD    guest initramfs (default: build with testbed/initramfs.sh)
#   RESULTS   output folder (default: results/ at the top of the repo)
#   SMP, MEM  guest CPUs and MiB (default 2 and 2048)
#   IOB_ACCEL kvm or tcg, to force QEMU's accelerator (testbed/lib.sh)
#   DISK_MB   size of the NVMe's sparse image $IOB_CACHE/bench-disk.img
#             (default 1024; fio reads all of it, so it is all zeros)
#
# Writes RESULTS/fio.csv (iommu,mode,rw,bs,rep,iops), RESULTS/meta, and
# for every boot under RESULTS/bench/ NAME.console (ttyS0), NAME.res (the
# guest's results port) and NAME.log (all qemu.sh printed); then
# RESULTS/report.md (bench/report.py) and RESULTS/fio.png (bench/plot.gp).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/../testbed/lib.sh"

log() { printf '[bench] %s\n' "$*" >&2; }
fail() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# The mode table: name -> kernel command line. Add a mode here and it is
# accepted by MODES, named in the CSV and shown by report.py and plot.gp.
declare -A MODE_ARGS=(
	[strict]="iommu.strict=1"
	[lazy]="iommu.strict=0"
	[passthrough]="iommu.passthrough=1"
	[swiotlb]="iommu.passthrough=1 swiotlb=force"
	[bounce]="iommu.strict=1 iommu.bounce=1"
)
# The IOMMU group type the NVMe must end up in, checked after each boot.
declare -A MODE_GROUP_TYPE=(
	[strict]=DMA
	[lazy]=DMA-FQ
	[passthrough]=identity
	[swiotlb]=identity
	[bounce]=DMA
)
MODE_ORDER=(strict lazy passthrough swiotlb bounce)	# CSV/report order
DEFAULT_MODES="strict lazy passthrough swiotlb bounce"
IOMMU_ORDER=(virtio vtd)

# The workload: guest script and its fixed arguments. fio.sh is the only
# one for now; another workload gets its own guest script and parser.
WORKLOAD=fio.sh

quick=${QUICK:-0}
REPS=${REPS:-$([ "$quick" = 1 ] && echo 2 || echo 3)}
RUNTIME=${RUNTIME:-$([ "$quick" = 1 ] && echo 2 || echo 5)}
WARMUP=${WARMUP:-1}
BS=${BS:-4k 16k 64k 128k}
RW=${RW:-read}
SMP=${SMP:-2}
MEM=${MEM:-2048}
DISK_MB=${DISK_MB:-1024}
RESULTS=${RESULTS:-$IOB_TOP/results}
read -r -a modes <<<"${MODES:-$DEFAULT_MODES}"
read -r -a sizes <<<"$BS"

case ${IOMMU:-virtio} in
both) iommus=("${IOMMU_ORDER[@]}") ;;
*) iob_check_one_of IOMMU "${IOMMU:-virtio}" "${IOMMU_ORDER[@]}" both
   iommus=("${IOMMU:-virtio}") ;;
esac
[ ${#modes[@]} -gt 0 ] || fail "MODES is empty (accepted: ${MODE_ORDER[*]})"
for m in "${modes[@]}"; do
	iob_check_one_of mode "$m" "${MODE_ORDER[@]}"
done
[ ${#sizes[@]} -gt 0 ] || fail "BS is empty"
for b in "${sizes[@]}"; do
	[[ $b =~ ^[1-9][0-9]*[kKmM]?$ ]] || fail "bad block size '$b' in BS (e.g. 4k 64k 1m 512)"
done
iob_check_one_of RW "$RW" read write randread randwrite rw readwrite randrw
for v in REPS RUNTIME WARMUP SMP MEM DISK_MB; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || fail "$v must be a positive integer, not '${!v}'"
done

iob_deps
if [ -z "${KERNEL:-}" ]; then
	log "building the bench kernel (testbed/kernel.sh bench; set KERNEL= to skip)"
	"$IOB_TOP/testbed/kernel.sh" bench
	KERNEL=$IOB_CACHE/out/bench/bzImage
fi
if [ -z "${INITRD:-}" ]; then
	log "building the initramfs (testbed/initramfs.sh; set INITRD= to skip)"
	"$IOB_TOP/testbed/initramfs.sh"
	INITRD=$IOB_CACHE/out/initrd.cpio
fi
[ -f "$KERNEL" ] || fail "no kernel at $KERNEL"
[ -f "$INITRD" ] || fail "no initramfs at $INITRD"
accel=	# what qemu.sh reports it used, recorded after the first boot
disk=$IOB_CACHE/bench-disk.img	# our own image: tests may run beside us

mkdir -p "$RESULTS/bench"
rm -f "$RESULTS"/bench/*.log "$RESULTS"/bench/*.res "$RESULTS"/bench/*.console "$RESULTS/fio.csv" \
	"$RESULTS/report.md" "$RESULTS/fio.png" "$RESULTS"/fio-*.dat
csv=$RESULTS/fio.csv
echo "iommu,mode,rw,bs,rep,iops" >"$csv"
echo "iommu,mode,rep,key,value" >"$RESULTS/pool.csv"

total=$(( REPS * ${#iommus[@]} * ${#modes[@]} ))
# Boot and power-off take a minute or two under TCG; allow for that plus
# warm-up, measurement and fio's start-up per size.
timeout=$(( 300 + ${#sizes[@]} * (WARMUP + RUNTIME + 30) ))
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "kernel_file=$KERNEL"
	echo "kernel_sha1=$(sha1sum <"$KERNEL" | cut -c1-12)"
	echo "series=$(cat "$IOB_TOP"/patches/*.patch 2>/dev/null | sha1sum | cut -c1-12)"
	echo "repo=$(git -C "$IOB_TOP" describe --always --dirty 2>/dev/null || echo unknown)"
	echo "qemu=$(qemu-system-x86_64 --version | head -n 1)"
	echo "host_cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "reps=$REPS"
	echo "runtime=$RUNTIME"
	echo "warmup=$WARMUP"
	echo "rw=$RW"
	echo "bs=${sizes[*]}"
	echo "iommus=${iommus[*]}"
	echo "modes=${modes[*]}"
	echo "smp=$SMP"
	echo "mem=$MEM"
	echo "disk_mb=$DISK_MB"
	for m in "${modes[@]}"; do echo "mode_args.$m=${MODE_ARGS[$m]}"; done
} >"$RESULTS/meta"
log "$total boots: reps=$REPS iommu=${iommus[*]} modes=${modes[*]} rw=$RW bs=${sizes[*]}" \
    "runtime=${RUNTIME}s kernel=$KERNEL"

fmt_time() { printf '%dm%02ds' $(( $1 / 60 )) $(( $1 % 60 )); }

start=$(date +%s)
done_boots=0
kernel_version=
for rep in $(seq 1 "$REPS"); do
	for iommu in "${iommus[@]}"; do
		for mode in "${modes[@]}"; do
			left=$(( total - done_boots ))
			log "rep $rep/$REPS mode $mode ($iommu): $left of $total boots left," \
			    "elapsed $(fmt_time $(( $(date +%s) - start )))"
			name=$iommu-$mode-rep$rep
			con=$RESULTS/bench/$name.console
			res=$RESULTS/bench/$name.res
			out=$RESULTS/bench/$name.log
			args=$(IFS=,; echo "runtime=$RUNTIME,warmup=$WARMUP,$RW,${sizes[*]}")
			t0=$(date +%s)
			rc=0
			"$IOB_TOP/testbed/qemu.sh" --kernel "$KERNEL" --initrd "$INITRD" \
				--iommu "$iommu" --smp "$SMP" --mem "$MEM" --timeout "$timeout" \
				--append "${MODE_ARGS[$mode]} iob.run=bench:$WORKLOAD iob.args=$args" \
				--disk "$disk" --disk-size "$DISK_MB" \
				--console "$con" --results "$res" >"$out" 2>&1 || rc=$?
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
			elif [ "$accel" != "$used" ]; then
				fail "boot $name ran on $used, earlier boots on $accel: not comparable"
			fi
			[ -f "$res" ] || fail "boot $name wrote no results file $res"
			tr -d '\r' <"$res" >"$res.tmp" && mv "$res.tmp" "$res"
			if grep -q '^@@IOB FIO-ERROR' "$res" ||
			   ! grep -q "^@@IOB END bench/$WORKLOAD pass" "$res"; then
				tail -n 40 "$res" >&2
				fail "$WORKLOAD failed in boot $name (results: $res, console: $con)"
			fi
			grep -q "^@@IOB FIO-DONE count=${#sizes[@]}\$" "$res" 2>/dev/null ||
				{ tail -n 30 "$con" >&2 2>/dev/null || true
				  fail "boot $name ended without FIO-DONE count=${#sizes[@]} (results: $res)"; }
			# The guest must really have booted with the mode's arguments.
			cmdline=" $(sed -n 's/^@@IOB CMDLINE //p' "$res") "
			for a in ${MODE_ARGS[$mode]}; do
				[[ $cmdline == *" $a "* ]] ||
					fail "guest command line of $name lacks '$a' (results: $res)"
			done
			gtype=$(sed -n 's/^@@IOB DEVICE .* type=//p' "$res")
			[ "$gtype" = "${MODE_GROUP_TYPE[$mode]}" ] ||
				fail "NVMe of $name is in an IOMMU domain of type '$gtype'," \
				     "expected '${MODE_GROUP_TYPE[$mode]}' (results: $res)"
			[ -n "$kernel_version" ] ||
				kernel_version=$(sed -n 's/^@@IOB KERNEL //p' "$res" | head -n 1)
			n=0
			while read -r _ _ f_rw f_bs f_iops; do
				rw=${f_rw#rw=}; bs=${f_bs#bs=}; iops=${f_iops#iops=}
				[[ $bs =~ ^[0-9]+$ && $iops =~ ^[0-9]+$ ]] ||
					fail "malformed result line in $res: FIO $f_rw $f_bs $f_iops"
				echo "$iommu,$mode,$rw,$bs,$rep,$iops" >>"$csv"
				printf '[bench]   %-7s bs=%-7s %8s IOPS\n' "$rw" "$bs" "$iops" >&2
				n=$(( n + 1 ))
			done < <(grep '^@@IOB FIO ' "$res")
			[ "$n" -eq ${#sizes[@]} ] ||
				fail "boot $name gave $n results, expected ${#sizes[@]} (results: $res)"
			# Pool counters after the run (bounce mode): kept for the
			# report, and a bounce run the pool did not serve is no
			# bounce run at all.
			sed -n 's/^@@IOB POOL \([a-z_0-9]*\)=\(.*\)$/'"$iommu,$mode,$rep"',\1,\2/p' \
				"$res" >>"$RESULTS/pool.csv"
			if [ "$mode" = bounce ]; then
				pmaps=$(sed -n 's/^@@IOB POOL maps=//p' "$res")
				[ "${pmaps:-0}" -gt 0 ] ||
					fail "boot $name: the bounce pool served no mapping (results: $res)"
				log "pool after $name: maps=$pmaps" \
				    "bytes=$(sed -n 's/^@@IOB POOL bytes=//p' "$res")"
			fi
			done_boots=$(( done_boots + 1 ))
			log "boot $name took $(fmt_time $(( $(date +%s) - t0 )))"
		done
	done
done
echo "kernel=$kernel_version" >>"$RESULTS/meta"
log "all $total boots done in $(fmt_time $(( $(date +%s) - start ))): $csv"

log "writing $RESULTS/report.md"
python3 "$BENCH/report.py" --results "$RESULTS"
log "plotting $RESULTS/fio.png"
gnuplot -e "resdir='$RESULTS'; iommus='${iommus[*]}'; note='rw=$RW, $accel, reps=$REPS'" \
	"$BENCH/plot.gp" ||
	fail "gnuplot failed"
[ -s "$RESULTS/fio.png" ] || fail "gnuplot wrote no $RESULTS/fio.png"
log "done: $RESULTS/report.md $RESULTS/fio.png $csv"
