# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the block driver tests (busybox sh): the disks that
# testbed/qemu.sh --devices attaches, each checked with a crc32c verified
# fio matrix under each bounce policy. Sourced after common/guest.sh,
# common/bounce.sh and common/stress.sh.

# Sizes: 512 B .. 1 MiB with odd ones (1536, 4608). fio lays the buffers
# of its iodepth out back to back, bs bytes apart, so at 1536 and 4608
# most buffers cross a page boundary and the block layer hands the
# driver multi-segment lists; 64k and 1M buffers span many pages.
# _fio_verify_points gives each point 32 MiB of its own: 12 points need
# 384 MiB of the 512 MiB disks qemu.sh attaches.
BLK_POINTS="write:512:128k read:512:128k write:1536:384k read:1536:384k
	write:4k:512k read:4k:512k write:4608:576k read:4608:576k
	write:64k:2M read:64k:2M write:1M:4M read:1M:4M"

# _blk_kind_match KIND SYSPATH: does the block device at SYSPATH (the
# target of /sys/block/X) belong to KIND?
_blk_kind_match() {
	case $1:$2 in
	virtio-blk:*/virtio*/block/vd*) return 0 ;;
	virtio-scsi:*/virtio*/host*/target*) return 0 ;;
	ahci:*/ata*/host*/target*) return 0 ;;
	usb-storage:*/usb*/host*/target*) return 0 ;;
	esac
	return 1
}

# Kernel driver behind each kind, for the failure message
_blk_driver() {
	case $1 in
	virtio-blk) echo virtio_blk ;;
	virtio-scsi) echo "virtio_scsi + sd" ;;
	ahci) echo "ahci + sd" ;;
	usb-storage) echo "xhci_hcd + usb-storage + sd" ;;
	esac
}

# _blk_dev KIND: print "DEV PCI" for the disk of KIND and the PCI
# function that does its DMA (the controller); waits up to 30 s for it
# (USB enumerates late). _fail when it never shows up: never a skip.
_blk_dev() {
	_i=0
	while [ $_i -lt 30 ]; do
		for _b in /sys/block/*; do
			_t=$(readlink -f "$_b")
			_blk_kind_match "$1" "$_t" || continue
			_p=$(echo "$_t" | sed -n 's|^/sys/devices/pci[0-9a-f:]*/\([0-9a-f:.]*\)/.*|\1|p')
			# behind a bridge or port: the last PCI function on the path
			_p=$(echo "$_t" | grep -o '[0-9a-f]\{4\}:[0-9a-f]\{2\}:[0-9a-f]\{2\}\.[0-9]' | tail -n 1)
			[ -b "/dev/${_b##*/}" ] && [ -n "$_p" ] &&
				{ echo "/dev/${_b##*/} $_p"; return 0; }
		done
		sleep 1
		_i=$((_i + 1))
	done
	_fail "no $1 disk after 30 s: driver $(_blk_driver "$1") missing from the kernel?"
	return 1
}

# _blk_test KIND: the verify matrix on KIND's disk with bouncing off, on
# (threshold 128 KiB, so every size class bounces) and auto (same
# threshold: virtio-iommu's invalidations are costly, so auto bounces as
# on does). The pool's maps must not move with bouncing off and must rise
# with it on or auto.
_blk_test() {
	_l=$(_blk_dev "$1") || return 1
	dev=${_l% *} pci=${_l#* }
	grp=$(_group_of "$pci") || { _fail "$1 $pci has no IOMMU group"; return 1; }
	echo "$1: $dev on $pci, IOMMU group $grp type $(_group_type "$grp")"
	[ "$(_group_type "$grp")" = DMA ] || _fail "$1: group $grp type is $(_group_type "$grp"), expected DMA"
	for mode in off on auto; do
		_bounce_mode "$grp" "$mode" 131072 || return 1
		maps0=$(_bounce_stat "$grp" maps)
		for _r in cap nomem iova map attrs; do
			eval "fb_$_r=$(_bounce_stat "$grp" "fallback_$_r")"
		done
		t0=$(date +%s)
		# shellcheck disable=SC2086 # one word per point
		_fio_verify_points "$dev" "$1-$mode" $BLK_POINTS
		maps1=$(_bounce_stat "$grp" maps)
		echo "== $1 bounce $mode: verified $FIO_VERIFIED_KB KiB in $(( $(date +%s) - t0 )) s, pool maps +$((maps1 - maps0))"
		case $mode in
		off) _expect_eq "$maps1" "$maps0" "$1: pool maps with bouncing off" ;;
		# 12 points of 128..1024 I/Os each. The block layer merges
		# sequential ones (usb-storage, one command at a time, merges
		# most), and of scatterlists only one-entry ones are bounced
		# for speed (usb-storage: 61-89 pool maps where virtio-blk has
		# 14642), so only "some" is asserted here and that none fell
		# back for a reason other than size.
		on | auto)
			_expect_gt "$maps1" "$maps0" "$1: pool maps with bouncing $mode"
			for _r in cap nomem iova map attrs; do
				_expect_eq "$(_bounce_stat "$grp" "fallback_$_r")" "$(eval echo "\$fb_$_r")" "$1: fallback_$_r with bouncing $mode"
			done
			;;
		esac
	done
	_bounce_stats "$grp" | grep -E '^(mode|costly_flush|threshold|maps|bytes|fallback_)'
	_bounce_mode "$grp" auto 4096
}
