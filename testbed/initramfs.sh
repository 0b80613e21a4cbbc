#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# initramfs.sh [FLAVOR] - build the guest userland: $IOB_CACHE/out/initrd.cpio
#
# An uncompressed newc cpio with busybox-static (and its applet links),
# fio, iperf3 and sockperf with every library they need, a static
# dma_map_benchmark built from the kernel tree, testbed/guest/ at /,
# tests/ at /tests and bench/guest/ (when present) at /bench, and the
# test-only modules of tests/modules/ built against the FLAVOR kernel's
# build tree (default: test) at /lib/modules/NAME.ko. It is rebuilt only
# when the hash of its inputs (stored in initrd.cpio.hash) changes: a
# module's sources or that kernel (its vmlinux) changing rebuilds it.
#
# For ARCH=arm64 the programs come from Debian's arm64 packages, fetched
# with apt (multiarch: dpkg --add-architecture arm64) and unpacked with
# their dependencies in $IOB_CACHE/arm64-root; dma_map_benchmark and the
# modules are cross built. The image is cache/out/arm64-initrd.cpio, or
# cache/out/arm64-initrd-test64k.cpio for the 64 KiB-page kernel's modules.
#
#   IOB_INITRD=PATH  where to write it (default: as above), so
#                    that two checkouts testing at once do not clash
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavor=${1:-test}
iob_check_one_of "flavor for $IOB_ARCH" "$flavor" $(iob_flavors)
out=${IOB_INITRD:-$(iob_initrd "$flavor")}
# Out-of-tree modules are built against the debug kernel tests/check boots
# (bench boots the test image: its modules are the test kernel's).
mod_flavor=$flavor
[ "$flavor" = bench ] && mod_flavor=test
mod_build=$IOB_CACHE/build-$IOB_APREFIX$mod_flavor
bench_src=$IOB_SRC/tools/testing/selftests/dma/dma_map_benchmark.c
bench_hdr=$IOB_SRC/include/linux/map_benchmark.h

# Dynamically linked host programs the guest runs: fio (block tests and
# bench), iperf3 and sockperf (NIC tests and bench).
guest_progs=(/usr/bin/fio /usr/bin/iperf3 /usr/bin/sockperf)
# Where the guest's programs are taken from: / for x86_64, an unpacked
# tree of arm64 packages for arm64.
sysroot=
[ "$IOB_ARCH" = arm64 ] && sysroot=$IOB_CACHE/arm64-root

# arm64_sysroot: unpack busybox-static, fio, iperf3 and sockperf for arm64
# and everything they depend on into $sysroot, once.
arm64_sysroot() {
	local sudo= debs=$IOB_CACHE/arm64-debs pkgs
	[ -f "$sysroot/.iob-done" ] && return 0
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		say "adding arm64 to dpkg's architectures (apt multiarch) for the guest's programs"
		{ $sudo dpkg --add-architecture arm64 && $sudo apt-get update -q; } \
			>"$IOB_CACHE/apt.log" 2>&1 ||
			{ tail -n 20 "$IOB_CACHE/apt.log" >&2; die "could not enable arm64 packages"; }
	fi
	# Every arm64 package the four need, recursively ("name:arm64").
	# Plain names are Architecture: all packages (no ELF files) or, where
	# apt satisfies a dependency natively, amd64 ones: neither must be
	# unpacked over the arm64 files.
	pkgs=$(apt-cache depends --recurse --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances \
		busybox-static:arm64 fio:arm64 iperf3:arm64 sockperf:arm64 |
		grep -E '^[^ <].*:arm64$' | sort -u)
	say "fetching $(echo "$pkgs" | wc -l) arm64 packages into $debs"
	rm -rf "$debs" "$sysroot"
	mkdir -p "$debs" "$sysroot"
	# shellcheck disable=SC2086 # one package per word
	( cd "$debs" && apt-get download -q $pkgs ) >"$IOB_CACHE/apt.log" 2>&1 ||
		{ tail -n 20 "$IOB_CACHE/apt.log" >&2; die "could not fetch the arm64 packages (log: $IOB_CACHE/apt.log)"; }
	for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$sysroot"; done
	rm -rf "$debs"
	touch "$sysroot/.iob-done"
}

# in_root PATH: PATH (absolute, as the guest sees it) with its symlinks
# resolved inside $sysroot, so an absolute link does not leave it.
in_root() {
	local p=$1 l n=0
	while [ -L "$sysroot$p" ] && [ $n -lt 40 ]; do
		l=$(readlink "$sysroot$p")
		case $l in /*) p=$l ;; *) p=$(dirname "$p")/$l ;; esac
		n=$((n + 1))
	done
	echo "$p"
}

# arm64_needs FILE...: the interpreter and every library the ELF FILEs
# (guest paths) need, recursively, found in $sysroot's multiarch and
# RUNPATH directories, as guest paths.
arm64_needs() {
	local todo=("$@") seen=" " f lib dirs d found
	while [ ${#todo[@]} -gt 0 ]; do
		f=${todo[0]}
		todo=("${todo[@]:1}")
		"${IOB_CROSS}readelf" -l "$sysroot$(in_root "$f")" 2>/dev/null |
			sed -n 's/.*program interpreter: \(.*\)]/\1/p'
		dirs="/lib/aarch64-linux-gnu /usr/lib/aarch64-linux-gnu $("${IOB_CROSS}readelf" -d "$sysroot$(in_root "$f")" |
			sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p; s/.*(RPATH).*\[\(.*\)\]/\1/p' | tr : ' ')"
		for lib in $("${IOB_CROSS}readelf" -d "$sysroot$(in_root "$f")" |
				sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			found=
			for d in $dirs; do
				[ -e "$sysroot$d/$lib" ] && { found=$d/$lib; break; }
			done
			[ -n "$found" ] || die "arm64: $lib (needed by $f) is in no unpacked package"
			case $seen in *" $found "*) continue ;; esac
			seen+="$found "
			echo "$found"
			todo+=("$found")
		done
	done
}

iob_deps
[ -z "$sysroot" ] || arm64_sysroot
[ -f "$bench_src" ] && [ -f "$bench_hdr" ] ||
	die "$bench_src or $bench_hdr missing: run testbed/kernel.sh first"

# The guest's binaries and their libraries, as guest paths.
host_files() {
	echo /bin/busybox
	printf '%s\n' "${guest_progs[@]}"
	if [ -n "$sysroot" ]; then
		arm64_needs "${guest_progs[@]}" | sort -u
		return
	fi
	# "lib => /path (addr)" and "/lib64/ld-linux... (addr)" (the interpreter).
	ldd "${guest_progs[@]}" |
		awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u
}

# Hash of every input: host files by name, size and mtime (they come from
# packages), our own files by content.
inputs_hash() {
	{
		host_files | while read -r f; do echo "$sysroot$(in_root "$f")"; done |
			xargs stat -c '%n %s %Y'
		cat "$0" "$bench_src" "$bench_hdr"
		# The kernel the modules are built for (vermagic, struct layouts)
		stat -c '%n %s %Y' "$mod_build/vmlinux" 2>/dev/null || true
		( cd "$IOB_TOP" && find testbed/guest tests bench/guest -type f 2>/dev/null |
			LC_ALL=C sort | xargs -r sha1sum )
		( cd "$IOB_TOP" && find testbed/guest tests bench/guest -type f -perm -u+x 2>/dev/null |
			LC_ALL=C sort )
	} | sha1sum | cut -c1-16
}

hash=$(inputs_hash)
if [ -f "$out" ] && [ "$(cat "$out.hash" 2>/dev/null)" = "$hash" ]; then
	say "initramfs up to date: $out"
	exit 0
fi
say "building initramfs $out (busybox, fio, iperf3, sockperf + libs, dma_map_benchmark, guest/, tests/, bench/guest/, test modules)"

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$IOB_CACHE/initramfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root,tests,bench}

# busybox and one link per applet ("busybox --list-full" gives the paths).
cp "$sysroot/bin/busybox" "$root/bin/busybox"
/bin/busybox --list-full | while read -r applet; do
	[ "$applet" = bin/busybox ] && continue
	mkdir -p "$root/$(dirname "$applet")"
	ln -sf /bin/busybox "$root/$applet"
done

# fio plus its libraries at the paths the dynamic loader looks in.
host_files | grep -v '^/bin/busybox$' | while read -r f; do
	mkdir -p "$root$(dirname "$f")"
	cp "$sysroot$(in_root "$f")" "$root$f"
done

# dma_map_benchmark: only map_benchmark.h from the kernel, so libc's
# headers win over the kernel's include/ (which clashes with them).
mkdir -p "$tmp/include/linux"
cp "$bench_hdr" "$tmp/include/linux/"
"${IOB_CROSS}gcc" -O2 -static -idirafter "$tmp/include" -o "$root/usr/bin/dma_map_benchmark" "$bench_src"

# Guest files: init and helpers at /, tests at /tests, bench scripts at /bench.
cp -a "$IOB_TOP/testbed/guest/." "$root/"
cp -a "$IOB_TOP/tests/." "$root/tests/"
[ -d "$IOB_TOP/bench/guest" ] && cp -a "$IOB_TOP/bench/guest/." "$root/bench/"
rm -rf "$root/tests/results" "$root/tests/modules"

# Test-only modules (tests/modules/NAME/, a Kbuild file and its sources),
# built in a copy so the repo stays clean. The kernel build only made
# bzImage: module.lds comes from modules_prepare, and without
# Module.symvers modpost cannot know vmlinux's exports (it warns instead;
# insmod still resolves them).
# Without a test kernel build (make bench alone) there is nothing to build
# them for: the image goes without, and the tests that need one fail.
mods=$(cd "$IOB_TOP/tests/modules" 2>/dev/null && ls -d */ 2>/dev/null | tr -d / || true)
if [ -n "$mods" ] && [ ! -f "$mod_build/vmlinux" ]; then
	say "no test kernel in $mod_build: no test modules in the initramfs"
	mods=
fi
if [ -n "$mods" ]; then
	# MAKEFLAGS= : our own make's variables must not reach kbuild
	kmake_mod() { MAKEFLAGS= make -C "$IOB_SRC" O="$mod_build" ARCH=$IOB_KARCH CROSS_COMPILE=$IOB_CROSS "$@"; }
	if [ ! -f "$mod_build/scripts/module.lds" ]; then
		kmake_mod modules_prepare >"$tmp/modules_prepare.log" 2>&1 ||
			{ tail -n 20 "$tmp/modules_prepare.log" >&2; die "modules_prepare failed in $mod_build"; }
	fi
	mkdir -p "$root/lib/modules"
	for m in $mods; do
		cp -a "$IOB_TOP/tests/modules/$m" "$tmp/mod-$m"
		if ! kmake_mod M="$tmp/mod-$m" KBUILD_MODPOST_WARN=1 modules \
			>"$tmp/mod-$m.log" 2>&1 || ! ls "$tmp/mod-$m"/*.ko >/dev/null 2>&1; then
			grep -E -A3 'error:|Error [0-9]+' "$tmp/mod-$m.log" | head -n 40 >&2
			die "building test module $m failed"
		fi
		cp "$tmp/mod-$m"/*.ko "$root/lib/modules/"
	done
	say "test modules: $(cd "$root/lib/modules" && echo *.ko)"
fi

# The kernel opens /dev/console before init runs (devtmpfs is not yet mounted).
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

( cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet ) >"$tmp/initrd.cpio"
mv "$tmp/initrd.cpio" "$out"
echo "$hash" >"$out.hash"
say "initramfs ready: $out ($(( $(stat -c %s "$out") / 1048576 )) MiB)"
