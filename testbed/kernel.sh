#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel.sh FLAVOR - build the guest kernel with the project's patch series.
#
#   FLAVOR is "bench" (lean: config/base.config and the architecture's
#   config/ARCH.config) or "test" (those plus config/debug.config: KASAN,
#   lockdep, DMA-API debug, kmemleak); on arm64 also "test64k" (test plus
#   config/arm64-64k.config: 64 KiB pages).
#   ARCH=x86_64|arm64 (or IOB_ARCH) picks the architecture; arm64 is cross
#   built with Debian's gcc-aarch64-linux-gnu.
#
# Debian's linux-source-6.12 is extracted once into the cache and kept as a
# git repository (tag "pristine"). The series in patches/ is applied with
# "git am" in a staging worktree; the build tree then checks out the result,
# so only files whose content changed get a new mtime and the out-of-tree
# build (cache/build-FLAVOR, cache/build-arm64-FLAVOR) stays incremental.
# On success the kernel is copied to cache/out/FLAVOR/bzImage (x86_64) or
# cache/out/arm64-FLAVOR/Image, or into $IOB_KERNEL_OUT when that is set
# (tests/mutate's variants).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavor=${1:-}
iob_check_one_of "flavor for $IOB_ARCH" "$flavor" $(iob_flavors)
build=$IOB_CACHE/build-$IOB_APREFIX$flavor
out=${IOB_KERNEL_OUT:-$(dirname "$(iob_kernel "$flavor")")}
image=${IOB_KIMAGE##*/}
# The series to apply (series.sh build-each points it at a prefix of it)
patch_dir=${IOB_PATCH_DIR:-$IOB_TOP/patches}

iob_deps

# 1. Pristine Debian source as a git repository (lib.sh).
iob_source

# 2. Apply the series in the staging worktree, then move the build tree to it.
series_hash=$(iob_series_hash "$patch_dir")
if [ "$(cat "$IOB_SRC/.iob-series" 2>/dev/null)" != "$series_hash" ]; then
	rm -f "$IOB_SRC/.iob-series"
	patches=("$patch_dir"/*.patch)
	[ -e "${patches[0]}" ] || patches=()
	say "applying ${#patches[@]} patches with git am"
	iob_am_onto_pristine "$IOB_STAGE" "${patches[@]}"
	git -C "$IOB_SRC" checkout -q -f --detach "$(git -C "$IOB_STAGE" rev-parse HEAD)"
	echo "$series_hash" >"$IOB_SRC/.iob-series"
fi

# 3. Configure: tinyconfig + fragments, redone when a fragment changes or
# when the .config no longer has what they ask for (a series without a
# symbol, e.g. a prefix built by series.sh build-each, makes "make" drop it).
frags=("$IOB_TOP/config/base.config" "$IOB_TOP/config/$IOB_ARCH.config")
case $flavor in
test) frags+=("$IOB_TOP/config/debug.config") ;;
test64k) frags+=("$IOB_TOP/config/debug.config" "$IOB_TOP/config/arm64-64k.config") ;;
esac
cfg_hash=$(cat "${frags[@]}" | sha1sum | cut -c1-12)
mkdir -p "$build"
# MAKEFLAGS= : variables given to our own make (make mutate MUTATIONS=...,
# make test V=1) must not reach kbuild, which reads M, O, V and others.
kmake() { MAKEFLAGS= make -C "$IOB_SRC" O="$build" ARCH=$IOB_KARCH CROSS_COMPILE=$IOB_CROSS "$@"; }
configure() {
	rm -f "$build/.iob-config"
	say "configuring $IOB_ARCH $flavor kernel (tinyconfig + ${frags[*]##*/})"
	{ kmake tinyconfig &&
	  "$IOB_SRC/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "${frags[@]}" &&
	  kmake olddefconfig; } >"$build/config.log" 2>&1 ||
		{ tail -n 30 "$build/config.log" >&2; die "configuration failed"; }
	echo "$cfg_hash" >"$build/.iob-config"
}
# config_ok [quiet]: every symbol a fragment asks for is in the .config.
config_ok() {
	local f line bad=0
	for f in "${frags[@]}"; do
		while IFS= read -r line; do
			case $line in
			CONFIG_*=n) ! grep -qx "${line%=n}=y" "$build/.config" || bad=1 ;;
			CONFIG_*) grep -qx "$line" "$build/.config" || bad=1 ;;
			*) continue ;;
			esac
			[ $bad -eq 0 ] || { [ -n "${1:-}" ] || say "not honoured: $line"; return 1; }
		done <"$f"
	done
}
if [ "$(cat "$build/.iob-config" 2>/dev/null)" != "$cfg_hash" ] ||
   [ ! -f "$build/.config" ] || ! config_ok quiet; then
	configure
fi
# IOB_LENIENT_CONFIG=1 (series.sh build-each): a prefix of the series may
# lack symbols that the fragments ask for.
if [ "${IOB_LENIENT_CONFIG:-0}" != 1 ] && ! config_ok; then
	rm -f "$build/.iob-config"
	die "config fragments not honoured (dependencies missing?)"
fi

# 4. Build; show the compiler's errors, not the whole make output.
rm -rf "$out"
say "building $IOB_ARCH $flavor kernel in $build (make -j$IOB_JOBS; log: $build/build.log)"
start=$(date +%s)
if ! kmake -j"$IOB_JOBS" "$image" >"$build/build.log" 2>&1; then
	grep -E -A3 'error:|Error [0-9]+|undefined reference|\*\*\*' "$build/build.log" | head -n 60 >&2
	die "kernel build failed (full log: $build/build.log)"
fi
mkdir -p "$out"
cp "$build/$IOB_KIMAGE" "$out/$image.tmp"
mv "$out/$image.tmp" "$out/$image"
echo "$series_hash" >"$out/series"
say "$IOB_ARCH $flavor kernel ready in $(( $(date +%s) - start ))s: $out/$image"
