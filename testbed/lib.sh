# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers for the iobounce test bed (sourced, not run).

IOB_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Kernel source, build trees and guest images live outside the repo so
# that a fresh clone (CI) reuses them and nothing generated is committed.
IOB_CACHE=${IOBOUNCE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/iobounce}
IOB_SRC=$IOB_CACHE/linux-source-6.12
IOB_STAGE=$IOB_CACHE/linux-stage
IOB_DEBIAN_TARBALL=/usr/src/linux-source-6.12.tar.xz
IOB_JOBS=$(( $(nproc) + 1 ))

say() { printf '[iobounce] %s\n' "$*" >&2; }
die() { printf '[iobounce] error: %s\n' "$*" >&2; exit 1; }

# iob_need_pkgs PKG... : install the Debian packages not yet present.
iob_need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing Debian packages: ${missing[*]}"
	command -v apt-get >/dev/null || die "apt-get not found; install: ${missing[*]}"
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	if ! { $sudo apt-get update -q &&
	       DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
			--no-install-recommends "${missing[@]}"; } >"$IOB_CACHE/apt.log" 2>&1; then
		tail -n 20 "$IOB_CACHE/apt.log" >&2
		die "could not install: ${missing[*]} (log: $IOB_CACHE/apt.log)"
	fi
}

# Packages every step needs: kernel build, guest image, QEMU, plots.
IOB_PKGS=(linux-source-6.12 build-essential flex bison bc libelf-dev libssl-dev
	  cpio xz-utils git python3 qemu-system-x86 fio busybox-static
	  gnuplot-nox rsync kmod iperf3 sockperf)

iob_deps() {
	mkdir -p "$IOB_CACHE"
	iob_need_pkgs "${IOB_PKGS[@]}"
}

# iob_accel: print "kvm" when KVM can run a guest here, "tcg" otherwise
# (IOB_ACCEL=kvm|tcg overrides). /dev/kvm alone is not enough: on this kind
# of machine it exists while the CPU has no VMX/SVM, and a KVM guest then
# spins without ever printing a line.
iob_accel() {
	if [ -n "${IOB_ACCEL:-}" ]; then
		echo "$IOB_ACCEL"
	elif [ -r /dev/kvm ] && [ -w /dev/kvm ] &&
	     grep -qwE 'vmx|svm' /proc/cpuinfo; then
		echo kvm
	else
		echo tcg
	fi
}

# iob_accel_why: one line saying why iob_accel chose what it chose.
iob_accel_why() {
	if [ -n "${IOB_ACCEL:-}" ]; then
		echo "set by IOB_ACCEL"
	elif [ ! -e /dev/kvm ]; then
		echo "no /dev/kvm"
	elif ! grep -qwE 'vmx|svm' /proc/cpuinfo; then
		echo "/dev/kvm present but the CPU has no VMX/SVM"
	else
		echo "/dev/kvm usable"
	fi
}

# Devices testbed/qemu.sh --devices can add (see there)
IOB_DEVICES=(e1000e virtio-net virtio-blk ahci virtio-scsi usb-storage)

iob_check_one_of() { # NAME VALUE ACCEPTED...
	local name=$1 val=$2 a
	shift 2
	for a in "$@"; do [ "$val" = "$a" ] && return 0; done
	die "unknown $name '$val' (accepted: $*)"
}

# Identity for the commits git am makes in the cache's kernel trees
IOB_GIT_ID=(-c user.name=iobounce -c user.email=iobounce@localhost)

# iob_am_onto_pristine WORKTREE [PATCH...]: make WORKTREE (a worktree of
# $IOB_SRC, created if missing) the pristine Debian source plus PATCHes
# applied with git am. Dies, leaving no half-applied series, if they do
# not apply.
iob_am_onto_pristine() {
	local wt=$1
	shift
	[ -d "$IOB_SRC/.git" ] || die "no kernel source yet: run 'make kernel-test' first"
	if [ ! -d "$wt" ]; then
		git -C "$IOB_SRC" worktree prune
		git -C "$IOB_SRC" worktree add -q --detach "$wt" pristine
	fi
	git -C "$wt" am --abort >/dev/null 2>&1 || true
	git -C "$wt" checkout -q -f --detach pristine
	git -C "$wt" clean -q -fdx
	[ $# -gt 0 ] || return 0
	if ! git -C "$wt" "${IOB_GIT_ID[@]}" am -q "$@"; then
		git -C "$wt" am --abort >/dev/null 2>&1 || true
		die "the patch series does not apply to the pristine Debian 6.12 source"
	fi
}

