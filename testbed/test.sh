#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test.sh [full] - what "make test" ("make test-full") runs: the series
# check, the bench report's unit tests, then the guest tests on every
# architecture of TEST_ARCHES (default: both; "make test ARCH=arm64" runs
# one):
#
#   x86_64  the test kernel, every test that boots on x86_64 (tests/check)
#   arm64   the test kernel behind SMMUv3: ARM64_SMMU_TESTS
#           the test kernel with non-coherent PCIe (testbed/dtb.sh),
#             behind SMMUv3: ARM64_NC_TESTS
#   and with "full" (make test-full) also
#   arm64   the test kernel behind SMMUv3: ARM64_FULL_TESTS (the NICs)
#           the test64k kernel (64 KiB pages) behind virtio-iommu:
#             ARM64_64K_TESTS
#
# make test must end within CI's 90 minutes from a cold cache on 2 CPUs:
# the 64 KiB-page set costs a cold kernel build of its own (about 12
# minutes) and the arm64 NIC test 5 minutes, so they run in test-full.
# Measured (2026-12-07, TCG, Debian packages already installed): 85.5
# minutes from an empty cache (49 tests), 56 minutes warm (CI).
#
# The series check and the report's unit tests count as one test each.
# Each guest run prints its own "N passed, N failed"; a run that stops
# before its tests (a kernel that does not build) counts as one failure,
# and the others still run. The last line is the sum over all of them.
set -euo pipefail
# The architecture asked for, before lib.sh defaults it
asked=${IOB_ARCH:-${ARCH:-}}
. "$(dirname "$0")/lib.sh"
cd "$IOB_TOP"

full=0
case ${1:-} in
"") ;;
full) full=1 ;;
*) die "unknown argument '$1' (accepted: full, or none)" ;;
esac
ARM64_SMMU_TESTS=${ARM64_SMMU_TESTS:-"kunit/001 bounce/001 bounce/003 bounce/004 bounce/005 iso nvme/001"}
ARM64_FULL_TESTS=${ARM64_FULL_TESTS:-"net/001"}
ARM64_64K_TESTS=${ARM64_64K_TESTS:-"kunit/001 bounce/001 iso/002 iso/004 iso/005"}
ARM64_NC_TESTS=${ARM64_NC_TESTS:-"arm64/001 iso/003 iso/004"}
if [ -n "${TEST_ARCHES:-}" ]; then
	arches=$TEST_ARCHES
elif [ -n "$asked" ]; then
	arches=$IOB_ARCH
else
	arches="x86_64 arm64"
fi
for a in $arches; do iob_check_one_of "architecture in TEST_ARCHES" "$a" x86_64 arm64; done

passed=0 failed=0 summary=()
start=$(date +%s)
# step LABEL CMD...: a check outside the guests, one pass or one failure
step() {
	local label=$1
	shift
	echo "== $label"
	if "$@"; then
		passed=$((passed + 1))
		summary+=("$label: pass")
	else
		failed=$((failed + 1))
		summary+=("$label: FAILED")
	fi
}
# run LABEL ARCH FLAVOR [VAR=value...] -- [TEST...]: build that kernel,
# run tests/check with the variables, add its counts.
run() {
	local label=$1 arch=$2 flavor=$3 vars=() line t0 log
	t0=$(date +%s)
	shift 3
	while [ "$1" != -- ]; do vars+=("$1"); shift; done
	shift
	echo "== $label: building the $arch $flavor kernel"
	if ! IOB_ARCH=$arch "$IOB_TOP/testbed/kernel.sh" "$flavor"; then
		failed=$((failed + 1))
		summary+=("$label: kernel build failed")
		return
	fi
	echo "== $label: guest tests"
	log=$(mktemp)
	env IOB_ARCH="$arch" FLAVOR="$flavor" "${vars[@]}" "$IOB_TOP/tests/check" "$@" 2>&1 |
		tee "$log" || true
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || true)
	rm -f "$log"
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		summary+=("$label: tests/check stopped before its tests")
		return
	fi
	passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
	failed=$((failed + $(echo "$line" | cut -d' ' -f3)))
	summary+=("$label: $line ($(( $(date +%s) - t0 ))s)")
}

step "the series applies to pristine 6.12, kernel/ matches it, checkpatch --strict is clean" \
	"$IOB_TOP/testbed/series.sh" check
step "bench/report.py unit tests (intervals, verdicts, net.csv)" \
	python3 -m unittest -q bench/test_report.py

for a in $arches; do
	case $a in
	x86_64)
		run "x86_64" x86_64 test --
		;;
	arm64)
		# shellcheck disable=SC2086 # lists of tests
		run "arm64 SMMUv3" arm64 test IOMMU=smmuv3 -- $ARM64_SMMU_TESTS
		# shellcheck disable=SC2086
		run "arm64 non-coherent PCIe, SMMUv3" arm64 test IOMMU=smmuv3 DTB=noncoherent -- $ARM64_NC_TESTS
		[ $full = 1 ] || continue
		# shellcheck disable=SC2086
		run "arm64 SMMUv3, NICs" arm64 test IOMMU=smmuv3 -- $ARM64_FULL_TESTS
		# shellcheck disable=SC2086
		run "arm64 64K pages, virtio-iommu" arm64 test64k IOMMU=virtio -- $ARM64_64K_TESTS
		;;
	esac
done

echo "== summary ($(( $(date +%s) - start ))s of guest tests and kernel builds)"
printf '  %s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
