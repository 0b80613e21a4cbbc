#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise the bench results into results/report.md (and print it).

Reads what bench/run.sh wrote: fio.csv (IOPS per repetition and the boot
that measured it: a boot per mode, or a policy boot that switched between
bounce policies at run time), cpu.csv
(busy CPU ticks and bytes of each measured run), prof.csv (the ftrace
function profiler's hits and times of the profiler pass), pool-time.csv
(the pool sampler), pool.csv (the pool's counters at the end of each
boot), dmab.csv (dma_map_benchmark), meta and, when the NIC bench ran
(NET=1), net.csv (iommu,mode,test,size,rep,rate: rates per round),
net-prof.csv (its profiler pass), net-maps.csv and net-pool.csv.

For each IOMMU: median IOPS per mode and workload with the min-max range
over the repetitions, the ratio of medians against strict and against
passthrough, the bounce policies compared in the policy boots, the costs
per GiB and per I/O, dma_map_benchmark latencies, pool memory against
bytes in flight, bounce-auto's decision at each read size (its threshold,
meta's auto_threshold, and the pool stats' costly_flush) against the
side the fixed thresholds show faster, and the targets: the bounce mode
against strict, lazy and passthrough, and the auto policy against strict
and the fixed thresholds (from the policy boots when there are any). A rate target is
judged on the paired ratio's 95 % t-interval over boots (the rounds of
one boot are averaged first: only boots are independent): MET or NOT MET
only when the interval excludes the threshold, INCONCLUSIVE when it
contains it; counts (requests, bytes) are judged as they are; NOT
EVALUATED when a mode or workload it needs was not measured. For the NIC bench: rates per
mode and test, ratios paired within each round with a 95 % t-interval
(on log ratios, back-transformed), IOMMU requests per packet, the pool's
memory under a sustained stream, and its targets as MET, NOT MET or
INCONCLUSIVE (the interval contains the threshold). Writes results/costs.csv
(iommu,mode,rw,bs,iommu_requests_per_gib,map_us_per_gib,unmap_us_per_gib),
results/costs-funcs.csv (per profiled function), results/net-costs.csv
(iommu,mode,test,size,requests,packets,requests_per_packet), the data files
fio-<iommu>.dat and policy-<iommu>.dat that bench/plot.gp draws and
net.dat and net-panels.gp that bench/net.gp draws. Only what was measured is
reported, never an estimate. Python standard library only.
"""
import argparse
import csv
import math
import os
import statistics
import sys
from collections import defaultdict, namedtuple

HEADER = ["iommu", "mode", "rw", "bs", "rep", "iops", "boot"]
COSTS_HEADER = ["iommu", "mode", "rw", "bs", "iommu_requests_per_gib",
                "map_us_per_gib", "unmap_us_per_gib"]
# Known names first, in this order; bounce-<bytes> by size, then the rest
# alphabetically, so a mode added to run.sh's table shows up here.
MODE_ORDER = ["strict", "lazy", "passthrough", "swiotlb", "bounce", "bounce-auto"]
RW_ORDER = ["read", "randread", "write", "randwrite"]
IOMMU_ORDER = ["virtio", "vtd", "smmuv3"]
NOISY = 0.25  # (max - min) / median above which a cell is flagged
# Largest mapping a bounce pool serves (dma-bounce.c IOB_MAX_SLOT: 32 pages)
POOL_MAX_MAPPING = 128 << 10
IOMMU_NAME = {"virtio": "virtio-iommu", "vtd": "Intel VT-d (intel-iommu)",
              "smmuv3": "Arm SMMUv3 (arm-smmu-v3)"}
MAP_FUNCS = ("iommu_dma_map_page", "iommu_dma_map_sg")
UNMAP_FUNCS = ("iommu_dma_unmap_page", "iommu_dma_unmap_sg")
DIRS = {"0": "bidirectional", "1": "to device", "2": "from device"}
CLASSES = [4096 << i for i in range(6)]  # the pool's slot classes, 4K..128K
AUTO_THRESHOLD = 4096  # the kernel's default bounce_threshold, auto's
GIB = float(1 << 30)


def mode_key(m):
    if m in MODE_ORDER:
        return (0, MODE_ORDER.index(m), "")
    if m.startswith("bounce-") and m[7:].isdigit():
        return (1, int(m[7:]), "")
    return (2, 0, m)


def ordered_modes(names):
    return sorted(set(names), key=mode_key)


def ordered(names, order):
    known = [n for n in order if n in names]
    return known + sorted(n for n in names if n not in order)


def bs_label(b):
    for unit, suf in ((1 << 20, "M"), (1 << 10, "k")):
        if b % unit == 0:
            return f"{b // unit}{suf}"
    return str(b)


def fmt(v, nd=0):
    if v is None:
        return "-"
    if nd == 0:
        return f"{v:.0f}"
    return f"{v:.{nd}f}"


def read_meta(path):
    meta = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, sep, v = line.rstrip("\n").partition("=")
                if sep:
                    meta[k] = v
    return meta


def read_rows(path, header=None):
    """Rows of a CSV as dicts; [] when the file is missing."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return []
    if header and rows[0] != header:
        sys.exit(f"report.py: {path}: header must be {','.join(header)}")
    return [dict(zip(rows[0], r)) for r in rows[1:] if len(r) == len(rows[0])]


def is_policy_boot(name):
    return "-policy-rep" in name


def read_fio(path):
    """Two dicts (iommu, rw, mode, bs) -> [(rep, iops)], the rows of the
    boots of one mode each and those of the policy boots, and the policy
    boots as {(iommu, rep): boot name}: a policy boot holds several rounds
    (reps), and only boots are independent of each other."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != HEADER:
        sys.exit(f"report.py: {path}: header must be {','.join(HEADER)}")
    data, pdata, pboots = defaultdict(list), defaultdict(list), {}
    for n, r in enumerate(rows[1:], 2):
        if len(r) != len(HEADER):
            sys.exit(f"report.py: {path}:{n}: expected {len(HEADER)} fields")
        iommu, mode, rw, bs, rep, iops, boot = r
        try:
            bs, rep, iops = int(bs), int(rep), int(iops)
        except ValueError:
            sys.exit(f"report.py: {path}:{n}: bs, rep and iops must be integers")
        if is_policy_boot(boot) and pboots.setdefault((iommu, rep), boot) != boot:
            sys.exit(f"report.py: {path}:{n}: rep {rep} in two policy boots")
        (pdata if is_policy_boot(boot) else data)[(iommu, rw, mode, bs)].append((rep, iops))
    if not data and not pdata:
        sys.exit(f"report.py: {path}: no measurements")
    return data, pdata, pboots


def wl_key(w):
    return (RW_ORDER.index(w[0]) if w[0] in RW_ORDER else 99, w[0], w[1])


def iops_table(data, med, iommu, wls, modes):
    """Median [min-max] per mode and workload, and how many cells are noisy."""
    rows, noisy = [], 0
    for m in modes:
        row = [m]
        for rw, b in wls:
            v = data.get((iommu, rw, m, b))
            if v is None:
                row.append("not measured")
                continue
            ii = [i for _, i in v]
            mark = ""
            if len(ii) > 1 and (max(ii) - min(ii)) > NOISY * med[(iommu, rw, m, b)]:
                mark = " *"
                noisy += 1
            rng = f" [{min(ii)}-{max(ii)}]" if len(ii) > 1 else ""
            row.append(f"{med[(iommu, rw, m, b)]:.0f}{rng}{mark}")
        rows.append(row)
    return rows, noisy


def ratio_table(med, iommu, wls, modes, base):
    return [[m] + [f"{med[(iommu, rw, m, b)] / med[(iommu, rw, base, b)]:.2f}"
                   if (iommu, rw, m, b) in med and (iommu, rw, base, b) in med
                   else "-" for rw, b in wls]
            for m in modes if m != base]


def paired(data, iommu, rw, bs, a_mode, b_mode, unit_of=None):
    """Runs of @a_mode and @b_mode with the same rep (the same round of a
    policy boot, or the same repetition of the mode boots), as the
    geometric mean of their ratios and its 95 % interval over independent
    units: @unit_of maps a rep to its boot (rounds of one boot are not
    independent); without it every rep is a unit of its own. None below
    two units."""
    a = dict(data.get((iommu, rw, a_mode, bs), []))
    b = dict(data.get((iommu, rw, b_mode, bs), []))
    return paired_interval(a, b, unit_of)


def policy_boot_of(pboots, iommu):
    """The unit_of for paired() on @iommu's policy runs: rep -> its boot."""
    return lambda rep: pboots.get((iommu, rep), rep)


def fmt_paired(p):
    return "-" if p is None else f"{p.gm:.2f} [{p.lo:.2f}-{p.hi:.2f}] n={p.n}"


def write_dat(path, med, iommu, wls, modes):
    """plot.gp's data: the read block-size sweep, a row per size, a column
    per mode (MiB/s)."""
    sweep_rw = "read" if any(rw == "read" for rw, _ in wls) else wls[0][0]
    with open(path, "w") as f:
        f.write("bs " + " ".join(modes) + "\n")
        for rw, b in wls:
            if rw != sweep_rw:
                continue
            f.write(f"{b} " + " ".join(
                f"{med[(iommu, rw, m, b)] * b / 2**20:.3f}" if (iommu, rw, m, b) in med
                else "NaN" for m in modes) + "\n")


def is_fixed(m):
    return m == "bounce" or (m.startswith("bounce-") and m[7:].isdigit())


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


# Rate targets of the bounce mode's boots: (what, mode, against, read
# block size, factor)
MODE_TARGETS = [("read 4k: bounce >= 2.0 x strict", "bounce", "strict", 4096, 2.0),
                ("read 4k: bounce >= lazy", "bounce", "lazy", 4096, 1.0),
                ("read 4k: bounce >= 0.8 x passthrough", "bounce", "passthrough", 4096, 0.8),
                ("read 16k: bounce >= lazy", "bounce", "lazy", 16384, 1.0)]
AUTO_MIN = 0.97     # bounce-auto >= 0.97 x strict at every read size
AUTO_FIXED = 0.95   # ... and within 5 % of the best fixed threshold


def ratio_target(T, what, data, med, iommu, wl, a_mode, b_mode, factor, unit_of=None):
    """Judge 'a_mode >= factor x b_mode' at workload @wl (rw, bs) on the
    paired interval over boots (verdict()): MET or NOT MET only when the
    interval excludes @factor. The medians are shown beside it."""
    rw, bs = wl
    x, y = med.get((iommu, rw, a_mode, bs)), med.get((iommu, rw, b_mode, bs))
    if x is None or y is None:
        T.verdict(what, "NOT EVALUATED",
                  f"{a_mode if x is None else b_mode} {rw} {bs_label(bs)} not measured")
        return
    iv = paired(data, iommu, rw, bs, a_mode, b_mode, unit_of)
    T.verdict(what, verdict(iv, factor),
              f"paired {fmt_paired(iv)}{'' if iv else ' (fewer than 2 boots paired)'}, "
              f"needs >= {factor:.2f}; medians {a_mode} {x:.0f} vs {b_mode} {y:.0f} IOPS")


def fixed_target(T, data, med, iommu, bs, fixed, unit_of):
    """bounce-auto within AUTO_FIXED of the best fixed threshold at read
    @bs, judged against every fixed threshold on paired data
    (fixed_verdict())."""
    what = f"read {bs_label(bs)}: bounce-auto within 5 % of the best fixed threshold"
    ivs = {m: paired(data, iommu, "read", bs, "bounce-auto", m, unit_of)
           for m in fixed if (iommu, "read", m, bs) in med}
    if (iommu, "read", "bounce-auto", bs) not in med or not ivs:
        T.verdict(what, "NOT EVALUATED", "bounce-auto or no fixed threshold measured")
        return
    T.verdict(what, fixed_verdict(ivs, AUTO_FIXED),
              "; ".join(f"auto / {m} {fmt_paired(iv)}"
                        for m, iv in sorted(ivs.items(), key=lambda z: mode_key(z[0])))
              + f" (each needs >= {AUTO_FIXED:.2f})")


def flt(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


class Targets:
    """Collects target verdicts: MET / NOT MET / NOT EVALUATED, and
    INCONCLUSIVE for the targets judged on an interval that holds the
    threshold."""

    def __init__(self):
        self.lines = []
        self.count = defaultdict(int)

    def check(self, what, ok, detail):
        v = "NOT EVALUATED" if ok is None else ("MET" if ok else "NOT MET")
        self.verdict(what, v, detail)

    def verdict(self, what, v, detail):
        self.count[v] += 1
        self.lines.append(f"- **{v}** -- {what}: {detail}")


def costs(prof, cpu):
    """Per (iommu, mode, rw, bs): requests, map and unmap time per GiB."""
    by = defaultdict(lambda: defaultdict(dict))  # key -> set -> func -> (hits, us, bytes)
    for r in prof:
        k = (r["iommu"], r["mode"], r["rw"], int(r["bs"]))
        by[k][r["set"]][r["func"]] = (int(r["hits"]), float(r["time_us"]), int(r["bytes"]))
    out = {}
    funcs = []
    for k, sets in by.items():
        c = {}
        m = sets.get("map", {})
        if m:
            b = next(iter(m.values()))[2]
            if b > 0:
                c["map_us"] = sum(m[f][1] for f in MAP_FUNCS if f in m) / (b / GIB)
                c["unmap_us"] = sum(m[f][1] for f in UNMAP_FUNCS if f in m) / (b / GIB)
                c["maps"] = sum(m[f][0] for f in MAP_FUNCS if f in m) / (b / GIB)
        q = sets.get("req", {})
        if q:
            b = next(iter(q.values()))[2]
            if b > 0:
                c["req"] = sum(h for h, _, _ in q.values()) / (b / GIB)
                c["req_detail"] = {f: h / (b / GIB) for f, (h, _, _) in q.items()}
        # Every profiled function of both sets, per GiB
        for st in ("map", "req"):
            for f, (h, us, b) in sets.get(st, {}).items():
                funcs.append(list(k) + [st, f, h / (b / GIB) if b else None,
                                        us / (b / GIB) if b else None])
        out[k] = c
    # CPU time per I/O, median over the repetitions' measured runs
    per = defaultdict(list)
    for r in cpu:
        bs, b, t, hz = int(r["bs"]), flt(r["bytes"]), flt(r["busy_ticks"]), flt(r["hz"])
        if b and hz and t is not None and b >= bs:
            per[(r["iommu"], r["mode"], r["rw"], bs)].append(t * 1e6 / hz / (b / bs))
    for k, v in per.items():
        out.setdefault(k, {})["cpu_us_io"] = statistics.median(v)
    return out, funcs


# ---- NIC bench (net.csv, net-prof.csv, net-maps.csv, net-pool.csv) ----

NET_HEADER = ["iommu", "mode", "test", "size", "rep", "rate"]
NET_COSTS_HEADER = ["iommu", "mode", "test", "size", "requests", "packets",
                    "requests_per_packet"]
NET_MODE_ORDER = ["strict", "lazy", "passthrough", "bounce", "auto"]
# test kind -> (what, unit of its rate)
NET_KINDS = {"rr": ("request/response", "transactions/s"), "stream": ("stream", "Mbit/s")}
# Two-sided 95 % quantiles of Student's t (the 0.975 quantile) by degrees
# of freedom. Between rows the next smaller df is used, beyond 120 the
# 120 row: both make the interval a little wider, never narrower.
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365,
        8: 2.306, 9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145,
        15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080,
        22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
        29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}
# The targets: 64 B request/response, bounce against a base mode
NET_RATE_TARGETS = [("rr", 64, "bounce", "strict", 1.5),
                    ("rr", 64, "bounce", "passthrough", 0.9)]
NET_REQ_FRACTION = 0.01  # requests per packet with bounce <= 1 % of strict
# strict must count at least this many requests in its profiled run for
# 1 % of them (10 requests) to be told from none
NET_REQ_MIN = 1000
# Paired ratios shown, when both modes were measured
NET_PAIRS = [("bounce", "strict"), ("bounce", "passthrough"), ("auto", "strict"),
             ("auto", "bounce"), ("lazy", "strict"), ("passthrough", "strict")]
Interval = namedtuple("Interval", "gm lo hi n t")


def t975(df):
    """The 0.975 quantile of Student's t with @df degrees of freedom."""
    if df < 1:
        raise ValueError("t quantile needs at least 1 degree of freedom")
    return T975[max(k for k in T975 if k <= df)]


def paired_interval(a, b, unit_of=None):
    """Rates of two modes by rep ({rep: rate}), paired by rep: the
    geometric mean of the ratios a/b and its 95 % interval, mean of the
    log ratios +- t(n-1) x their standard error, back-transformed, where
    the n samples are independent units: the log ratios of the reps that
    @unit_of maps to the same unit (a boot) are averaged first. Without
    @unit_of every rep is its own unit. None below two units (no spread
    to go by)."""
    units = defaultdict(list)
    for r in sorted(a.keys() & b.keys()):
        if a[r] > 0 and b[r] > 0:
            units[unit_of(r) if unit_of else r].append(math.log(a[r] / b[r]))
    logs = [statistics.mean(v) for v in units.values()]
    n = len(logs)
    if n < 2:
        return None
    m = statistics.mean(logs)
    t = t975(n - 1)
    half = t * statistics.stdev(logs) / math.sqrt(n)
    return Interval(math.exp(m), math.exp(m - half), math.exp(m + half), n, t)


def verdict(iv, threshold, at_least=True):
    """MET when the whole interval is on the right side of @threshold
    (above it with @at_least, else below), NOT MET when it is all on the
    wrong side, INCONCLUSIVE when it contains the threshold or there is no
    interval."""
    if iv is None:
        return "INCONCLUSIVE"
    good, bad = (iv.lo > threshold, iv.hi < threshold)
    if not at_least:
        good, bad = bad, good
    return "MET" if good else ("NOT MET" if bad else "INCONCLUSIVE")


def fixed_verdict(ivs, tol):
    """@ivs: {fixed policy: interval of auto / that policy} at one size.
    Auto is within @tol of the best fixed threshold when it is within it
    of every one: MET when every interval lies above @tol, NOT MET when
    one lies wholly below it, INCONCLUSIVE otherwise (or with a policy
    not paired). Picking the best by its noisy median first would bias
    the comparison against auto; this needs no pick."""
    vs = [verdict(iv, tol) for iv in ivs.values()]
    if not vs:
        return "INCONCLUSIVE"
    if "NOT MET" in vs:
        return "NOT MET"
    return "MET" if all(v == "MET" for v in vs) else "INCONCLUSIVE"


def count_verdict(x, base, fraction=NET_REQ_FRACTION, min_base=NET_REQ_MIN):
    """Requests per packet of a mode @x against @base, each (requests,
    packets) of one profiled run: MET when x's share is at most @fraction
    of base's. Counts, not timings: no interval; INCONCLUSIVE when base
    counted too few requests for @fraction of them to be resolved, or no
    packets. Returns (verdict, x per packet, base per packet)."""
    (xr, xp), (br, bp) = x, base
    if xp <= 0 or bp <= 0 or br < min_base:
        return ("INCONCLUSIVE", xr / xp if xp > 0 else None, br / bp if bp > 0 else None)
    xr_p, br_p = xr / xp, br / bp
    return ("MET" if xr_p <= fraction * br_p else "NOT MET", xr_p, br_p)


def split_test(test):
    """net.csv's test "NIC:KIND" -> (NIC, KIND); a bare KIND has NIC "-"."""
    nic, sep, kind = test.rpartition(":")
    return (nic if sep else "-"), kind


def read_net(path):
    """net.csv as {(iommu, nic, kind, size): {mode: {round: rate}}}; {}
    when the file is missing (NET=0)."""
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != NET_HEADER:
        sys.exit(f"report.py: {path}: header must be {','.join(NET_HEADER)}")
    data = defaultdict(lambda: defaultdict(dict))
    for n, r in enumerate(rows[1:], 2):
        if len(r) != len(NET_HEADER):
            sys.exit(f"report.py: {path}:{n}: expected {len(NET_HEADER)} fields")
        iommu, mode, test, size, rep, rate = r
        nic, kind = split_test(test)
        try:
            size, rep, rate = int(size), int(rep), float(rate)
        except ValueError:
            sys.exit(f"report.py: {path}:{n}: size and rep must be integers, rate a number")
        if kind not in NET_KINDS or rate <= 0:
            sys.exit(f"report.py: {path}:{n}: test must be NIC:rr or NIC:stream, rate > 0")
        if rep in data[(iommu, nic, kind, size)][mode]:
            sys.exit(f"report.py: {path}:{n}: a second rate for {mode} {test} {size} rep {rep}")
        data[(iommu, nic, kind, size)][mode][rep] = rate
    return data


def net_costs(prof):
    """net-prof.csv rows -> {(iommu, nic, kind, size, mode): (requests,
    packets)}: the hits of every request function over the profiled
    window, and the packets both NICs sent and received in it (the same
    on each function's row)."""
    out = {}
    for r in prof:
        nic, kind = split_test(r["test"])
        try:
            k = (r["iommu"], nic, kind, int(r["size"]), r["mode"])
            hits, packets = int(r["hits"]), int(r["packets"])
        except ValueError:
            sys.exit(f"report.py: net-prof.csv: size, hits and packets must be integers: {r}")
        if hits < 0 or packets <= 0:
            sys.exit(f"report.py: net-prof.csv: hits < 0 or no packets: {r}")
        req, pk = out.get(k, (0, packets))
        out[k] = (req + hits, pk)
    return out


def net_size(kind, size):
    """A test's size as the report names it: message bytes, or the MTU."""
    if kind == "stream":
        return f"MTU {size}"
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} B"


def net_label(kind, size):
    return f"{kind} {net_size(kind, size)}"


def net_rate_rows(cells, keys, modes):
    """Median [min-max] over the rounds, a row per mode, a column per test."""
    rows = []
    for m in modes:
        row = [m]
        for k in keys:
            v = list(cells[k].get(m, {}).values())
            if not v:
                row.append("-")
                continue
            nd = 0 if k[2] == "rr" else 1
            rng = f" [{fmt(min(v), nd)}-{fmt(max(v), nd)}]" if len(v) > 1 else ""
            row.append(f"{fmt(statistics.median(v), nd)}{rng}")
        rows.append(row)
    return rows


def fmt_iv(iv):
    return "-" if iv is None else f"{iv.gm:.2f} [{iv.lo:.2f}-{iv.hi:.2f}] n={iv.n}"


def net_paired_rows(cells, keys, modes):
    return [[f"{a} / {b}"] + [fmt_iv(paired_interval(cells[k].get(a, {}), cells[k].get(b, {})))
                              for k in keys]
            for a, b in NET_PAIRS if a in modes and b in modes]


def net_cost_rows(cost, iommu, nic, keys, modes):
    """Requests per packet per mode and test, and the share of strict's."""
    rows = []
    for m in modes:
        row, have = [m], False
        for k in keys:
            c = cost.get((iommu, nic, k[2], k[3], m))
            s = cost.get((iommu, nic, k[2], k[3], "strict"))
            if not c or c[1] <= 0:
                row.append("-")
                continue
            have = True
            share = ""
            if s and s[0] > 0 and s[1] > 0 and m != "strict":
                share = f" ({100 * (c[0] / c[1]) / (s[0] / s[1]):.2f} % of strict)"
            row.append(f"{c[0] / c[1]:.3f}{share} [{c[0]} / {c[1]}]")
        if have:
            rows.append(row)
    return rows


def net_copy(rows):
    """net-copy.csv rows -> {(iommu, nic, kind, size, mode): (maps, bytes,
    packets)}: what both pools bounced in the profiled window; modes
    without a pool ("none") are left out."""
    out = {}
    for r in rows:
        if r["maps"] == "none":
            continue
        nic, kind = split_test(r["test"])
        try:
            out[(r["iommu"], nic, kind, int(r["size"]), r["mode"])] = (
                int(r["maps"]), int(r["bytes"]), int(r["packets"]))
        except ValueError:
            sys.exit(f"report.py: net-copy.csv: size, packets, maps and bytes must be integers: {r}")
    return out


def net_copy_rows(copy, iommu, nic, keys, modes):
    """Per mode with a pool: mappings bounced and their bytes per packet."""
    rows = []
    for m in modes:
        cells = [copy.get((iommu, nic, k[2], k[3], m)) for k in keys]
        if not any(cells):
            continue
        rows.append([m] + ["-" if not c or c[2] <= 0 else
                           f"{c[0] / c[2]:.2f} maps, {c[1] / c[2]:.0f} B" for c in cells])
    return rows


def net_pool_rows(pool, meta, iommu, nic):
    """Pool bytes of the receiving group under the sustained stream: max
    and median of the per-second samples, per mode."""
    rows = []
    sel = [r for r in pool if r["iommu"] == iommu and r["nic"] == nic]
    for m in ordered([r["mode"] for r in sel], NET_MODE_ORDER):
        b = [int(r["bytes"]) for r in sel if r["mode"] == m]
        mbps = meta.get(f"net_pool_mbps.{iommu}.{nic}.{m}", "-")
        rows.append([m, str(len(b)), f"{max(b) / 1024:.0f}",
                     f"{statistics.median(b) / 1024:.0f}", f"{b[-1] / 1024:.0f}", mbps])
    return rows


def net_maps_line(maps, iommu, nic):
    """The mappings the two pools served in each mode's runs of a round."""
    out = []
    sel = [r for r in maps if r["iommu"] == iommu and r["nic"] == nic]
    for m in ordered([r["mode"] for r in sel], NET_MODE_ORDER):
        rr = [r for r in sel if r["mode"] == m and r["maps_a"] != "none"]
        if rr:
            mp = statistics.median(int(r["maps_a"]) + int(r["maps_b"]) for r in rr)
            fb = statistics.median(int(r["fallbacks_a"]) + int(r["fallbacks_b"]) for r in rr)
            out.append(f"{m} {mp:.0f} (fallbacks {fb:.0f})")
    return out


def net_targets(T, cells, cost, iommu, nic, accel):
    """The issue's NIC targets for one IOMMU and NIC into @T."""
    where = "" if (iommu, accel) == ("virtio", "tcg") else \
        " (the targets are set for TCG and virtio-iommu)"
    T.lines.append(f"\n#### NIC bench: {IOMMU_NAME.get(iommu, iommu)}, {nic}{where}\n")
    T.lines.append("Rates paired within each round: geometric mean of the ratios "
                   "[95 % interval, t with n-1 df]; INCONCLUSIVE when the interval "
                   "contains the threshold. Requests per packet: the counts of one "
                   "profiled run per mode.\n")
    for kind, size, a, b, factor in NET_RATE_TARGETS:
        what = f"{net_label(kind, size)}: {a} >= {factor:.1f} x {b}"
        c = cells.get((iommu, nic, kind, size), {})
        if a not in c or b not in c:
            T.verdict(what, "NOT EVALUATED", f"{a if a not in c else b} not measured")
            continue
        iv = paired_interval(c[a], c[b])
        T.verdict(what, verdict(iv, factor),
                  "fewer than 2 rounds with both: no interval" if iv is None else
                  f"{fmt_iv(iv)} rounds of one boot (t = {iv.t:.3f}); "
                  f"needs >= {factor:.2f} x")
    for k in sorted({(x[2], x[3]) for x in cost if x[:2] == (iommu, nic)}):
        what = f"{net_label(*k)}: IOMMU requests per packet, bounce <= 1 % of strict"
        x, s = cost.get((iommu, nic) + k + ("bounce",)), cost.get((iommu, nic) + k + ("strict",))
        if not x or not s:
            T.verdict(what, "NOT EVALUATED", "bounce or strict not profiled")
            continue
        v, xp, sp = count_verdict(x, s)
        T.verdict(what, v, f"bounce {x[0]} requests / {x[1]} packets vs strict {s[0]} / "
                  f"{s[1]}" + (f" = {100 * xp / sp:.2f} %" if xp is not None and sp else "")
                  + (f" (strict counted under {NET_REQ_MIN} requests: 1 % is not resolved)"
                     if s[0] < NET_REQ_MIN else ""))


def write_net_plot(R, cells, keys_by, meta):
    """net.dat (a block per panel: x mode median min max round1..) and
    net-panels.gp (panel titles and units) for bench/net.gp."""
    titles, units, ncols = [], [], 1
    rounds = sorted({r for c in cells.values() for v in c.values() for r in v})
    with open(os.path.join(R, "net.dat"), "w") as f:
        for (iommu, nic), keys in keys_by.items():
            ncols = max(ncols, len(keys))
            for k in keys:
                modes = ordered(list(cells[k]), NET_MODE_ORDER)
                f.write(f"# {iommu} {nic} {k[2]} {k[3]}\n")
                for x, m in enumerate(modes):
                    v = cells[k][m]
                    f.write(f"{x} {m} {statistics.median(v.values()):.3f} {min(v.values()):.3f} "
                            f"{max(v.values()):.3f} "
                            + " ".join(f"{v[r]:.3f}" if r in v else "NaN" for r in rounds) + "\n")
                f.write("\n\n")
                titles.append(f"{IOMMU_NAME.get(iommu, iommu)}, {nic}: "
                              f"{NET_KINDS[k[2]][0]} {net_size(k[2], k[3])}")
                units.append(NET_KINDS[k[2]][1])
    q = lambda xs: ", ".join('"' + x.replace('"', "'") + '"' for x in xs)
    with open(os.path.join(R, "net-panels.gp"), "w") as f:
        f.write(f"# written by bench/report.py for bench/net.gp\nnpanels = {len(titles)}\n"
                f"ncols = {min(ncols, 3)}\narray ptitle[{len(titles)}] = [{q(titles)}]\n"
                f"array pylabel[{len(units)}] = [{q(units)}]\n")


def write_net_costs(R, cost):
    with open(os.path.join(R, "net-costs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(NET_COSTS_HEADER)
        for (iommu, nic, kind, size, mode), (req, pk) in sorted(
                cost.items(), key=lambda i: (i[0][:4], NET_MODE_ORDER.index(i[0][4])
                                             if i[0][4] in NET_MODE_ORDER else 99)):
            w.writerow([iommu, mode, f"{nic}:{kind}", size, req, pk,
                        f"{req / pk:.4f}" if pk > 0 else ""])


def net_intro(meta):
    """What the NIC bench did, from meta."""
    return [
        "One boot per IOMMU and NIC model (`" + meta.get("net_boot_args", "?") + "`): two "
        "NICs of the model on a QEMU hub, the second in a network namespace, so all "
        "traffic crosses both NICs and both IOMMU groups. The modes are set at run time "
        "in both groups: strict = type DMA, bounce off; lazy = DMA-FQ, bounce off; "
        "passthrough = identity; bounce = DMA, bounce on with bounce_threshold "
        f"{meta.get('net_threshold', '?')}; auto = DMA, bounce auto (a type change "
        f"unbinds and binds both NICs). {meta.get('net_rounds', '?')} rounds"
        + (f" after an unmeasured round of {meta.get('net_prime')} s per test"
           if meta.get("net_prime", "0") != "0" else "")
        + "; round r runs the modes rotated by r and reversed every other round "
        "(each round starts with another mode); after each switch an unmeasured "
        f"{meta.get('net_warmup', '?')} s 64 B ping-pong, then each test for "
        f"{meta.get('net_runtime', '?')} s: rr = sockperf ping-pong over TCP "
        "(transactions/s = ReceivedMessages / RunTime of its [Valid Duration] line), "
        "stream = iperf3 TCP at the MTU, default MSS, 1 s omitted (Mbit/s received). "
        + (f"Clients and servers pinned to guest CPUs {meta['net_cpus'].replace('+', ' and ')} "
           "(taskset)." if meta.get("net_cpus") else "Clients and servers not pinned."),
    ]


def net_section(R, meta, T, accel):
    """The NIC bench's part of report.md; [] when it did not run."""
    cells = read_net(os.path.join(R, "net.csv"))
    if not cells:
        return []
    cost = net_costs(read_rows(os.path.join(R, "net-prof.csv")))
    copy = net_copy(read_rows(os.path.join(R, "net-copy.csv")))
    pool = read_rows(os.path.join(R, "net-pool.csv"))
    maps = read_rows(os.path.join(R, "net-maps.csv"))
    keys_by = defaultdict(list)
    for k in sorted(cells, key=lambda k: (IOMMU_ORDER.index(k[0]) if k[0] in IOMMU_ORDER
                                          else 9, k[1], k[2] != "rr", k[3])):
        keys_by[(k[0], k[1])].append(k)
    md = ["", "## NIC bench", ""] + net_intro(meta)
    for (iommu, nic), keys in keys_by.items():
        md += net_nic_section(meta, cells, cost, copy, pool, maps, iommu, nic, keys)
        net_targets(T, cells, cost, iommu, nic, accel)
    write_net_costs(R, cost)
    write_net_plot(R, cells, keys_by, meta)
    return md


def net_nic_section(meta, cells, cost, copy, pool, maps, iommu, nic, keys):
    """One IOMMU and NIC of the NIC bench: rates, paired ratios, requests
    and bounced bytes per packet, the pools' mappings and memory."""
    modes = ordered({m for k in keys for m in cells[k]}, NET_MODE_ORDER)
    head = ["mode"] + [f"{net_label(k[2], k[3])} ({NET_KINDS[k[2]][1]})" for k in keys]
    md = ["", f"### {IOMMU_NAME.get(iommu, iommu)}, {nic}", "",
          "Median [min-max] over the rounds:", ""]
    md += table(head, net_rate_rows(cells, keys, modes))
    md += ["", "Paired ratios, the runs of one round against each other: geometric "
           "mean of the ratios [95 % interval: mean of the log ratios +- t(n-1) "
           "standard errors, back-transformed], n rounds. The rounds share one "
           "boot, seconds apart: the interval holds the noise between runs, not "
           "what differs from boot to boot (the block bench's mode boots do):", ""]
    md += table(["modes"] + head[1:], net_paired_rows(cells, keys, modes))
    pk = [k for k in keys if any(c[:4] == k for c in cost)]
    phead = ["mode"] + [net_label(k[2], k[3]) for k in pk]
    rows = net_cost_rows(cost, iommu, nic, pk, modes)
    if rows:
        md += ["", f"IOMMU requests per packet (profiler pass: calls of "
               f"{meta.get('req_funcs.' + iommu, '?').replace('+', ', ')} over "
               f"{meta.get('net_prof_runtime', '?')} s of one unmeasured run per mode "
               "and test, per packet both NICs sent and received in that window; "
               "[requests / packets]):", ""]
        md += table(phead, rows)
    rows = net_copy_rows(copy, iommu, nic, pk, modes)
    if rows:
        md += ["", "What the pools did in the same windows, per packet: mappings "
               "bounced and the bytes of those mappings (each is copied in on "
               "map and, for a receive buffer, out on unmap; a receive buffer "
               "is copied whole, however short the packet in it):", ""]
        md += table(phead, rows)
    ml = net_maps_line(maps, iommu, nic)
    if ml:
        md += ["", "Mappings the two pools served in a mode's runs of a round (median "
               "over the rounds): " + "; ".join(ml) + "."]
    prow = net_pool_rows(pool, meta, iommu, nic)
    if prow:
        md += ["", "Pool memory of the receiving NIC's group during one sustained iperf3 "
               "stream into it, sampled every second (results/net-pool.csv):", ""]
        md += table(["mode", "samples", "max KiB", "median KiB", "last KiB",
                     "stream Mbit/s"], prow)
    return md


# ---- The block bench's part of report.md (main() and its pieces) ----

# What main() read for the block bench, and the medians of fio.csv:
# med of the mode boots, pmed of the policy boots
Block = namedtuple("Block", "R meta data pdata pboots med pmed cost dmab poolt pool")
# One IOMMU's workloads and modes in the mode boots (wls, modes) and in the
# policy boots (pwls, pmodes), and how fio's buffers were allocated (huge)
View = namedtuple("View", "iommu wls modes pwls pmodes huge")


def parse_args():
    """The command line: --results DIR and --accel."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", default=os.path.join(top, "results"))
    ap.add_argument("--accel", help="override the accelerator in results/meta")
    return ap.parse_args()


def medians(data):
    """(iommu, rw, mode, bs) -> median IOPS over its runs."""
    return {k: statistics.median(i for _, i in v) for k, v in data.items()}


def header_lines(B, accel):
    """report.md's title and what was run, from meta and fio.csv."""
    meta = B.meta
    reps = sorted({len(v) for v in B.data.values()}) or [0]
    reps_s = str(reps[0]) if len(reps) == 1 else f"{reps[0]}-{reps[-1]} (uneven)"
    title = "fio, DMA costs, dma_map_benchmark, pool memory"
    if os.path.exists(os.path.join(B.R, "net.csv")):
        title += ", NIC"
    md = [f"# iobounce bench: {title}", ""]
    md += [
        f"- accelerator: **{accel}** (qemu.sh: `{meta.get('accel_line', '?')}`)",
        f"- workloads: fio {meta.get('workloads', '?')}; O_DIRECT, libaio, iodepth 64 "
        f"on the emulated NVMe's raw device (QEMU "
        f"{'virt, arm64' if meta.get('arch') == 'arm64' else 'q35, x86_64'}), "
        f"{meta.get('runtime', '?')} s "
        f"per point after {meta.get('warmup', '?')} s warm-up, guest "
        f"{meta.get('smp', '?')} CPUs / {meta.get('mem', '?')} MiB",
        f"- repetitions: {reps_s}, modes interleaved boot by boot; medians shown, "
        "min-max over the repetitions in brackets",
        f"- date: {meta.get('date', 'unknown')}{' (QUICK=1 run)' if meta.get('quick') == '1' else ''}",
        f"- kernel: {meta.get('kernel', 'unknown')} (image sha1 "
        f"{meta.get('kernel_sha1', '?')}, patch series {meta.get('series', '?')}, "
        f"repo {meta.get('repo', '?')})",
        f"- {meta.get('qemu', 'QEMU version unknown')}; host CPU: "
        f"{meta.get('host_cpu', 'unknown')} ({meta.get('host_cpus', '?')} CPUs)",
    ]
    return md + header_notes(meta, accel)


def header_notes(meta, accel):
    """The header's optional lines: each mode's kernel arguments, the boots
    retried, the boots whose NVMe came late, the TCG caveat."""
    md = []
    margs = {k[len("mode_args."):]: v for k, v in meta.items()
             if k.startswith("mode_args.")}
    if margs:
        md.append("- modes: " + "; ".join(
            f"{m} = `{margs[m]}`" for m in ordered_modes(margs)))
    retried = {k[len("retried."):]: v for k, v in meta.items() if k.startswith("retried.")}
    if retried:
        md.append("- boots retried after QEMU itself failed: " + "; ".join(
            f"{k} ({v})" for k, v in sorted(retried.items())))
    late = {k[len("nvme_wait."):]: v for k, v in meta.items() if k.startswith("nvme_wait.")}
    if late:
        md.append("- boots whose NVMe namespace appeared only after fio.sh waited "
                  "(seconds; the kernel's NVMe lines are in the boot's .res): " + "; ".join(
                      f"{k} ({v} s)" for k, v in sorted(late.items())))
    if accel == "tcg":
        md.append("- note: under TCG a guest memcpy is slow and an IOMMU request "
                  "is cheap compared with KVM; ratios here need not hold on KVM "
                  "or bare metal")
    return md


def iommu_view(B, iommu):
    """@iommu's workloads and modes of the mode boots and the policy boots."""
    wls = sorted({(k[1], k[3]) for k in B.data if k[0] == iommu}, key=wl_key)
    modes = ordered_modes(k[2] for k in B.data if k[0] == iommu)
    pwls = sorted({(k[1], k[3]) for k in B.pdata if k[0] == iommu}, key=wl_key)
    pmodes = ordered_modes(k[2] for k in B.pdata if k[0] == iommu)
    huge = ("fio's buffers in huge pages (each I/O one physically contiguous run)"
            if B.meta.get("huge") == "1" else "fio's buffers in small pages")
    return View(iommu, wls, modes, pwls, pmodes, huge)


def iommu_section(B, T, iommu):
    """One IOMMU's part of report.md, its block targets into @T."""
    v = iommu_view(B, iommu)
    md = ["", f"## {IOMMU_NAME.get(iommu, iommu)}"]
    md += fio_section(B, v)
    if v.pwls:
        md += policy_section(B, v)
    md += costs_section(B, v)
    md += dmab_section(B, iommu)
    pool_md, pool_eval = pool_section(B, iommu)
    md += pool_md
    md += auto_decisions_section(B, v)
    block_targets(T, B, v, pool_eval)
    return md


def fio_section(B, v):
    """fio IOPS of the mode boots: medians [min-max], MiB/s and the ratios
    against strict and passthrough; writes fio-<iommu>.dat."""
    iommu, wls, modes, med = v.iommu, v.wls, v.modes, B.med
    head = ["mode"] + [f"{rw} {bs_label(b)}" for rw, b in wls]
    md = ["", "### fio IOPS", "", f"One boot per mode and repetition; {v.huge}; "
          f"every workload first runs {B.meta.get('prime', '?')} s unmeasured. "
          "Median IOPS [min-max over the repetitions]:", ""]
    rows, noisy = iops_table(B.data, med, iommu, wls, modes)
    md += table(head, rows)
    if noisy:
        md += ["", f"\\* {noisy} cell(s) whose repetitions spread by more than "
               f"{NOISY:.0%} of the median: treat them and their ratios as noisy."]
    md += ["", "Median throughput, MiB/s:", ""]
    md += table(head, [[m] + [f"{med[(iommu, rw, m, b)] * b / 2**20:.1f}"
                              if (iommu, rw, m, b) in med else "-" for rw, b in wls]
                       for m in modes])
    md += base_ratio_sections(med, iommu, wls, modes, head)
    if wls:
        write_dat(os.path.join(B.R, f"fio-{iommu}.dat"), med, iommu, wls, modes)
    return md


def base_ratio_sections(med, iommu, wls, modes, head):
    """Ratio of medians against strict and against passthrough, or why
    there is none."""
    md = []
    for base in ("strict", "passthrough"):
        if base not in modes or len(modes) < 2:
            md += ["", f"No ratio against {base}: "
                   + (f"{base} was not measured." if base not in modes
                      else "no other mode was measured.")]
            continue
        md += ["", f"Ratio of medians against {base} (>1 is faster):", ""]
        md += table(head, ratio_table(med, iommu, wls, modes, base))
    return md


def policy_section(B, v):
    """Policy boots: the bounce policies of one kernel, switched at run
    time, interleaved run by run: IOPS, ratios against strict, auto
    against the best fixed threshold, paired ratios and the noise floor;
    writes policy-<iommu>.dat."""
    iommu, pwls, pmodes, pmed = v.iommu, v.pwls, v.pmodes, B.pmed
    phead = ["policy"] + [f"{rw} {bs_label(b)}" for rw, b in pwls]
    md = policy_intro(B, v)
    rows, noisy = iops_table(B.pdata, pmed, iommu, pwls, pmodes)
    md += table(phead, rows)
    if noisy:
        md += ["", f"\\* {noisy} cell(s) spread by more than {NOISY:.0%} of the median."]
    if "strict" in pmodes:
        md += ["", "Ratio of medians against strict (same boots):", ""]
        md += table(phead, ratio_table(pmed, iommu, pwls, pmodes, "strict"))
    fixed = [m for m in pmodes if is_fixed(m)]
    if "bounce-auto" in pmodes and fixed:
        md += auto_vs_fixed_section(pmed, iommu, pwls, fixed)
    md += policy_paired_section(B, v, fixed, phead)
    md += noise_floor_section(pmed, iommu, pwls, fixed)
    write_dat(os.path.join(B.R, f"policy-{iommu}.dat"), pmed, iommu, pwls, pmodes)
    return md


def policy_intro(B, v):
    """The policy boots' heading and how they ran (from meta)."""
    meta = B.meta
    nb = len({b for (io, _), b in B.pboots.items() if io == v.iommu})
    preps = sorted({len(x) for k, x in B.pdata.items() if k[0] == v.iommu})
    return ["", "### Bounce policies compared in the same boots", "",
            f"Policy boots (`{meta.get('policy_args', '?')}`, {nb or '?'} of them): "
            "before each run the NVMe group's policy is set through sysfs "
            "(strict: `bounce` = 0; bounce-auto: `auto` with `bounce_threshold` "
            f"{auto_threshold(meta)}; bounce-<bytes>: 1 with that "
            "`bounce_threshold`); every workload runs every policy "
            f"{meta.get('rounds', '?')} times per boot, each time starting with "
            "another policy, after an unmeasured round of "
            f"{meta.get('prime', '?')} s per run that warms every path up (the "
            "first run of a workload after boot is slow under any policy). "
            f"{v.huge}; {meta.get('runtime', '?')} s per run after "
            f"{meta.get('warmup', '?')} s warm-up; {'-'.join(map(str, preps))} "
            "runs per cell. Median IOPS [min-max]:", ""]


def auto_vs_fixed_section(pmed, iommu, pwls, fixed):
    """bounce-auto's median against the best fixed threshold's, per workload."""
    rows = []
    for rw, b in pwls:
        fx = [(pmed[(iommu, rw, m, b)], m) for m in fixed if (iommu, rw, m, b) in pmed]
        a = pmed.get((iommu, rw, "bounce-auto", b))
        if not fx or a is None:
            continue
        best = max(fx)
        rows.append([f"{rw} {bs_label(b)}", f"{best[1]} {best[0]:.0f}",
                     f"{a:.0f}", f"{a / best[0]:.2f}"])
    md = ["", "bounce-auto against the best fixed threshold of each workload:", ""]
    return md + table(["workload", "best fixed (median IOPS)", "bounce-auto", "ratio"], rows)


def policy_paired_section(B, v, fixed, phead):
    """Paired ratios of the policy boots over boots: every policy against
    strict, bounce-auto against every fixed threshold; [] when none."""
    # Pairs of runs a few seconds apart cancel the slow drift that
    # the medians of separate runs carry
    pmodes = v.pmodes
    pairs = [(m, "strict") for m in pmodes if m != "strict" and "strict" in pmodes]
    if "bounce-auto" in pmodes:
        pairs += [("bounce-auto", m) for m in fixed]
    boot_of = policy_boot_of(B.pboots, v.iommu)
    prows = [[f"{x} / {y}"] + [fmt_paired(paired(B.pdata, v.iommu, rw, b, x, y, boot_of))
                               for rw, b in v.pwls] for x, y in pairs]
    if not any(c != "-" for r in prows for c in r[1:]):
        return []
    return ["", "Paired ratios: the runs of two policies in the same round, "
            "geometric mean of their ratios [95 % interval over boots: the "
            "rounds of a boot averaged (in logs) into one value, then mean "
            "+- t(n-1) standard errors], n boots:", ""] + \
        table(["policies"] + phead[1:], prows)


def noise_floor_section(pmed, iommu, pwls, fixed):
    """The ratio against strict of each fixed threshold below the block
    size (the same path as strict); [] when there is none."""
    # A threshold below the block size bounces nothing of it: that
    # policy and strict take the same path, so their ratio is the
    # noise the other ratios are read against. Only up to the
    # largest mapping the pool serves: a larger I/O reaches the DMA
    # layer as mappings of sizes fio does not tell.
    ctl = [[m, f"{rw} {bs_label(b)}",
            f"{pmed[(iommu, rw, m, b)] / pmed[(iommu, rw, 'strict', b)]:.2f}"]
           for m in fixed if m[7:].isdigit() for rw, b in pwls
           if int(m[7:]) < b <= POOL_MAX_MAPPING and (iommu, rw, m, b) in pmed
           and (iommu, rw, "strict", b) in pmed]
    if not ctl:
        return []
    return ["", "Noise floor: a fixed threshold below the block size sends "
            "every mapping down the IOMMU path, as strict does; without noise "
            "their ratio would be 1.00:", ""] + \
        table(["policy", "workload", "ratio of medians vs strict"], ctl)


def costs_section(B, v):
    """DMA costs per GiB and CPU time per I/O (profiler pass, rep 1); []
    when @v.iommu has none."""
    iommu = v.iommu
    ck = {k: c for k, c in B.cost.items() if k[0] == iommu}
    if not ck:
        return []
    req_funcs = B.meta.get(f"req_funcs.{iommu}", "?").replace("+", ", ")
    md = ["", "### DMA costs per GiB and per I/O", "",
          f"From the profiler pass of rep 1 ({B.meta.get('prof_runtime', '?')} s per "
          "profiled run, after the measured runs): IOMMU requests = calls of "
          f"{req_funcs} per GiB moved; map/unmap = time inside "
          "iommu_dma_map_page + iommu_dma_map_sg / iommu_dma_unmap_page + "
          "iommu_dma_unmap_sg, children included (ftrace function profiler, "
          "graph-time on, sleep-time off), in microseconds per GiB moved "
          "(bytes from /sys/block/*/stat over the profiled run). CPU/IO = busy "
          "CPU time (/proc/stat, all CPUs) over the measured fio runs divided by "
          "the I/Os they moved, median over the repetitions.", ""]
    rows = []
    for m in v.modes:
        for rw, b in v.wls:
            c = ck.get((iommu, m, rw, b))
            if not c:
                continue
            rows.append([m, f"{rw} {bs_label(b)}", fmt(c.get("req")),
                         fmt(c.get("maps")), fmt(c.get("map_us")),
                         fmt(c.get("unmap_us")),
                         fmt(c.get("cpu_us_io"), 1)])
    return md + table(["mode", "workload", "IOMMU requests/GiB", "maps/GiB",
                       "map us/GiB", "unmap us/GiB", "CPU us/IO"], rows)


def dmab_section(B, iommu):
    """dma_map_benchmark's map / unmap latencies of @iommu; [] when none."""
    dm = [r for r in B.dmab if r["iommu"] == iommu]
    if not dm:
        return []
    pages = sorted({int(r["pages"]) for r in dm})
    md = ["", "### dma_map_benchmark (pci-testdev)", "",
          f"Guest -smp {B.meta.get('dmab_smp', '?')} on {B.meta.get('host_cpus', '?')} "
          f"host CPUs, {B.meta.get('dmab_seconds', '?')} s per point; "
          "map / unmap latency in us (stddev as the tool prints it):", ""]
    return md + table(["mode", "threads", "dir"] + [f"{p} pages" for p in pages],
                      dmab_rows(dm, pages))


def dmab_rows(dm, pages):
    """A row per mode, threads and direction measured, a column per size."""
    rows = []
    idx = {(r["mode"], r["threads"], r["dir"], int(r["pages"])): r for r in dm}
    for m in ordered_modes(r["mode"] for r in dm):
        for t in sorted({r["threads"] for r in dm}, key=int):
            for d in ("0", "1", "2"):
                row = [m, t, DIRS[d]]
                have = False
                for p in pages:
                    r = idx.get((m, t, d, p))
                    if r:
                        have = True
                        row.append(f"{r['map_us']} / {r['unmap_us']} "
                                   f"(sd {r['map_sd_us']} / {r['unmap_sd_us']})")
                    else:
                        row.append("-")
                if have:
                    rows.append(row)
    return rows


def pool_section(B, iommu):
    """Pool memory over time against bytes in flight, and its evaluation
    per mode {mode: (every phase within allowance, peak, idle end)};
    ([], {}) when the pool was not sampled."""
    pt = [r for r in B.poolt if r["iommu"] == iommu]
    if not pt:
        return [], {}
    md = ["", "### Bounce pool memory against bytes in flight", "",
          "Sampled in the guest every 0.5 s in rep 1, during an unmeasured pass "
          "over the workloads after the measured runs (results/pool-time.csv, "
          "results/pool.png): the pool's `bytes`, and the bytes in flight = "
          "the mean number of NVMe requests in flight over the 0.5 s before "
          "the sample (growth of time_in_queue in /sys/block/*/stat) x request "
          "size. "
          "Allowance = 1.25 x peak in flight + one "
          f"slot per CPU per class ({B.meta.get('smp', '?')} CPUs x "
          f"{sum(CLASSES) >> 10} KiB for the 6 classes 4K..128K). A phase starts "
          "with the slots of the one before it still in the pool until aging "
          "(5 s idle) frees them; they count against the phase's peak, and the "
          "last sample of the phase (\"at end\") shows what remains.", ""]
    ncpu = int(B.meta.get("smp", "2"))
    slack = ncpu * sum(CLASSES)
    rows, pool_eval = [], {}
    for m in ordered_modes(r["mode"] for r in pt):
        mrows, pool_eval[m] = pool_mode(m, [r for r in pt if r["mode"] == m], slack)
        rows += mrows
    md += table(["mode", "phase", "pool peak MiB", "pool at end MiB",
                 "in flight peak MiB", "allowance MiB", "within"], rows)
    return md, pool_eval


def pool_mode(m, rr, slack):
    """One mode's pool samples @rr: a table row per phase (peak against
    1.25 x in flight + @slack) and one for the idle end, and (every phase
    within its allowance, peak of all samples, idle end or None)."""
    phases = []
    for r in rr:
        if r["phase"] not in phases:
            phases.append(r["phase"])
    peak_all = max(int(r["pool_bytes"]) for r in rr)
    ok_all = True
    rows = []
    for ph in phases:
        if ph in ("idle", "start"):
            continue
        s = [r for r in rr if r["phase"] == ph]
        pp = max(int(r["pool_bytes"]) for r in s)
        fl = max(int(r["inflight_bytes"]) for r in s)
        allow = 1.25 * fl + slack
        ok = pp <= allow
        ok_all &= ok
        rows.append([m, ph, f"{pp / 2**20:.2f}",
                     f"{int(s[-1]['pool_bytes']) / 2**20:.2f}",
                     f"{fl / 2**20:.2f}",
                     f"{allow / 2**20:.2f}", "yes" if ok else "NO"])
    end = pool_idle_end(rr)
    if end:
        rows.append([m, f"idle after {end[1]:.1f} s", f"{end[0] / 2**20:.2f}",
                     "-", "-", f"5 % of peak {peak_all / 2**20:.2f} = "
                     f"{0.05 * peak_all / 2**20:.2f}",
                     "yes" if end[0] <= 0.05 * peak_all else "NO"])
    return rows, (ok_all, peak_all, end)


def pool_idle_end(rr):
    """(pool bytes, seconds idle) of the last idle sample at least 10 s
    into the idle phase; None without one."""
    idle = [r for r in rr if r["phase"] == "idle"]
    if not idle:
        return None
    t0 = float(idle[0]["t"])
    late = [r for r in idle if float(r["t"]) - t0 >= 10.0]
    if not late:
        return None
    return (int(late[-1]["pool_bytes"]), float(late[-1]["t"]) - t0)


def pool_values(B, iommu, key):
    """@key's values in the pool stats at the end of @iommu's boots
    (pool.csv), as {boot: value}."""
    return {f"{iommu}-{r['mode']}-rep{r['rep']}": r["value"] for r in B.pool
            if r["iommu"] == iommu and r["key"] == key}


def auto_threshold(meta):
    """The bounce_threshold bounce-auto ran with: meta's auto_threshold,
    else the kernel's default, 4096."""
    t = meta.get("auto_threshold", "")
    return int(t) if t.isdigit() and int(t) > 0 else AUTO_THRESHOLD


def auto_costly(B, iommu):
    """Whether @iommu's IOMMU driver called its invalidations costly, from
    the costly_flush line of every pool snapshot on it: (True, note) when
    all say 1, else (False, note); the note says what was read."""
    vals = pool_values(B, iommu, "costly_flush")
    seen = sorted(set(vals.values()))
    if not seen:
        return False, "no costly_flush line in the pool stats: taken as 0"
    if seen == ["1"]:
        return True, f"costly_flush 1 in all {len(vals)} pool snapshots"
    if seen == ["0"]:
        return False, f"costly_flush 0 in all {len(vals)} pool snapshots"
    ones = sum(v == "1" for v in vals.values())
    return False, (f"costly_flush 1 in only {ones} of {len(vals)} pool snapshots: "
                   "taken as 0")


def auto_decision(bs, threshold, costly):
    """What auto does with a read of @bs bytes: "bounce" when the IOMMU
    driver calls invalidations costly and the mapping is at most
    @threshold, else "iommu". A read larger than the largest mapping the
    pool serves reaches the DMA layer as requests of at most that size
    (the NVMe splits it), so it counts as one of that size."""
    return "bounce" if costly and min(bs, POOL_MAX_MAPPING) <= threshold else "iommu"


def bouncing_fixed(med, iommu, fixed, bs):
    """The fixed threshold that bounces a read of @bs: the smallest
    bounce-<T> with T >= @bs (T >= the largest mapping the pool serves for
    a larger read: the NVMe splits it into requests of that size) measured
    at read @bs beside strict; None when there is none."""
    if (iommu, "read", "strict", bs) not in med:
        return None
    need = min(bs, POOL_MAX_MAPPING)
    ts = sorted(int(m[7:]) for m in fixed if m[7:].isdigit() and int(m[7:]) >= need
                and (iommu, "read", m, bs) in med)
    return f"bounce-{ts[0]}" if ts else None


def auto_verdict(decision, iv):
    """@decision: auto's ("bounce" or "iommu") at one read size; @iv: the
    paired interval of the fixed threshold that bounces that size against
    strict, which does not. Returns (the side the interval shows faster,
    verdict): "inside noise" when the interval holds 1 (an end on 1 counts
    as inside), else "matches" when @decision is the faster side and
    "MISMATCH" when it is not."""
    if iv is None:
        return "-", "no interval (fewer than 2 boots paired)"
    if iv.lo <= 1.0 <= iv.hi:
        return "neither", "inside noise"
    faster = "bounce" if iv.lo > 1.0 else "iommu"
    return faster, "matches" if decision == faster else "MISMATCH"


def auto_decision_rows(B, v, threshold, costly):
    """The rows of auto_decisions_section()'s table, and where the fixed
    thresholds' runs came from."""
    if v.pwls:
        src, src_med, unit_of = B.pdata, B.pmed, policy_boot_of(B.pboots, v.iommu)
        modes, wls, where = v.pmodes, v.pwls, "policy boots"
    else:
        src, src_med, unit_of, modes, wls, where = B.data, B.med, None, v.modes, v.wls, \
            "mode boots"
    fixed = [m for m in modes if m.startswith("bounce-") and m[7:].isdigit()]
    rows = []
    for b in sorted(b for rw, b in wls if rw == "read"):
        dec = auto_decision(b, threshold, costly)
        fx = bouncing_fixed(src_med, v.iommu, fixed, b)
        if fx is None:
            why = ("strict not measured" if (v.iommu, "read", "strict", b) not in src_med
                   else "no fixed threshold bounces it")
            rows.append([bs_label(b), dec, why, "-", "-"])
            continue
        iv = paired(src, v.iommu, "read", b, fx, "strict", unit_of)
        faster, verd = auto_verdict(dec, iv)
        rows.append([bs_label(b), dec, f"{fx} / strict {fmt_paired(iv)}", faster, verd])
    return rows, where


def auto_decisions_section(B, v):
    """auto's decision per read size, from its threshold and the IOMMU
    driver's costly_flush, against the side the fixed thresholds show
    faster in the same run; [] when bounce-auto was not measured."""
    if "bounce-auto" not in v.modes + v.pmodes:
        return []
    threshold = auto_threshold(B.meta)
    costly, note = auto_costly(B, v.iommu)
    rows, where = auto_decision_rows(B, v, threshold, costly)
    if not rows:
        return []
    md = ["", "### bounce-auto decisions against fixed thresholds", "",
          "auto measures nothing: it bounces every mapping up to its threshold "
          "when the IOMMU driver says invalidations are costly, and only what "
          f"must bounce otherwise. Here: threshold {threshold} bytes"
          f"{'' if 'auto_threshold' in B.meta else ' (the default: not in meta)'}; "
          f"{note}. Per read size, auto's decision, and in the same run "
          f"({where}) the fixed threshold that bounces a read of that size against "
          "strict, which does not (paired ratio, 95 % interval over boots; a read "
          f"above {bs_label(POOL_MAX_MAPPING)} counts as one of "
          f"{bs_label(POOL_MAX_MAPPING)}: the NVMe splits it into requests no larger, "
          "dma-iommu's optimal mapping size), and the side it shows faster. "
          "Verdict: matches when "
          "auto's decision is the faster side and the interval excludes 1, inside "
          "noise when the interval holds 1, MISMATCH otherwise.", ""]
    return md + table(["read", "auto decision",
                       "bouncing fixed / strict, same run", "faster", "verdict"], rows)


def block_targets(T, B, v, pool_eval):
    """One IOMMU's block targets into @T: the bounce mode's rates, its
    profiler counts, dma_map_benchmark, the pool, the auto policy."""
    # Rates judged on paired intervals over boots (a mode boot of
    # repetition r against the other mode's boot of r)
    iommu = v.iommu
    T.lines.append(f"\n#### {IOMMU_NAME.get(iommu, iommu)}\n")
    T.lines.append("The bounce mode against the others (a boot per mode):\n")
    for what, a_mode, b_mode, bs, factor in MODE_TARGETS:
        ratio_target(T, what, B.data, B.med, iommu, ("read", bs), a_mode, b_mode, factor)
    profiler_targets(T, B.cost, iommu)
    dmab_target(T, [r for r in B.dmab if r["iommu"] == iommu], B.meta)
    pool_targets(T, pool_eval, B.meta)
    auto_targets(T, B, v)


def profiler_targets(T, cost, iommu):
    """Bounce against strict at read 4k: IOMMU requests and map+unmap time
    per GiB."""
    cb = cost.get((iommu, "bounce", "read", 4096), {})
    cs = cost.get((iommu, "strict", "read", 4096), {})
    if "req" in cb and "req" in cs and cs["req"] > 0:
        T.check("IOMMU requests/GiB at read 4k: bounce <= 1 % of strict",
                cb["req"] <= 0.01 * cs["req"],
                f"bounce {cb['req']:.0f} vs strict {cs['req']:.0f} = "
                f"{100 * cb['req'] / cs['req']:.2f} %")
    else:
        T.check("IOMMU requests/GiB at read 4k: bounce <= 1 % of strict", None,
                "no profiler data for bounce and strict at read 4k")
    if all(k in c for c in (cb, cs) for k in ("map_us", "unmap_us")) and \
            cs["map_us"] + cs["unmap_us"] > 0:
        x, y = cb["map_us"] + cb["unmap_us"], cs["map_us"] + cs["unmap_us"]
        T.check("map+unmap time/GiB at read 4k: bounce <= 5 % of strict", x <= 0.05 * y,
                f"bounce {x:.0f} us/GiB vs strict {y:.0f} us/GiB = {100 * x / y:.1f} %")
    else:
        T.check("map+unmap time/GiB at read 4k: bounce <= 5 % of strict", None,
                "no profiler data for bounce and strict at read 4k")


def dmab_target(T, dm, meta):
    """dma_map_benchmark bounce: per-op (map + unmap) latency, 4 threads vs
    1, over the sizes the fixed 16K policy bounces (pages x 4K <= 16K)."""
    db = {(r["threads"], r["dir"], int(r["pages"])): (flt(r["map_us"]) or 0) +
          (flt(r["unmap_us"]) or 0) for r in dm if r["mode"] == "bounce"}
    growth = []
    for (t, d, p), v in db.items():
        if t == "1" and ("4", d, p) in db and p * 4096 <= 16384 and v > 0:
            growth.append((db[("4", d, p)] / v - 1, d, p))
    if growth:
        g = max(growth)
        T.check("dma_map_benchmark bounce: per-op latency 4 threads vs 1 grows <= 20 %",
                g[0] <= 0.20,
                f"worst {100 * g[0]:+.0f} % ({DIRS[g[1]]}, {g[2]} pages) over "
                f"{len(growth)} bounced points (1..4 pages, all directions); "
                f"{meta.get('dmab_smp', '?')} vCPUs run on {meta.get('host_cpus', '?')} host CPUs")
    else:
        T.check("dma_map_benchmark bounce: per-op latency 4 threads vs 1 grows <= 20 %",
                None, "bounce not measured with 1 and 4 threads")


def pool_targets(T, pool_eval, meta):
    """Each of meta's pool_modes: peak within its allowance, and at most 5 %
    of the peak left after 10 s idle (from pool_section()'s evaluation)."""
    for pm in meta.get("pool_modes", "bounce").split():
        if pm not in pool_eval:
            T.check(f"pool ({pm}): peak <= 1.25 x in flight + one slot per CPU per class",
                    None, f"{pm} pool not sampled")
            continue
        ok, peak, end = pool_eval[pm]
        T.check(f"pool ({pm}): peak <= 1.25 x in flight + one slot per CPU per class",
                ok if peak > 0 else None,
                "every phase within its allowance (table above)" if ok and peak > 0
                else ("the pool never held memory" if peak == 0
                      else "a phase exceeds its allowance (table above)"))
        if end is None or peak == 0:
            T.check(f"pool ({pm}): after 10 s idle <= 5 % of peak", None,
                    "no idle samples 10 s after the runs" if peak > 0
                    else "the pool never held memory")
        else:
            T.check(f"pool ({pm}): after 10 s idle <= 5 % of peak", end[0] <= 0.05 * peak,
                    f"{end[0] / 2**20:.2f} MiB after {end[1]:.1f} s idle vs peak "
                    f"{peak / 2**20:.2f} MiB = {100 * end[0] / peak:.1f} %")


def auto_targets(T, B, v):
    """The auto policy against strict and the fixed thresholds at each read
    size 4k..1M, from the policy boots when there are any (the policies
    met there in the same boots, a few seconds apart), else the mode boots."""
    if v.pwls:
        T.lines.append("\nThe auto policy (read, each block size 4k..1M; policy boots):\n")
        src, src_med, src_wls, src_modes = B.pdata, B.pmed, v.pwls, v.pmodes
        unit_of = policy_boot_of(B.pboots, v.iommu)
    else:
        T.lines.append("\nThe auto policy (read, each block size 4k..1M; a boot per mode):\n")
        src, src_med, src_wls, src_modes, unit_of = B.data, B.med, v.wls, v.modes, None
    sizes = sorted(b for rw, b in src_wls if rw == "read" and 4096 <= b <= 1 << 20)
    fixed = [m for m in src_modes if is_fixed(m)]
    for b in sizes:
        ratio_target(T, f"read {bs_label(b)}: bounce-auto >= {AUTO_MIN:.2f} x strict",
                     src, src_med, v.iommu, ("read", b), "bounce-auto", "strict",
                     AUTO_MIN, unit_of)
    for b in sizes:
        fixed_target(T, src, src_med, v.iommu, b, fixed, unit_of)


def targets_section(T):
    """The Targets section: the count of each verdict, then every line."""
    md = ["", "## Targets", "",
          "Computed from the medians, costs and intervals above. "
          + ", ".join(f"{v}: {n}" for v, n in sorted(T.count.items()))]
    return md + T.lines


def cost_order(k):
    """Sort key of costs()'s (iommu, mode, rw, bs) keys."""
    return (k[0], mode_key(k[1]), k[2], k[3])


def write_costs_csv(R, cost):
    """costs.csv: the issue's exact header, requests and times per GiB."""
    with open(os.path.join(R, "costs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COSTS_HEADER)
        for k in sorted(cost, key=cost_order):
            c = cost[k]
            if "req" not in c and "map_us" not in c:
                continue
            w.writerow(list(k) + [fmt(c.get("req"), 1), fmt(c.get("map_us"), 1),
                                  fmt(c.get("unmap_us"), 1)])


def write_costs_funcs_csv(R, funcs):
    """costs-funcs.csv: calls and time per GiB of every profiled function."""
    with open(os.path.join(R, "costs-funcs.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iommu", "mode", "rw", "bs", "set", "func", "calls_per_gib",
                    "us_per_gib"])
        for r in funcs:
            w.writerow(r[:6] + [fmt(r[6], 1), fmt(r[7], 1)])


def write_cpu_per_io_csv(R, cost):
    """cpu-per-io.csv: busy CPU time per I/O of the measured runs."""
    with open(os.path.join(R, "cpu-per-io.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iommu", "mode", "rw", "bs", "cpu_us_per_io"])
        for k in sorted(cost, key=cost_order):
            if "cpu_us_io" in cost[k]:
                w.writerow(list(k) + [fmt(cost[k]["cpu_us_io"], 2)])


def main():
    args = parse_args()
    R = args.results
    data, pdata, pboots = read_fio(os.path.join(R, "fio.csv"))
    meta = read_meta(os.path.join(R, "meta"))
    accel = args.accel or meta.get("accel", "unknown")
    rows = {n: read_rows(os.path.join(R, f"{n}.csv"))
            for n in ("prof", "cpu", "pool-time", "dmab", "pool")}
    cost, funcs = costs(rows["prof"], rows["cpu"])
    B = Block(R, meta, data, pdata, pboots, medians(data), medians(pdata), cost,
              rows["dmab"], rows["pool-time"], rows["pool"])

    md = header_lines(B, accel)
    T = Targets()
    for iommu in ordered({k[0] for k in data} | {k[0] for k in pdata}, IOMMU_ORDER):
        md += iommu_section(B, T, iommu)
    md += net_section(R, meta, T, accel)
    md += targets_section(T)

    write_costs_csv(R, cost)
    write_costs_funcs_csv(R, funcs)
    write_cpu_per_io_csv(R, cost)
    text = "\n".join(md) + "\n"
    with open(os.path.join(R, "report.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
