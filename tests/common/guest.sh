# SPDX-License-Identifier: GPL-2.0
#
# Helpers for guest tests (busybox sh; sourced by /init before each test
# file, in the test's own subshell). No bashisms here.
#
# A test fails when it calls _fail (the run goes on, so a test can report
# several problems), when test() returns nonzero, or when the kernel
# prints a report while it runs. _skip ends the test at once.

# _fail MSG: record a failure; the first MSG becomes the verdict's reason.
_fail() {
	echo "FAIL: $*"
	echo "$*" >>"$IOB_STATE/fail"
}

# _skip REASON: the test cannot run here; stop it (skip is not a pass).
_skip() {
	echo "SKIP: $*"
	echo "$*" >"$IOB_STATE/skip"
	exit 0
}

# _require_file PATH...: skip unless every PATH exists.
_require_file() {
	for _f in "$@"; do
		[ -e "$_f" ] || _skip "$_f does not exist"
	done
}

# _pci_find VENDOR DEVICE: print the PCI addresses of matching devices
# (IDs as in sysfs, e.g. 0x1b36 0x0005).
_pci_find() {
	for _d in /sys/bus/pci/devices/*; do
		[ "$(cat "$_d/vendor")" = "$1" ] && [ "$(cat "$_d/device")" = "$2" ] &&
			echo "${_d##*/}"
	done
	return 0
}

# _nvme_pci: print the PCI address of the first NVMe controller (class
# 0x010802), bound or not.
_nvme_pci() {
	for _d in /sys/bus/pci/devices/*; do
		[ "$(cat "$_d/class")" = 0x010802 ] && { echo "${_d##*/}"; return 0; }
	done
	return 1
}

# _nvme_dev: print the NVMe namespace block device (e.g. /dev/nvme0n1).
_nvme_dev() {
	for _b in /sys/block/nvme*n1; do
		[ -e "$_b" ] && [ -b "/dev/${_b##*/}" ] && { echo "/dev/${_b##*/}"; return 0; }
	done
	return 1
}

# _group_of PCIDEV: print the IOMMU group number of a PCI device
# (e.g. 0000:01:00.0); nonzero when it has none.
_group_of() {
	_g=$(readlink "/sys/bus/pci/devices/$1/iommu_group" 2>/dev/null) || return 1
	echo "${_g##*/}"
}

# _group_type N: print the domain type of IOMMU group N (DMA, DMA-FQ,
# identity, ...).
_group_type() {
	cat "/sys/kernel/iommu_groups/$1/type"
}

# _bind_driver PCIDEV DRIVER: bind a PCI device to DRIVER through
# driver_override (unbinding it first if needed).
_bind_driver() {
	if [ -e "/sys/bus/pci/devices/$1/driver" ]; then
		echo "$1" >"/sys/bus/pci/devices/$1/driver/unbind" || return 1
	fi
	echo "$2" >"/sys/bus/pci/devices/$1/driver_override" || return 1
	echo "$1" >/sys/bus/pci/drivers_probe
	[ "$(readlink "/sys/bus/pci/devices/$1/driver")" != "" ] &&
		[ "$(basename "$(readlink "/sys/bus/pci/devices/$1/driver")")" = "$2" ]
}

# _run_fio FIO-ARGS...: run fio, show its output, and _fail unless it
# exits 0 and every job reports err= 0. Returns nonzero on failure.
# With IOB_FIO_QUIET=1 the output is shown only when fio failed. The
# output stays in $_out for the caller to parse.
_run_fio() {
	_out=$IOB_STATE/fio.$$.out
	fio --output-format=normal "$@" >"$_out" 2>&1
	_rc=$?
	if [ "${IOB_FIO_QUIET:-0}" != 1 ] || [ $_rc -ne 0 ] ||
	   grep 'err=' "$_out" | grep -qv 'err= *0[:,]'; then
		cat "$_out"
	fi
	if [ $_rc -ne 0 ]; then
		_fail "fio exited with status $_rc"
		return 1
	fi
	if ! grep -q 'err= *0' "$_out"; then
		_fail "fio printed no 'err= 0' job line"
		return 1
	fi
	if grep 'err=' "$_out" | grep -qv 'err= *0[:,]'; then
		_fail "fio reported an error: $(grep 'err=' "$_out" | grep -v 'err= *0[:,]' | head -n 1)"
		return 1
	fi
	return 0
}

# _debugfs_stat PATH: print the value of /sys/kernel/debug/PATH (e.g. a
# counter); nonzero when the file does not exist.
_debugfs_stat() {
	[ -r "/sys/kernel/debug/$1" ] || return 1
	cat "/sys/kernel/debug/$1"
}

# _check_nvme_iommu: _fail unless the NVMe controller is in an IOMMU
# group whose domain type is DMA (strict translation). Prints the group.
_check_nvme_iommu() {
	_pci=$(_nvme_pci) || { _fail "no NVMe controller on the PCI bus"; return 1; }
	_grp=$(_group_of "$_pci") || { _fail "NVMe $_pci has no iommu_group (not behind an IOMMU)"; return 1; }
	_type=$(_group_type "$_grp")
	echo "NVMe $_pci: iommu group $_grp type $_type"
	[ "$_type" = DMA ] || { _fail "NVMe group $_grp type is '$_type', expected DMA"; return 1; }
}

# _nvme_fio_verify: write 16 MiB of crc32c-tagged 4k blocks at random
# offsets of the raw NVMe with O_DIRECT (verified as it goes), then replay
# the pattern read-only and verify again. Both passes must read it all.
_nvme_fio_verify() {
	_nvme_fio_write_verify && _nvme_fio_read_verify
}

# _nvme_fio_write_verify, _nvme_fio_read_verify: the two passes of
# _nvme_fio_verify (the second needs the first's pattern on the disk)
_nvme_fio_write_verify() {
	_nvme_fio_pass write "write + verify"
}
_nvme_fio_read_verify() {
	_nvme_fio_pass verify "read-only verify" --verify_only=1
}

# _nvme_fio_pass NAME WHAT [FIO ARGS...]: one pass, 16 MiB read back
_nvme_fio_pass() {
	_dev=$(_nvme_dev) || { _fail "no NVMe block device"; return 1; }
	_name=$1 _what=$2
	shift 2
	echo "== $_what on $_dev"
	_run_fio --name="$_name" --filename="$_dev" --direct=1 --ioengine=libaio \
		--iodepth=16 --rw=randwrite --bs=4k --size=16M --verify=crc32c \
		--verify_fatal=1 "$@" || return 1
	grep -q 'READ: .*io=16.0MiB' "$_out" || _fail "$_what pass did not read 16 MiB"
}
