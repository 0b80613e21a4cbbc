#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# series.sh export|check|mail [DIR]
#
#   export  Write the commits of the development tree ($IOB_CACHE/linux-dev,
#           branch "iobounce", based on tag "pristine") to patches/ and copy
#           the files the series creates into kernel/, so reviewers can read
#           them as plain files. patches/ is what every build applies.
#   check   Apply patches/ with git am onto the pristine Debian source in a
#           scratch worktree, check that kernel/ matches the result, and run
#           scripts/checkpatch.pl --strict on every patch.
#   build-each [FLAVOR]
#           Build the kernel (default flavour: bench) after each patch of
#           the series in turn, so every patch is known to build.
#   mail    Write a mailable series with a cover letter (docs/cover-letter.txt)
#           to DIR (default results/series) and verify it applies with git am.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEV=$IOB_CACHE/linux-dev
SCRATCH=$IOB_CACHE/linux-check
cmd=${1:-}
iob_check_one_of command "$cmd" export check build-each mail

# Files the series adds, relative to the kernel root
added_files() { git -C "$1" diff --name-only --diff-filter=A pristine HEAD; }

apply_to_scratch() { iob_am_onto_pristine "$SCRATCH" "$@"; }

case $cmd in
export)
	[ -d "$DEV" ] || die "no development tree at $DEV (git -C $IOB_SRC worktree add -b iobounce $DEV pristine)"
	[ -z "$(git -C "$DEV" status --porcelain --untracked-files=no)" ] ||
		die "uncommitted changes in $DEV: commit them first"
	rm -f "$IOB_TOP"/patches/*.patch
	git -C "$DEV" format-patch -q --no-signature --zero-commit -N \
		-o "$IOB_TOP/patches" pristine..HEAD
	rm -rf "$IOB_TOP/kernel"
	added_files "$DEV" | while read -r f; do
		mkdir -p "$IOB_TOP/kernel/$(dirname "$f")"
		cp "$DEV/$f" "$IOB_TOP/kernel/$f"
	done
	say "exported $(ls "$IOB_TOP"/patches/*.patch | wc -l) patches to patches/ and new files to kernel/"
	;;
check)
	apply_to_scratch "$IOB_TOP"/patches/*.patch
	bad=0
	while read -r f; do
		cmp -s "$SCRATCH/$f" "$IOB_TOP/kernel/$f" ||
			{ say "kernel/$f differs from what the series creates"; bad=1; }
	done < <(added_files "$SCRATCH")
	for p in "$IOB_TOP"/patches/*.patch; do
		out=$(cd "$SCRATCH" && ./scripts/checkpatch.pl --strict --no-signoff -q "$p" 2>&1) ||
			{ printf '%s\n%s\n' "${p##*/}:" "$out" >&2; bad=1; }
	done
	[ $bad -eq 0 ] || die "series check failed"
	say "series applies, kernel/ matches, checkpatch --strict clean"
	;;
build-each)
	flavor=${2:-bench}
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	n=0
	for p in "$IOB_TOP"/patches/*.patch; do
		n=$((n + 1))
		cp "$p" "$tmp/"
		say "building with patches 1-$n (${p##*/})"
		IOB_PATCH_DIR=$tmp IOB_LENIENT_CONFIG=1 "$IOB_TOP/testbed/kernel.sh" "$flavor" ||
			die "the series does not build after ${p##*/}"
	done
	say "all $n prefixes of the series build ($flavor kernel)"
	# Leave the full configuration behind for the next normal build
	"$IOB_TOP/testbed/kernel.sh" "$flavor"
	;;
mail)
	out=${2:-$IOB_TOP/results/series}
	apply_to_scratch "$IOB_TOP"/patches/*.patch
	rm -rf "$out"
	mkdir -p "$out"
	git -C "$SCRATCH" format-patch -q --no-signature --cover-letter \
		-o "$out" pristine..HEAD
	cover=$(ls "$out"/0000-cover-letter.patch)
	python3 - "$cover" "$IOB_TOP/docs/cover-letter.txt" <<'PY'
import sys
cover = sys.argv[1]
text = ''.join(l for l in open(sys.argv[2]) if not l.startswith('#'))
subject, _, body = text.partition('\n\n')
s = open(cover).read()
s = s.replace('*** SUBJECT HERE ***', subject.strip())
s = s.replace('*** BLURB HERE ***', body.strip())
open(cover, 'w').write(s)
PY
	apply_to_scratch $(ls "$out"/*.patch | grep -v 0000-cover-letter)
	say "wrote $(ls "$out" | wc -l) files to $out (cover letter included); git am applies them to pristine 6.12"
	;;
esac
