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

iob_check_one_of() { # NAME VALUE ACCEPTED...
	local name=$1 val=$2 a
	shift 2
	for a in "$@"; do [ "$val" = "$a" ] && return 0; done
	die "unknown $name '$val' (accepted: $*)"
}

# The guest's architecture: IOB_ARCH, else ARCH (make test ARCH=arm64),
# else x86_64. x86 and aarch64 are taken as kbuild's and GNU's names.
IOB_ARCH=${IOB_ARCH:-${ARCH:-x86_64}}
case $IOB_ARCH in
x86) IOB_ARCH=x86_64 ;;
aarch64) IOB_ARCH=arm64 ;;
esac
iob_check_one_of ARCH "$IOB_ARCH" x86_64 x86 arm64 aarch64
export IOB_ARCH
# Per architecture: kbuild's ARCH and CROSS_COMPILE, the boot image, the
# Debian architecture of the guest's programs, where builds go (x86_64
# keeps the names it always had, so existing caches stay warm).
case $IOB_ARCH in
x86_64)
	IOB_KARCH=x86_64 IOB_CROSS= IOB_KIMAGE=arch/x86/boot/bzImage
	IOB_DEBARCH=amd64 IOB_APREFIX=
	IOB_ARCH_PKGS=(qemu-system-x86)
	;;
arm64)
	IOB_KARCH=arm64 IOB_CROSS=aarch64-linux-gnu- IOB_KIMAGE=arch/arm64/boot/Image
	IOB_DEBARCH=arm64 IOB_APREFIX=arm64-
	IOB_ARCH_PKGS=(qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross
		       device-tree-compiler)
	;;
esac
# Kernel flavors: test (debug options), bench (lean), and on arm64 test64k
# (the test kernel with 64 KiB pages).
iob_flavors() { [ "$IOB_ARCH" = arm64 ] && echo test bench test64k || echo test bench; }
# iob_kernel FLAVOR: where testbed/kernel.sh puts that kernel's image
iob_kernel() { echo "$IOB_CACHE/out/$IOB_APREFIX$1/${IOB_KIMAGE##*/}"; }
# iob_series_hash [DIR]: a short hash of the series in DIR (default
# patches/); kernel.sh writes the one it built beside the image, in
# "series", so that tests/check can refuse a kernel built from another one
iob_series_hash() { cat "${1:-$IOB_TOP/patches}"/*.patch 2>/dev/null | sha1sum | cut -c1-12; }
# iob_initrd FLAVOR: the guest image testbed/initramfs.sh FLAVOR builds
# when IOB_INITRD does not say where (bench boots the test image)
iob_initrd() {
	case $1 in
	test | bench) echo "$IOB_CACHE/out/${IOB_APREFIX}initrd.cpio" ;;
	*) echo "$IOB_CACHE/out/${IOB_APREFIX}initrd-$1.cpio" ;;
	esac
}

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
	  cpio xz-utils git python3 fio busybox-static
	  gnuplot-nox rsync kmod iperf3 sockperf)

iob_deps() {
	mkdir -p "$IOB_CACHE"
	iob_need_pkgs "${IOB_PKGS[@]}" "${IOB_ARCH_PKGS[@]}"
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


# Identity for the commits git am makes in the cache's kernel trees
IOB_GIT_ID=(-c user.name=iobounce -c user.email=iobounce@localhost)

# iob_source: Debian's linux-source-6.12, extracted once into the cache as
# a git repository (tag "pristine"), which the builds and series.sh use.
iob_source() {
	local tmp
	git -C "$IOB_SRC" rev-parse -q --verify pristine^{commit} >/dev/null 2>&1 && return 0
	iob_deps
	say "extracting $IOB_DEBIAN_TARBALL into $IOB_CACHE (once)"
	tmp=$IOB_CACHE/extract.tmp
	rm -rf "$tmp" "$IOB_SRC" "$IOB_STAGE"
	mkdir -p "$tmp"
	tar -C "$tmp" -xf "$IOB_DEBIAN_TARBALL"
	# Debian's top-level .gitignore hides everything: add with -f.
	( cd "$tmp/linux-source-6.12" && git init -q -b debian . &&
	  git add -f -A . && git "${IOB_GIT_ID[@]}" commit -q -m \
		"Debian linux-source-6.12 $(dpkg-query -W -f='${Version}' linux-source-6.12)" &&
	  git tag pristine )
	mv "$tmp/linux-source-6.12" "$IOB_SRC"
	rmdir "$tmp"
}

# iob_am_onto_pristine WORKTREE [PATCH...]: make WORKTREE (a worktree of
# $IOB_SRC, created if missing) the pristine Debian source plus PATCHes
# applied with git am. Dies, leaving no half-applied series, if they do
# not apply.
iob_am_onto_pristine() {
	local wt=$1
	shift
	iob_source
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

