# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the tests that drive QEMU's edu device through the iob_edu
# test module (tests/modules/iob_edu; /lib/modules/iob_edu.ko in the
# guest). Busybox sh. Sourced after common/guest.sh and common/bounce.sh.

IOB_EDU_DIR=/sys/kernel/debug/iob_edu
# The kernel's PAGE_SIZE (AT_PAGESZ, type 6 of the auxiliary vector): the
# module's buf_dump, ll_dump and sg_dump summarise whole pages, 4 KiB on
# x86_64, 64 KiB on an arm64 test64k kernel. IOB_PAGE_END is its last byte.
IOB_PAGE=$(od -An -v -t u8 /proc/self/auxv | tr -s ' ' '\n' |
	awk 'NF { v[n++] = $1 } END { for (i = 0; i < n; i += 2) if (v[i] == 6) { print v[i + 1]; exit } }')
IOB_PAGE_END=$(( ${IOB_PAGE:-0} - 1 ))

# _edu CMD ARGS...: run one iob_edu command and print its result; _fail
# and return nonzero if the module refused it.
_edu() {
	if ! echo "$*" >"$IOB_EDU_DIR/ctl"; then
		_fail "iob_edu command '$*' failed" >&2
		return 1
	fi
	cat "$IOB_EDU_DIR/result"
}

# _edu_key KEY RESULT: print the value of "KEY=value" in an _edu result.
_edu_key() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# _edu_setup: load iob_edu, pin this shell to CPU 0 (the pool's slot
# stacks are per CPU: the tests that reuse a slot need one CPU) and set
# EDU_PCI and EDU_GRP. Returns nonzero (after _fail) when impossible.
_edu_setup() {
	[ "${IOB_PAGE:-0}" -gt 0 ] || { _fail "no page size in /proc/self/auxv"; return 1; }
	EDU_PCI=$(_pci_find 0x1234 0x11e8 | head -n 1)
	[ -n "$EDU_PCI" ] || { _fail "no edu device (1234:11e8)"; return 1; }
	if [ ! -d "$IOB_EDU_DIR" ]; then
		insmod /lib/modules/iob_edu.ko || { _fail "insmod iob_edu.ko failed"; return 1; }
	fi
	[ -d "$IOB_EDU_DIR" ] || { _fail "iob_edu did not bind $EDU_PCI"; return 1; }
	EDU_GRP=$(_group_of "$EDU_PCI") || { _fail "edu $EDU_PCI has no IOMMU group"; return 1; }
	_t=$(_group_type "$EDU_GRP")
	[ "$_t" = DMA ] || { _fail "edu group $EDU_GRP type '$_t', expected DMA"; return 1; }
	# $$ is the parent shell in a subshell; /proc/self opened by a builtin is us
	read -r _self _rest </proc/self/stat
	taskset -p 1 "$_self" >/dev/null || { _fail "cannot pin to CPU 0"; return 1; }
	_edu untrusted 0 >/dev/null && _edu mask 28 >/dev/null
	echo "edu $EDU_PCI: iommu group $EDU_GRP type $_t"
}

# _edu_bounce 0|1: switch the edu group's pool policy and check it took.
_edu_bounce() {
	echo "$1" >"/sys/kernel/iommu_groups/$EDU_GRP/bounce" ||
		{ _fail "cannot write $1 to group $EDU_GRP bounce"; return 1; }
	_want=off
	[ "$1" = 1 ] && _want=on
	_expect_eq "$(cat "/sys/kernel/iommu_groups/$EDU_GRP/bounce")" "$_want" "group $EDU_GRP bounce"
	echo "== bounce $_want"
}

# _edu_cleanup: leave the device and group as the next test expects.
_edu_cleanup() {
	_edu untrusted 0 >/dev/null
	_edu mask 28 >/dev/null
	echo 0 >"/sys/kernel/iommu_groups/$EDU_GRP/bounce"
}

# _edu_expect WHAT EXPECTED CMD ARGS...: _fail unless the result of the
# command (a byte summary, see iob_edu.c) is exactly EXPECTED.
_edu_expect() {
	_what=$1 _exp=$2
	shift 2
	_got=$(_edu "$@") || return 1
	echo "$* -> $_got"
	[ "$_got" = "$_exp" ] || { _fail "$_what: expected '$_exp', got '$_got'"; return 1; }
}

# _page ADDR: the 4 KiB page of a hex address, in hex.
_page() {
	printf '0x%x' $(($1 & ~4095))
}
