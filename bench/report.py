#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise results/fio.csv into results/report.md (and print it).

For each IOMMU: median IOPS per mode and block size with the min-max
range over the repetitions, the ratio of medians against strict and
against passthrough (when those modes were measured), and the data files
results/fio-<iommu>.dat that bench/plot.gp draws. The run's facts
(accelerator, date, kernel) come from results/meta, written by run.sh.
Only what is in the CSV is reported: a mode or size that was not measured
gets no row or column, never an estimate. Python standard library only.
"""
import argparse
import csv
import os
import statistics
import sys
from collections import defaultdict

HEADER = ["iommu", "mode", "rw", "bs", "rep", "iops"]
# Known names first, in this order; unknown ones follow alphabetically,
# so a mode added to run.sh's table shows up without touching this file.
MODE_ORDER = ["strict", "lazy", "passthrough", "swiotlb", "bounce"]
IOMMU_ORDER = ["virtio", "vtd"]
NOISY = 0.25  # (max - min) / median above which a cell is flagged
IOMMU_NAME = {"virtio": "virtio-iommu", "vtd": "Intel VT-d (intel-iommu)"}


def ordered(names, order):
    known = [n for n in order if n in names]
    return known + sorted(n for n in names if n not in order)


def bs_label(b):
    for unit, suf in ((1 << 20, "M"), (1 << 10, "k")):
        if b % unit == 0:
            return f"{b // unit}{suf}"
    return str(b)


def read_meta(path):
    meta = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, sep, v = line.rstrip("\n").partition("=")
                if sep:
                    meta[k] = v
    return meta


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != HEADER:
        sys.exit(f"report.py: {path}: header must be {','.join(HEADER)}")
    data = defaultdict(list)  # (iommu, rw, mode, bs) -> [(rep, iops)]
    for n, r in enumerate(rows[1:], 2):
        if len(r) != len(HEADER):
            sys.exit(f"report.py: {path}:{n}: expected {len(HEADER)} fields")
        iommu, mode, rw, bs, rep, iops = r
        try:
            data[(iommu, rw, mode, int(bs))].append((int(rep), int(iops)))
        except ValueError:
            sys.exit(f"report.py: {path}:{n}: bs, rep and iops must be integers")
    if not data:
        sys.exit(f"report.py: {path}: no measurements")
    return data


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=os.path.join(top, "results"))
    ap.add_argument("--accel", help="override the accelerator in results/meta")
    a = ap.parse_args()

    data = read_csv(os.path.join(a.results, "fio.csv"))
    meta = read_meta(os.path.join(a.results, "meta"))
    accel = a.accel or meta.get("accel", "unknown")

    reps = sorted({len(v) for v in data.values()})
    reps_s = str(reps[0]) if len(reps) == 1 else f"{reps[0]}-{reps[-1]} (uneven)"
    md = ["# fio IOPS per DMA mode and block size", ""]
    md += [
        f"- workload: fio rw={meta.get('rw', '?')}, O_DIRECT, libaio, iodepth 64 on the "
        f"emulated NVMe (QEMU q35), {meta.get('runtime', '?')} s per point after "
        f"{meta.get('warmup', '?')} s warm-up, guest {meta.get('smp', '?')} CPUs / "
        f"{meta.get('mem', '?')} MiB",
        f"- repetitions: {reps_s}, modes interleaved boot by boot; medians shown, "
        "min-max over the repetitions in brackets",
        f"- accelerator: {accel}",
        f"- date: {meta.get('date', 'unknown')}",
        f"- kernel: {meta.get('kernel', 'unknown')} (bzImage sha1 "
        f"{meta.get('kernel_sha1', '?')}, patch series {meta.get('series', '?')}, "
        f"repo {meta.get('repo', '?')})",
        f"- {meta.get('qemu', 'QEMU version unknown')}; host CPU: "
        f"{meta.get('host_cpu', 'unknown')}",
    ]
    margs = {k[len("mode_args."):]: v for k, v in meta.items()
             if k.startswith("mode_args.")}
    if margs:
        md.append("- modes: " + "; ".join(
            f"{m} = `{margs[m]}`" for m in ordered(set(margs), MODE_ORDER)))
    if accel == "tcg":
        md.append("- note: under TCG a guest memcpy is slow and an IOMMU request "
                  "is cheap compared with KVM; ratios here need not hold on KVM "
                  "or bare metal")

    iommus = ordered({k[0] for k in data}, IOMMU_ORDER)
    for iommu in iommus:
        for rw in sorted({k[1] for k in data if k[0] == iommu}):
            keys = [k for k in data if k[0] == iommu and k[1] == rw]
            modes = ordered({k[2] for k in keys}, MODE_ORDER)
            sizes = sorted({k[3] for k in keys})
            med = {(k[2], k[3]): statistics.median(i for _, i in data[k]) for k in keys}
            head = ["mode"] + [bs_label(b) for b in sizes]
            md += ["", f"## {IOMMU_NAME.get(iommu, iommu)}, rw={rw}", "",
                   "Median IOPS [min-max over the repetitions]:", ""]
            rows = []
            noisy = 0
            for m in modes:
                row = [m]
                for b in sizes:
                    v = data.get((iommu, rw, m, b))
                    if v is None:
                        row.append("not measured")
                        continue
                    ii = [i for _, i in v]
                    mark = ""
                    if len(ii) > 1 and (max(ii) - min(ii)) > NOISY * med[(m, b)]:
                        mark = " *"
                        noisy += 1
                    rng = f" [{min(ii)}-{max(ii)}]" if len(ii) > 1 else ""
                    row.append(f"{med[(m, b)]:.0f}{rng}{mark}")
                rows.append(row)
            md += table(head, rows)
            if noisy:
                md += ["", f"\\* {noisy} cell(s) whose repetitions spread by more than "
                       f"{NOISY:.0%} of the median: treat them and their ratios as noisy."]
            md += ["", "Median throughput, MiB/s:", ""]
            md += table(head, [[m] + [f"{med[(m, b)] * b / 2**20:.1f}"
                                      if (m, b) in med else "-" for b in sizes]
                               for m in modes])
            for base in ("strict", "passthrough"):
                if base not in modes or len(modes) < 2:
                    md += ["", f"No ratio against {base}: "
                           + (f"{base} was not measured." if base not in modes
                              else "no other mode was measured.")]
                    continue
                md += ["", f"Ratio of medians against {base} (>1 is faster):", ""]
                md += table(head, [[m] + [f"{med[(m, b)] / med[(base, b)]:.2f}"
                                          if (m, b) in med and (base, b) in med
                                          else "-" for b in sizes]
                                   for m in modes if m != base])
            # Data for plot.gp: one row per size, one column per mode (MiB/s).
            one_rw = len({k[1] for k in data if k[0] == iommu}) == 1
            dat = os.path.join(a.results, f"fio-{iommu}.dat" if one_rw
                               else f"fio-{iommu}-{rw}.dat")
            with open(dat, "w") as f:
                f.write("bs " + " ".join(modes) + "\n")
                for b in sizes:
                    f.write(f"{b} " + " ".join(
                        f"{med[(m, b)] * b / 2**20:.3f}" if (m, b) in med else "NaN"
                        for m in modes) + "\n")

    text = "\n".join(md) + "\n"
    with open(os.path.join(a.results, "report.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
