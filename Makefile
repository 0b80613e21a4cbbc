# SPDX-License-Identifier: GPL-2.0
#
# iobounce top-level targets. Build trees, kernels and images live in
# $(IOB_CACHE) (~/.cache/iobounce), results in results/ (gitignored).

# bash: "make shell" sources testbed/lib.sh
SHELL := /bin/bash

IOB_CACHE ?= $(or $(IOBOUNCE_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/iobounce)

.PHONY: test test-full bench mutate series series-check kernel-test kernel-bench initramfs shell clean distclean

# x86_64 and arm64 (SMMUv3; non-coherent PCIe), see testbed/test.sh;
# ARCH=x86_64 or ARCH=arm64 runs one of them. test-full adds what does not
# fit CI's 90 minutes from a cold cache: arm64 with 64 KiB pages, arm64 NICs.
test:
	testbed/test.sh

test-full:
	testbed/test.sh full

# Each break patch in tests/mutations/ against the test it names (not CI:
# about 5 minutes per mutation under TCG). MUTATIONS="001-... 004-..."
# picks some, ARCH=arm64 the arm64 ones. tests/mutate checks the names
# before it builds anything.
mutate:
	@echo "== mutations: build each broken kernel, run the test that must catch it"
	tests/mutate $(MUTATIONS)

# bench/run.sh checks every knob first, then builds the bench kernel and
# the initramfs (KERNEL=path or INITRD=path: boot that one as it is,
# IOB_INITRD=path: build the initramfs there; see the top of bench/run.sh).
bench:
	@echo "== benchmarks (bench/run.sh: checks its knobs, builds what it needs, boots)"
	bench/run.sh

series-check: kernel-test
	testbed/series.sh check

series:
	@echo "== checking the series (git am onto pristine 6.12, checkpatch --strict)"
	testbed/series.sh check
	@echo "== writing the mailable series to results/series"
	testbed/series.sh mail

kernel-test:
	@echo "== building the test kernel (debug options)"
	testbed/kernel.sh test

kernel-bench:
	@echo "== building the bench kernel"
	testbed/kernel.sh bench

initramfs:
	@echo "== building the guest initramfs"
	testbed/initramfs.sh

shell: kernel-test initramfs
	@echo "== booting the test kernel with a shell (poweroff -f or exit to leave)"
	. testbed/lib.sh && testbed/qemu.sh --kernel "$$(iob_kernel test)" \
		--initrd "$${IOB_INITRD:-$$(iob_initrd test)}" --timeout 0 --append "iob.run=shell"

clean:
	@echo "== removing results/"
	rm -rf results

distclean: clean
	@echo "== removing $(IOB_CACHE)/out"
	rm -rf $(IOB_CACHE)/out
