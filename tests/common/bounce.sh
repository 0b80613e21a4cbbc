# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the bounce pool's guest tests (busybox sh). Sourced by the
# test files that need them, after common/guest.sh.

# _bounce_stat GROUP KEY: print one counter of the group's pool, from
# /sys/kernel/debug/iommu-bounce/group<GROUP>/stats ("key: value" lines).
_bounce_stat() {
	_v=$(sed -n "s/^$2: //p" "/sys/kernel/debug/iommu-bounce/group$1/stats" 2>/dev/null)
	[ -n "$_v" ] || return 1
	echo "$_v"
}

# _bounce_stats GROUP: show the whole stats file (for the test's log).
_bounce_stats() {
	echo "-- pool stats of group $1"
	cat "/sys/kernel/debug/iommu-bounce/group$1/stats"
}

# _bounce_sum GROUP KEY: the sum over all size classes of the group's
# per-class counter KEY (slots, in_use, idle, reserve).
_bounce_sum() {
	awk -F': ' -v k="$2" '$1 ~ "^" k "_[0-9]+$" { s += $2 } END { print s + 0 }' \
		"/sys/kernel/debug/iommu-bounce/group$1/stats"
}

# _bounce_in_use GROUP: slots of the group's pool mapped right now.
_bounce_in_use() {
	_bounce_sum "$1" in_use
}

# _bounce_idle GROUP: slots of the group's pool held but not mapped now,
# what the shrinker may free.
_bounce_idle() {
	_bounce_sum "$1" idle
}

# _expect_no_double_idle GROUP WHAT: no size class of the group's pool
# keeps more idle slots than slots: that means a slot sits on two free
# lists, so two mappings can own it at once. Needs no DMA in flight. The
# counts are read without locks and aging may be moving slots to the
# depot, which counts them twice for a moment: only an excess seen on
# each of 3 reads, 1 s apart, fails. Fewer idle than slots is not checked
# (aging takes a slot off its list before it drops the count of slots).
_expect_no_double_idle() {
	for _try in 1 2 3; do
		_bad=$(awk -F': ' '
			$1 ~ /^slots_[0-9]+$/ { c = substr($1, 7); s[c] = $2 }
			$1 ~ /^idle_[0-9]+$/ { c = substr($1, 6); i[c] = $2 }
			END { for (c in s) if (!(c in i) || i[c] > s[c])
				printf "%s B: %s slots, %s idle; ", c, s[c], i[c] }' \
			"/sys/kernel/debug/iommu-bounce/group$1/stats")
		[ -n "$_bad" ] || return 0
		[ $_try = 3 ] || sleep 1
	done
	_fail "$2: $_bad"
}

# _nvme_group: print the NVMe controller's IOMMU group, _fail if none.
_nvme_group() {
	_pci=$(_nvme_pci) || { _fail "no NVMe controller"; return 1; }
	_group_of "$_pci" || { _fail "NVMe $_pci has no IOMMU group"; return 1; }
}

# _expect_gt A B WHAT: _fail unless integer A > B.
_expect_gt() {
	[ "${1:-0}" -gt "${2:-0}" ] 2>/dev/null || _fail "$3: expected $1 > $2"
}

# _expect_eq A B WHAT: _fail unless A = B (as strings).
_expect_eq() {
	[ "$1" = "$2" ] || _fail "$3: expected '$2', got '$1'"
}

# _fio_mixed DEV SIZE: a short verified mix of small reads and writes.
_fio_mixed() {
	_run_fio --name=mix --filename="$1" --direct=1 --ioengine=libaio \
		--iodepth=16 --rw=randrw --bsrange=512-16k --size="$2" \
		--verify=crc32c --verify_fatal=1
}

# _bounce_mode GROUP off|on|auto THRESHOLD: set the group's policy and
# threshold, and check that both took.
_bounce_mode() {
	echo "$3" >"/sys/kernel/iommu_groups/$1/bounce_threshold" &&
		echo "$2" >"/sys/kernel/iommu_groups/$1/bounce" ||
		{ _fail "cannot set group $1 bounce=$2 threshold=$3"; return 1; }
	_m=$(cat "/sys/kernel/iommu_groups/$1/bounce")
	_t=$(cat "/sys/kernel/iommu_groups/$1/bounce_threshold")
	[ "$_m" = "$2" ] && [ "$_t" = "$3" ] ||
		{ _fail "group $1 reads bounce=$_m threshold=$_t after setting $2 $3"; return 1; }
}
