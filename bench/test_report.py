#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests of bench/report.py: the t quantiles, the paired interval
over independent units (boots), the MET / NOT MET / INCONCLUSIVE
verdicts of the NIC and block targets, bounce-auto's decisions (its
threshold and the pool's costly_flush) against the fixed thresholds
(matches / inside noise / MISMATCH), fio.csv and net.csv reading, and
the whole report with and without net.csv, and on a complete synthetic
result set (synthetic_results(): every file report.py reads, with every
section of the report; deterministic) to check each section is there
and the verdict counts add up (synthetic data made in a temporary
directory, never kept).

    python3 -m unittest bench/test_report.py    (or: cd bench && python3 -m unittest)
"""
import csv
import math
import os
import random
import subprocess
import sys
import tempfile
import unittest
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import report  # noqa: E402

# Student's sleep data (Cushny and Peebles, in "The probable error of a
# mean", 1908): extra hours of sleep of 10 patients under drug 2 minus
# drug 1. Its paired 95 % interval is the textbook one: R's
# t.test(extra ~ group, data = sleep, paired = TRUE) gives a mean
# difference of -1.58 and [-2.4598858, -0.7001142] for drug 1 minus drug 2.
SLEEP_DIFF = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4]


def rates(logs):
    """Round -> rate pairs whose log ratios are @logs (b is 1 throughout)."""
    return ({r: math.exp(x) for r, x in enumerate(logs, 1)},
            {r: 1.0 for r in range(1, len(logs) + 1)})


class TQuantile(unittest.TestCase):
    def test_table(self):
        # printed tables of t(0.975)
        for df, t in ((1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (30, 2.042)):
            self.assertEqual(report.t975(df), t)

    def test_between_rows_is_conservative(self):
        # df 35 is not tabulated: the df 30 row, a little wider than 2.030
        self.assertEqual(report.t975(35), 2.042)
        self.assertEqual(report.t975(1000), 1.980)
        self.assertGreaterEqual(report.t975(1000), 1.960)

    def test_decreasing(self):
        ts = [report.t975(df) for df in range(1, 200)]
        self.assertEqual(ts, sorted(ts, reverse=True))

    def test_no_df(self):
        with self.assertRaises(ValueError):
            report.t975(0)


class PairedInterval(unittest.TestCase):
    def test_student_sleep(self):
        iv = report.paired_interval(*rates(SLEEP_DIFF))
        self.assertEqual(iv.n, 10)
        self.assertEqual(iv.t, 2.262)
        self.assertAlmostEqual(math.log(iv.gm), 1.58, places=9)
        # R uses t = 2.2621572; the table's 2.262 moves each end by 6e-5
        self.assertAlmostEqual(math.log(iv.lo), 0.7001142, delta=2e-4)
        self.assertAlmostEqual(math.log(iv.hi), 2.4598858, delta=2e-4)

    def test_by_hand(self):
        # logs 0.1..0.4: mean 0.25, sd 0.1290994, se 0.0645497, t(3) 3.182
        iv = report.paired_interval(*rates([0.1, 0.2, 0.3, 0.4]))
        half = 3.182 * 0.12909944487358055 / 2
        self.assertAlmostEqual(iv.gm, math.exp(0.25))
        self.assertAlmostEqual(iv.lo, math.exp(0.25 - half))
        self.assertAlmostEqual(iv.hi, math.exp(0.25 + half))
        self.assertLess(iv.lo, iv.gm)
        self.assertLess(iv.gm, iv.hi)

    def test_geometric_not_arithmetic(self):
        # ratios 2 and 0.5: geometric mean 1, arithmetic 1.25
        iv = report.paired_interval({1: 2.0, 2: 1.0}, {1: 1.0, 2: 2.0})
        self.assertAlmostEqual(iv.gm, 1.0)

    def test_pairs_by_round(self):
        # round 3 of a and round 4 of b have no partner; b's round 1 is 0
        a = {1: 10.0, 2: 12.0, 3: 99.0, 5: 11.0}
        b = {1: 0.0, 2: 6.0, 4: 1.0, 5: 5.5}
        iv = report.paired_interval(a, b)
        self.assertEqual(iv.n, 2)
        self.assertAlmostEqual(iv.gm, 2.0)
        self.assertAlmostEqual(iv.lo, 2.0)  # identical ratios: no spread

    def test_too_few(self):
        self.assertIsNone(report.paired_interval({1: 2.0}, {1: 1.0}))
        self.assertIsNone(report.paired_interval({1: 2.0}, {2: 1.0}))
        self.assertIsNone(report.paired_interval({}, {}))


class UnitInterval(unittest.TestCase):
    """Pairs grouped into boots: only boots are independent samples."""

    def test_rounds_of_a_boot_are_one_sample(self):
        # boots A (reps 1, 2), B (3, 4), C (5, 6); the log ratios of a
        # boot average to 0.1, 0.2, 0.3: n=3, t(2)=4.303, sd 0.1
        logs = [0.05, 0.15, 0.25, 0.15, 0.3, 0.3]
        boot = {1: "A", 2: "A", 3: "B", 4: "B", 5: "C", 6: "C"}
        iv = report.paired_interval(*rates(logs), boot.get)
        self.assertEqual((iv.n, iv.t), (3, 4.303))
        half = 4.303 * 0.1 / math.sqrt(3)
        self.assertAlmostEqual(iv.gm, math.exp(0.2))
        self.assertAlmostEqual(iv.lo, math.exp(0.2 - half))
        self.assertAlmostEqual(iv.hi, math.exp(0.2 + half))
        # Counted as 6 independent pairs it would be far narrower
        naive = report.paired_interval(*rates(logs))
        self.assertEqual(naive.n, 6)
        self.assertLess(naive.hi - naive.lo, iv.hi - iv.lo)

    def test_one_boot_is_no_interval(self):
        self.assertIsNone(report.paired_interval(*rates([0.1, 0.2, 0.3]), lambda r: "A"))

    def test_each_rep_its_own_unit_by_default(self):
        a, b = rates([0.1, 0.2, 0.3, 0.4])
        self.assertEqual(report.paired_interval(a, b, lambda r: r), report.paired_interval(a, b))

    def test_paired_policy_boots(self):
        data = {("v", "read", "bounce-auto", 4096): [(1, 110), (2, 130), (3, 120), (4, 100)],
                ("v", "read", "strict", 4096): [(1, 100), (2, 100), (3, 100), (4, 100)]}
        pboots = {("v", 1): "v-policy-rep1", ("v", 2): "v-policy-rep1",
                  ("v", 3): "v-policy-rep2", ("v", 4): "v-policy-rep2"}
        iv = report.paired(data, "v", "read", 4096, "bounce-auto", "strict",
                           report.policy_boot_of(pboots, "v"))
        self.assertEqual(iv.n, 2)
        g1 = (math.log(1.1) + math.log(1.3)) / 2
        g2 = (math.log(1.2) + math.log(1.0)) / 2
        self.assertAlmostEqual(math.log(iv.gm), (g1 + g2) / 2)
        self.assertEqual(report.fmt_paired(iv)[-3:], "n=2")


class FixedVerdict(unittest.TestCase):
    """bounce-auto against every fixed threshold, on paired intervals."""

    def iv(self, lo, hi):
        return report.Interval(math.sqrt(lo * hi), lo, hi, 3, 4.303)

    def test_met_only_when_every_interval_clears(self):
        self.assertEqual(report.fixed_verdict(
            {"bounce-4096": self.iv(0.96, 1.2), "bounce-131072": self.iv(1.5, 3.0)}, 0.95), "MET")

    def test_one_below_is_not_met(self):
        self.assertEqual(report.fixed_verdict(
            {"bounce-4096": self.iv(0.80, 0.90), "bounce-131072": self.iv(0.9, 1.2)}, 0.95),
            "NOT MET")

    def test_noise_is_inconclusive(self):
        # the best fixed by its median would be a pick out of noise:
        # one interval holding 0.95 leaves the target undecided
        self.assertEqual(report.fixed_verdict(
            {"bounce-4096": self.iv(0.85, 1.10), "bounce-131072": self.iv(1.5, 3.0)}, 0.95),
            "INCONCLUSIVE")
        self.assertEqual(report.fixed_verdict({"bounce-4096": None}, 0.95), "INCONCLUSIVE")
        self.assertEqual(report.fixed_verdict({}, 0.95), "INCONCLUSIVE")


class BlockTargets(unittest.TestCase):
    def test_ratio_target(self):
        # ratios 2.28, 2.30, 2.32 over three boots: about [2.25-2.35]
        data = {("v", "read", "bounce", 4096): [(1, 228), (2, 230), (3, 232)],
                ("v", "read", "strict", 4096): [(1, 100), (2, 100), (3, 100)]}
        med = {k: sorted(i for _, i in v)[1] for k, v in data.items()}
        T = report.Targets()
        for what, factor in (("x", 2.0), ("y", 2.3), ("w", 2.5)):
            report.ratio_target(T, what, data, med, "v", ("read", 4096), "bounce", "strict",
                                factor)
        report.ratio_target(T, "z", data, med, "v", ("read", 4096), "bounce", "lazy", 1.0)
        self.assertTrue(T.lines[0].startswith("- **MET** -- x: paired 2.30 [2.25-2.35] n=3"),
                        T.lines[0])
        self.assertTrue(T.lines[1].startswith("- **INCONCLUSIVE** -- y:"), T.lines[1])
        self.assertTrue(T.lines[2].startswith("- **NOT MET** -- w:"), T.lines[2])
        self.assertEqual(T.lines[3], "- **NOT EVALUATED** -- z: lazy read 4k not measured")

    def test_one_boot_is_inconclusive(self):
        data = {("v", "read", "bounce", 4096): [(1, 300)],
                ("v", "read", "strict", 4096): [(1, 100)]}
        med = {k: v[0][1] for k, v in data.items()}
        T = report.Targets()
        report.ratio_target(T, "x", data, med, "v", ("read", 4096), "bounce", "strict", 2.0)
        self.assertIn("**INCONCLUSIVE**", T.lines[0])
        self.assertIn("fewer than 2 boots paired", T.lines[0])


class ReadFio(unittest.TestCase):
    def test_policy_boots(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "fio.csv", FIO_CSV + "virtio,strict,read,4096,4,9100,virtio-policy-rep2\n"
                  "virtio,bounce-auto,read,4096,4,9900,virtio-policy-rep2\n")
            data, pdata, pboots = report.read_fio(os.path.join(d, "fio.csv"))
        self.assertEqual(data[("virtio", "read", "bounce", 4096)], [(1, 18000)])
        self.assertEqual(pdata[("virtio", "read", "bounce-auto", 4096)], [(4, 9900)])
        self.assertEqual(pboots, {("virtio", 4): "virtio-policy-rep2"})

    def test_rep_in_two_boots(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "fio.csv", FIO_CSV + "virtio,strict,read,4096,4,9100,virtio-policy-rep1\n"
                  "virtio,strict,read,16384,4,9100,virtio-policy-rep2\n")
            with self.assertRaises(SystemExit):
                report.read_fio(os.path.join(d, "fio.csv"))


class Verdict(unittest.TestCase):
    def iv(self, lo, hi):
        return report.Interval(math.sqrt(lo * hi), lo, hi, 5, 2.776)

    def test_at_least(self):
        self.assertEqual(report.verdict(self.iv(1.6, 2.0), 1.5), "MET")
        self.assertEqual(report.verdict(self.iv(1.1, 1.4), 1.5), "NOT MET")
        self.assertEqual(report.verdict(self.iv(1.4, 1.6), 1.5), "INCONCLUSIVE")

    def test_threshold_on_an_end_is_inside(self):
        self.assertEqual(report.verdict(self.iv(1.5, 1.8), 1.5), "INCONCLUSIVE")
        self.assertEqual(report.verdict(self.iv(1.2, 1.5), 1.5), "INCONCLUSIVE")

    def test_at_most(self):
        self.assertEqual(report.verdict(self.iv(0.5, 0.8), 0.9, at_least=False), "MET")
        self.assertEqual(report.verdict(self.iv(0.95, 1.2), 0.9, at_least=False), "NOT MET")
        self.assertEqual(report.verdict(self.iv(0.8, 1.0), 0.9, at_least=False), "INCONCLUSIVE")

    def test_no_interval(self):
        self.assertEqual(report.verdict(None, 1.5), "INCONCLUSIVE")

    def test_from_data(self):
        # bounce 1.9-2.1 x strict in every round: MET against 1.5 and
        # NOT MET against 2.5; spread 1.2-2.2 straddles 1.5
        a, b = rates([math.log(x) for x in (1.9, 2.0, 2.1, 2.0, 1.95)])
        iv = report.paired_interval(a, b)
        self.assertEqual(report.verdict(iv, 1.5), "MET")
        self.assertEqual(report.verdict(iv, 2.5), "NOT MET")
        a, b = rates([math.log(x) for x in (1.2, 2.2, 1.4, 2.0)])
        self.assertEqual(report.verdict(report.paired_interval(a, b), 1.5), "INCONCLUSIVE")


class CountVerdict(unittest.TestCase):
    def test_met(self):
        v, x, s = report.count_verdict((5, 1000), (2000, 1000))
        self.assertEqual((v, x, s), ("MET", 0.005, 2.0))

    def test_exactly_one_percent_is_met(self):
        self.assertEqual(report.count_verdict((20, 1000), (2000, 1000))[0], "MET")

    def test_not_met(self):
        self.assertEqual(report.count_verdict((100, 1000), (2000, 1000))[0], "NOT MET")

    def test_per_packet(self):
        # few requests but far fewer packets: per packet it is a lot
        self.assertEqual(report.count_verdict((10, 10), (2000, 1000))[0], "NOT MET")

    def test_unresolved(self):
        self.assertEqual(report.count_verdict((0, 1000), (999, 1000))[0], "INCONCLUSIVE")
        self.assertEqual(report.count_verdict((0, 0), (2000, 1000))[0], "INCONCLUSIVE")
        self.assertEqual(report.count_verdict((0, 10), (2000, 0))[0], "INCONCLUSIVE")


NET_CSV = """iommu,mode,test,size,rep,rate
virtio,strict,virtio-net:rr,64,1,1000.0
virtio,strict,virtio-net:rr,64,2,1100.0
virtio,strict,virtio-net:rr,64,3,900.0
virtio,bounce,virtio-net:rr,64,1,2000.0
virtio,bounce,virtio-net:rr,64,2,2200.0
virtio,bounce,virtio-net:rr,64,3,1800.0
virtio,passthrough,virtio-net:rr,64,1,2400.0
virtio,passthrough,virtio-net:rr,64,2,2000.0
virtio,passthrough,virtio-net:rr,64,3,2300.0
virtio,strict,virtio-net:stream,1500,1,100.5
virtio,bounce,virtio-net:stream,1500,1,150.25
"""
NET_PROF_CSV = """iommu,mode,test,size,seconds,packets,func,hits
virtio,strict,virtio-net:rr,64,2.00,4000,__viommu_add_req,6000
virtio,strict,virtio-net:rr,64,2.00,4000,__viommu_sync_req,3000
virtio,bounce,virtio-net:rr,64,2.00,4400,__viommu_add_req,10
virtio,bounce,virtio-net:rr,64,2.00,4400,__viommu_sync_req,5
"""
FIO_CSV = """iommu,mode,rw,bs,rep,iops,boot
virtio,strict,read,4096,1,9000,virtio-strict-rep1
virtio,bounce,read,4096,1,18000,virtio-bounce-rep1
"""


def write(d, name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


# ---- A synthetic but complete result set (every file report.py reads) ----

SYN_READS = [("read", 4096), ("read", 16384), ("read", 65536), ("read", 131072),
             ("read", 1 << 20)]
# iommu -> (modes of the mode boots, workloads, repetitions)
SYN_BLOCK = {
    "virtio": (["strict", "lazy", "passthrough", "swiotlb", "bounce", "bounce-auto"],
               SYN_READS + [("randread", 4096), ("write", 65536)], 3),
    "vtd": (["strict", "swiotlb", "bounce", "bounce-auto", "bounce-65536"],
            [("read", 4096), ("read", 16384), ("read", 1 << 20), ("randread", 4096)], 2),
    "amd": (["strict"], [("read", 4096)], 1),
}
SYN_POLICIES = ["strict", "bounce-auto", "bounce-4096", "bounce-131072"]
SYN_POLICY_BOOTS, SYN_ROUNDS = 3, 3  # virtio only
# Cells fixed by hand (not drawn) for the tests to check: medians 10000
# and 23000, ratio of medians 2.30
SYN_FIXED = {("virtio", "strict", "read", 4096): [10000, 10400, 9800],
             ("virtio", "bounce", "read", 4096): [23000, 24000, 22000]}
SYN_GIB = 1 << 30


def syn_factor(mode, bs):
    """A mode's IOPS against strict at block size @bs, roughly."""
    small = bs <= 16384
    if mode.startswith("bounce-") and mode[7:].isdigit():
        return 2.3 if bs <= int(mode[7:]) else 1.0
    return {"strict": 1.0, "lazy": 1.6, "passthrough": 2.6, "swiotlb": 1.4,
            "bounce": 2.3 if small else 1.3,
            "bounce-auto": 2.2 if small else 1.25}.get(mode, 1.0)


def syn_iops(rnd, mode, bs, spread=0.03):
    return int(2e8 / (bs + 16384) * syn_factor(mode, bs) * rnd.gauss(1.0, spread))


def syn_csv(d, name, header, rows):
    with open(os.path.join(d, name), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def syn_fio(rnd):
    """fio.csv and cpu.csv rows: the mode boots, then virtio's policy boots."""
    fio, cpu = [], []
    for iommu, (modes, wls, reps) in SYN_BLOCK.items():
        for rep in range(1, reps + 1):
            for m in modes:
                for rw, bs in wls:
                    fixed = SYN_FIXED.get((iommu, m, rw, bs))
                    if fixed:
                        iops = fixed[rep - 1]
                    else:
                        # one noisy cell: swiotlb write 64k spreads ~40 %
                        noisy = (m, rw) == ("swiotlb", "write") and rep == 2
                        iops = syn_iops(rnd, m, bs) * (14 if noisy else 10) // 10
                    fio.append([iommu, m, rw, bs, rep, iops, f"{iommu}-{m}-rep{rep}"])
    for boot in range(1, SYN_POLICY_BOOTS + 1):
        for rnd_no in range(1, SYN_ROUNDS + 1):
            rep = (boot - 1) * SYN_ROUNDS + rnd_no
            for rw, bs in SYN_READS:
                for m in SYN_POLICIES:
                    # one noisy policy cell: bounce-131072 read 1M, rep 5
                    noisy = (m, bs, rep) == ("bounce-131072", 1 << 20, 5)
                    fio.append(["virtio", m, rw, bs, rep,
                                syn_iops(rnd, m, bs) * (14 if noisy else 10) // 10,
                                f"virtio-policy-rep{boot}"])
    for iommu, m, rw, bs, rep, iops, _ in fio:
        cpu.append([iommu, m, rw, bs, rep, iops * bs * 10, rnd.randint(1500, 2000), 100])
    cpu.append(["vtd", "strict", "read", 4096, 3, 1000, 50, 100])  # bytes < bs: left out
    return fio, cpu


def syn_prof(rnd):
    """prof.csv: the map and req sets of the profiler pass."""
    req_funcs = {"virtio": ["__viommu_add_req", "__viommu_sync_req"],
                 "vtd": ["intel_iommu_map_pages", "intel_iommu_unmap_pages", "qi_submit_sync"]}
    # (iommu, mode, bs) -> (request hits per function, map and unmap us)
    cells = {("virtio", "strict", 4096): ([524288, 262144], 50000.0, 60000.0),
             ("virtio", "bounce", 4096): ([1000, 500], 1000.0, 1200.0),
             ("virtio", "strict", 65536): ([65536, 32768], 9000.0, 9500.0),
             ("virtio", "bounce", 65536): ([800, 400], 700.0, 650.0),
             ("vtd", "strict", 4096): ([262144, 262144, 262144], 40000.0, 45000.0),
             ("vtd", "bounce", 4096): ([13000, 13000, 13000], 4000.0, 4500.0)}
    rows = []
    for (iommu, m, bs), (hits, map_us, unmap_us) in cells.items():
        b = SYN_GIB if bs == 4096 else rnd.randint(SYN_GIB // 2, 2 * SYN_GIB)
        for f, h, us in (("iommu_dma_map_page", b // bs, map_us * 0.9),
                         ("iommu_dma_map_sg", 3, map_us * 0.1),
                         ("iommu_dma_unmap_page", b // bs, unmap_us),
                         ("dma_map_page_attrs", b // bs, map_us * 1.1)):
            rows.append([iommu, m, "read", bs, "map", b, f, h, f"{us:.3f}"])
        for f, h in zip(req_funcs[iommu], hits):
            rows.append([iommu, m, "read", bs, "req", b, f, h, f"{h * 0.05:.3f}"])
    # a profiled run that moved nothing: per GiB unknown
    rows.append(["vtd", "swiotlb", "read", 16384, "map", 0, "iommu_dma_map_page", 0, "0.000"])
    return rows


def syn_dmab(rnd):
    """dmab.csv: virtio strict and bounce at 1 and 4 threads, vtd bounce at 1."""
    rows = []
    for iommu, modes, threads, pages in (("virtio", ["strict", "bounce"], [1, 4], [1, 4, 16]),
                                         ("vtd", ["bounce"], [1], [1, 4])):
        for m in modes:
            for t in threads:
                for d in (0, 1, 2):
                    for p in pages:
                        if (iommu, m, t, d, p) == ("virtio", "bounce", 4, 2, 16):
                            continue  # a point not measured
                        mu = (0.4 if m == "bounce" else 1.5) * (1 + 0.1 * p) \
                            * (1.1 if t == 4 else 1.0) * rnd.uniform(0.98, 1.02)
                        sd = "NaN" if d == 1 and p == 16 else f"{mu / 10:.2f}"
                        rows.append([iommu, m, t, d, p, f"{mu:.2f}", f"{mu * 0.8:.2f}", sd,
                                     f"{mu / 12:.2f}"])
    return rows


def syn_pool_time(rnd):
    """pool-time.csv: virtio bounce within its allowance and empty after
    10 s idle, virtio bounce-auto over it in one phase and not emptied,
    vtd bounce with too short an idle and vtd bounce-auto never holding
    memory."""
    slack = 2 * sum(report.CLASSES)
    rows = []
    for iommu, m, idle_s in (("virtio", "bounce", 12.5), ("virtio", "bounce-auto", 12.5),
                             ("vtd", "bounce", 6.0), ("vtd", "bounce-auto", 11.0)):
        t, pool = 0.0, 0
        phases = [("start", 0, 2)] + [(f"read-{bs}", bs, 4) for _, bs in SYN_READS]
        for ph, bs, n in phases:
            for _ in range(n):
                fl = 64 * bs * rnd.randint(60, 100) // 100 if bs else 0
                if iommu == "vtd" and m == "bounce-auto":
                    pool = 0
                elif bs:
                    # bounce-auto outgrows its allowance at 128k
                    over = m == "bounce-auto" and bs == 131072
                    pool = 2 * 64 * bs + slack if over else int(1.25 * 64 * bs * 0.6 + slack // 2)
                rows.append([iommu, m, f"{t:.2f}", ph, bs, pool, fl, fl // bs if bs else 0])
                t += 0.5
        t_idle, peak = t, pool
        while t - t_idle <= idle_s:
            if m == "bounce":
                pool = 0 if t - t_idle >= 5.0 else peak
            elif iommu == "virtio":
                pool = peak // 5
            rows.append([iommu, m, f"{t:.2f}", "idle", 0, pool, 0, 0])
            t += 0.5
    return rows


def syn_pool():
    """pool.csv: the pool's counters at the end of some boots. virtio-iommu
    calls its invalidations costly (costly_flush 1: bounce-auto bounces up
    to its threshold), the synthetic vtd does not (0: auto takes the
    IOMMU path throughout); amd has no line."""
    rows = [["virtio", "bounce", 1, "maps", 123456]]
    for iommu, costly, boots in (("virtio", 1, [("bounce-auto", 1), ("bounce-auto", 2),
                                                ("policy", 1), ("policy", 2)]),
                                 ("vtd", 0, [("bounce-auto", 1), ("strict", 1)])):
        for m, rep in boots:
            rows += [[iommu, m, rep, "mode", "auto" if m != "strict" else "off"],
                     [iommu, m, rep, "costly_flush", costly],
                     [iommu, m, rep, "threshold", 4096]]
    return rows


SYN_NET_MODES = ["strict", "lazy", "passthrough", "bounce", "auto"]
SYN_NET_TESTS = [("rr", 64), ("rr", 4096), ("stream", 1500)]
# (iommu, nic) -> modes; vtd has no passthrough: its target is not evaluated
SYN_NET = {("virtio", "e1000e"): SYN_NET_MODES, ("virtio", "virtio-net"): SYN_NET_MODES,
           ("vtd", "e1000e"): ["strict", "lazy", "bounce", "auto"]}
SYN_NET_FACTOR = {"strict": 1.0, "lazy": 1.3, "passthrough": 2.0, "bounce": 1.9, "auto": 1.8}


def syn_net(rnd):
    """net.csv, net-prof.csv, net-copy.csv, net-maps.csv, net-pool.csv."""
    net, prof, copy, maps, pool = [], [], [], [], []
    funcs = {"virtio": ["__viommu_add_req", "__viommu_sync_req"],
             "vtd": ["intel_iommu_map_pages", "qi_submit_sync"]}
    for (iommu, nic), modes in SYN_NET.items():
        for rnd_no in range(1, 6):
            for m in modes:
                for kind, size in SYN_NET_TESTS:
                    base = 5000.0 if kind == "rr" else 900.0
                    rate = base * SYN_NET_FACTOR[m] * rnd.gauss(1.0, 0.04)
                    net.append([iommu, m, f"{nic}:{kind}", size, rnd_no,
                                f"{rate:.1f}" if kind == "rr" else f"{rate:.2f}"])
                m_a = "none" if m == "passthrough" else (
                    str(rnd.randint(20000, 40000)) if m in ("bounce", "auto") else "0")
                m_b = m_a if m_a in ("none", "0") else str(int(m_a) + 17)
                maps.append([iommu, nic, m, rnd_no, m_a, m_b,
                             "none" if m_a == "none" else rnd.randint(0, 3),
                             "none" if m_a == "none" else 0])
        for m in modes:
            for kind, size in SYN_NET_TESTS:
                if kind == "stream" and iommu == "vtd":
                    continue  # not profiled
                packets = rnd.randint(8000, 12000)
                for f in funcs[iommu]:
                    if m == "strict":
                        hits = 300 if nic == "virtio-net" else packets * 2
                    elif m == "bounce":
                        hits = packets // 20 if iommu == "vtd" else 3
                    elif m == "passthrough":
                        hits = 0
                    else:
                        hits = packets // 3
                    prof.append([iommu, m, f"{nic}:{kind}", size, "2.00", packets, f, hits])
                if m == "passthrough":
                    copy.append([iommu, m, f"{nic}:{kind}", size, packets, "none", "none"])
                else:
                    nm = 0 if m in ("strict", "lazy") else packets * 2
                    copy.append([iommu, m, f"{nic}:{kind}", size, packets, nm,
                                 nm * (size if kind == "rr" else 1536)])
        for m in ("bounce", "auto"):
            for s in range(1, 11):
                pool.append([m, f"{s:.2f}", rnd.randint(1, 64) * 4096 if s < 10 else 0,
                             s * 1000, nic, iommu])
    return net, prof, copy, maps, pool


SYN_META = [
    ("date", "2024-06-01 12:00 UTC"), ("kernel_file", "/tmp/bzImage"),
    ("kernel_sha1", "0123456789ab"), ("series", "ba9876543210"), ("repo", "v1-3-gabcdef"),
    ("qemu", "QEMU emulator version 8.2.2"), ("host_cpu", "Synthetic CPU @ 3.0GHz"),
    ("host_cpus", "8"), ("quick", "1"), ("reps", "3"), ("runtime", "10"), ("warmup", "2"),
    ("workloads", "read:4k read:16k read:64k read:128k read:1M randread:4k write:64k"),
    ("policies", " ".join(SYN_POLICIES)), ("rounds", str(SYN_ROUNDS)), ("prime", "3"),
    ("huge", "1"), ("policy_args", "iommu.strict=1 iommu.bounce=auto"),
    ("auto_threshold", "4096"), ("profile", "1"),
    ("prof_runtime", "5"), ("pool_modes", "bounce bounce-auto swiotlb"), ("idle", "12"),
    ("dmab_smp", "4"), ("dmab_seconds", "3"), ("iommus", "virtio vtd amd"), ("smp", "2"),
    ("mem", "2048"), ("req_funcs.virtio", "__viommu_add_req+__viommu_sync_req"),
    ("req_funcs.vtd", "intel_iommu_map_pages+intel_iommu_unmap_pages+qi_submit_sync"),
    ("net", "1"), ("net_rounds", "5"), ("net_runtime", "5"), ("net_warmup", "1"),
    ("net_prime", "2"), ("net_threshold", "2048"), ("net_prof_runtime", "2"),
    ("net_cpus", "0+1"), ("net_boot_args", "iommu.strict=1"),
    ("mode_args.strict", "iommu.strict=1"), ("mode_args.lazy", "iommu.strict=0"),
    ("mode_args.passthrough", "iommu.passthrough=1"), ("mode_args.swiotlb", "swiotlb=force"),
    ("mode_args.bounce", "iommu.strict=1 iommu.bounce=1"),
    ("mode_args.bounce-auto", "iommu.strict=1 iommu.bounce=auto"),
    ("mode_args.bounce-65536", "iommu.strict=1 iommu.bounce=1 iommu.bounce_threshold=65536"),
    ("retried.vtd-lazy-rep1", "qemu failed: Assertion x"),
    ("nvme_wait.virtio-bounce-rep2", "14"),
    ("accel", "tcg"), ("accel_line", "accelerator: tcg"),
    ("net_pool_mbps.virtio.e1000e.bounce", "812.5"), ("net_pool_mbps.virtio.e1000e.auto", "790.1"),
    ("kernel", "6.9.0-iobounce"),
]


def synthetic_results(d):
    """Write a complete synthetic result set into directory @d: every file
    report.py reads, rich enough that every section of report.md has
    something to show (three IOMMUs, mode and policy boots, the profiler,
    dma_map_benchmark, pool samples and counters, the NIC bench).
    Deterministic: a fixed seed."""
    rnd = random.Random(20240601)
    fio, cpu = syn_fio(rnd)
    syn_csv(d, "fio.csv", report.HEADER, fio)
    syn_csv(d, "cpu.csv", ["iommu", "mode", "rw", "bs", "rep", "bytes", "busy_ticks", "hz"], cpu)
    syn_csv(d, "prof.csv", ["iommu", "mode", "rw", "bs", "set", "bytes", "func", "hits",
                            "time_us"], syn_prof(rnd))
    syn_csv(d, "dmab.csv", ["iommu", "mode", "threads", "dir", "pages", "map_us", "unmap_us",
                            "map_sd_us", "unmap_sd_us"], syn_dmab(rnd))
    syn_csv(d, "pool-time.csv", ["iommu", "mode", "t", "phase", "bs", "pool_bytes",
                                 "inflight_bytes", "inflight_reqs_now"], syn_pool_time(rnd))
    syn_csv(d, "pool.csv", POOL_HEADER, syn_pool())
    net, prof, copy, maps, pool = syn_net(rnd)
    syn_csv(d, "net.csv", report.NET_HEADER, net)
    syn_csv(d, "net-prof.csv", ["iommu", "mode", "test", "size", "seconds", "packets", "func",
                                "hits"], prof)
    syn_csv(d, "net-copy.csv", ["iommu", "mode", "test", "size", "packets", "maps", "bytes"],
            copy)
    syn_csv(d, "net-maps.csv", ["iommu", "nic", "mode", "rep", "maps_a", "maps_b",
                                "fallbacks_a", "fallbacks_b"], maps)
    syn_csv(d, "net-pool.csv", ["mode", "second", "bytes", "maps", "nic", "iommu"], pool)
    with open(os.path.join(d, "meta"), "w") as f:
        f.write("".join(f"{k}={v}\n" for k, v in SYN_META))


POOL_HEADER = ["iommu", "mode", "rep", "key", "value"]


def run_report(d):
    """report.py on results directory @d: its standard output."""
    p = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), "--results", d],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    return p.stdout


def table_rows(text, heading, first):
    """The rows of the first table after @heading whose header starts with
    @first, as {first cell: cells}."""
    lines = text.splitlines()
    i = lines.index(heading)
    head = next(n for n in range(i, len(lines)) if lines[n].startswith(f"| {first} |"))
    rows = {}
    for ln in lines[head + 2:]:
        if not ln.startswith("|"):
            break
        cells = [c.strip() for c in ln.strip("|").split("|")]
        rows[cells[0]] = cells
    return rows


class AutoDecisions(unittest.TestCase):
    """bounce-auto's decision per read size (threshold, costly_flush)
    against the fixed thresholds measured in the same run."""

    HEAD = "### bounce-auto decisions against fixed thresholds"

    def iv(self, lo, hi):
        return report.Interval(math.sqrt(lo * hi), lo, hi, 3, 4.303)

    def test_decision(self):
        d = report.auto_decision
        self.assertEqual(d(4096, 4096, True), "bounce")
        self.assertEqual(d(8192, 4096, True), "iommu")
        self.assertEqual(d(4096, 4096, False), "iommu")
        self.assertEqual(d(65536, 131072, True), "bounce")
        # above the largest slot: requests of at most 128k
        self.assertEqual(d(1 << 20, 131072, True), "bounce")
        self.assertEqual(d(1 << 20, 65536, True), "iommu")

    def test_threshold(self):
        self.assertEqual(report.auto_threshold({}), 4096)
        self.assertEqual(report.auto_threshold({"auto_threshold": "16384"}), 16384)
        self.assertEqual(report.auto_threshold({"auto_threshold": "x"}), 4096)

    def test_costly(self):
        B = namedtuple("B", "pool")
        row = lambda io, m, rep, v: {"iommu": io, "mode": m, "rep": str(rep),
                                     "key": "costly_flush", "value": v}
        other = {"iommu": "virtio", "mode": "strict", "rep": "1", "key": "maps", "value": "1"}
        c = report.auto_costly
        self.assertEqual(c(B([row("virtio", "policy", 1, "1"), row("virtio", "strict", 1, "1"),
                              row("vtd", "strict", 1, "0"), other]), "virtio"),
                         (True, "costly_flush 1 in all 2 pool snapshots"))
        self.assertEqual(c(B([row("vtd", "strict", 1, "0")]), "vtd"),
                         (False, "costly_flush 0 in all 1 pool snapshots"))
        self.assertEqual(c(B([row("vtd", "strict", 1, "0"), row("vtd", "policy", 1, "1")]),
                           "vtd")[0], False)
        self.assertEqual(c(B([other]), "virtio"),
                         (False, "no costly_flush line in the pool stats: taken as 0"))

    def test_bouncing_fixed(self):
        fixed = ["bounce-4096", "bounce-16384", "bounce-131072"]
        med = {("virtio", "read", m, bs): 1 for m in fixed + ["strict"]
               for bs in (4096, 8192, 16384, 1 << 20)}
        f = report.bouncing_fixed
        self.assertEqual(f(med, "virtio", fixed, 4096), "bounce-4096")
        self.assertEqual(f(med, "virtio", fixed, 8192), "bounce-16384")
        self.assertEqual(f(med, "virtio", fixed, 16384), "bounce-16384")
        self.assertEqual(f(med, "virtio", fixed, 1 << 20), "bounce-131072")
        self.assertIsNone(f(med, "virtio", ["bounce-4096"], 8192))
        self.assertIsNone(f(med, "vtd", fixed, 4096))

    def test_verdict(self):
        v = report.auto_verdict
        self.assertEqual(v("bounce", self.iv(1.8, 2.4)), ("bounce", "matches"))
        self.assertEqual(v("iommu", self.iv(0.2, 0.4)), ("iommu", "matches"))
        self.assertEqual(v("iommu", self.iv(1.8, 2.4)), ("bounce", "MISMATCH"))
        self.assertEqual(v("bounce", self.iv(0.2, 0.4)), ("iommu", "MISMATCH"))
        # an interval holding 1, or with an end on it, says neither side
        for d in ("bounce", "iommu"):
            self.assertEqual(v(d, self.iv(0.9, 1.1)), ("neither", "inside noise"))
        self.assertEqual(v("iommu", self.iv(1.0, 1.3)), ("neither", "inside noise"))
        self.assertEqual(v("iommu", None)[1], "no interval (fewer than 2 boots paired)")

    # Three policy boots of one round each. Ratios of the fixed threshold
    # that bounces each read size against strict: 4k (bounce-4096) about
    # 2: bounce faster; 16k (bounce-131072) 1.1, 0.9, 1.0: inside noise;
    # 64k about 0.3, 128k about 0.2, 1M about 0.15: the IOMMU faster. 8k
    # is read under strict only.
    RATIO = {4096: (2.0, 2.1, 1.9), 16384: (1.1, 0.9, 1.0), 65536: (0.30, 0.32, 0.28),
             131072: (0.20, 0.22, 0.18), 1 << 20: (0.15, 0.14, 0.16)}

    def results(self, d, costly, meta=""):
        fio = []
        for boot in (1, 2, 3):
            for bs, ratios in self.RATIO.items():
                bouncing = "bounce-4096" if bs == 4096 else "bounce-131072"
                other = "bounce-131072" if bs == 4096 else "bounce-4096"
                for m, iops in (("strict", 1000), (bouncing, 1000 * ratios[boot - 1]),
                                (other, 1000), ("bounce-auto", 1000)):
                    fio.append(["virtio", m, "read", bs, boot, int(iops),
                                f"virtio-policy-rep{boot}"])
            fio.append(["virtio", "strict", "read", 8192, boot, 1000, f"virtio-policy-rep{boot}"])
        syn_csv(d, "fio.csv", report.HEADER, fio)
        syn_csv(d, "pool.csv", POOL_HEADER,
                [["virtio", "policy", boot, k, v] for boot in (1, 2, 3)
                 for k, v in (("maps", 5000), ("costly_flush", costly))])
        write(d, "meta", meta)

    def test_table(self):
        with tempfile.TemporaryDirectory() as d:
            self.results(d, 1, "auto_threshold=4096\n")
            out = run_report(d)
        rows = table_rows(out, self.HEAD, "read")
        self.assertEqual(list(rows), ["4k", "8k", "16k", "64k", "128k", "1M"])
        # read, decision, ratio, faster, verdict
        self.assertEqual(rows["4k"][1], "bounce")
        self.assertTrue(rows["4k"][2].startswith("bounce-4096 / strict 2.00 ["), rows["4k"])
        self.assertEqual(rows["4k"][3:], ["bounce", "matches"])
        self.assertEqual(rows["8k"][1:], ["iommu", "no fixed threshold bounces it", "-", "-"])
        self.assertTrue(rows["16k"][2].startswith("bounce-131072 / strict "), rows["16k"])
        self.assertEqual(rows["16k"][1:2] + rows["16k"][3:], ["iommu", "neither", "inside noise"])
        for r in ("64k", "128k", "1M"):
            self.assertEqual(rows[r][1:2] + rows[r][3:], ["iommu", "iommu", "matches"], r)
        self.assertTrue(rows["1M"][2].startswith("bounce-131072 / strict 0.15 ["), rows["1M"])
        self.assertIn("Here: threshold 4096 bytes; costly_flush 1 in all 3 pool snapshots. ",
                      out)
        self.assertIn("in the same run (policy boots)", out)

    def test_not_costly(self):
        # costly_flush 0: auto bounces nothing for speed, and at 4k the
        # fixed thresholds show bouncing faster
        with tempfile.TemporaryDirectory() as d:
            self.results(d, 0)
            out = run_report(d)
        rows = table_rows(out, self.HEAD, "read")
        self.assertEqual(rows["4k"][1:2] + rows["4k"][3:], ["iommu", "bounce", "MISMATCH"])
        self.assertEqual(rows["64k"][1:2] + rows["64k"][3:], ["iommu", "iommu", "matches"])
        self.assertIn("Here: threshold 4096 bytes (the default: not in meta); "
                      "costly_flush 0 in all 3 pool snapshots.", out)

    def test_threshold_from_meta(self):
        # a 64 KiB threshold bounces 16k (inside noise) and 64k (slower)
        with tempfile.TemporaryDirectory() as d:
            self.results(d, 1, "auto_threshold=65536\n")
            out = run_report(d)
        rows = table_rows(out, self.HEAD, "read")
        self.assertEqual(rows["16k"][1:2] + rows["16k"][3:], ["bounce", "neither", "inside noise"])
        self.assertEqual(rows["64k"][1:2] + rows["64k"][3:], ["bounce", "iommu", "MISMATCH"])
        self.assertEqual(rows["128k"][1:2] + rows["128k"][3:], ["iommu", "iommu", "matches"])
        self.assertIn("`auto` with `bounce_threshold` 65536", out)

    def test_mode_boots(self):
        # no policy boots: the fixed thresholds of the mode boots, paired
        # by repetition; no costly_flush anywhere: taken as 0
        with tempfile.TemporaryDirectory() as d:
            syn_csv(d, "fio.csv", report.HEADER,
                    [["virtio", m, "read", 4096, rep, iops, f"virtio-{m}-rep{rep}"]
                     for rep, k in ((1, 1.9), (2, 2.1))
                     for m, iops in (("strict", 1000), ("bounce-4096", int(1000 * k)),
                                     ("bounce-auto", 1900))])
            out = run_report(d)
        self.assertIn("in the same run (mode boots)", out)
        self.assertIn("no costly_flush line in the pool stats: taken as 0", out)
        row = table_rows(out, self.HEAD, "read")["4k"]
        self.assertEqual(row[1], "iommu")
        self.assertTrue(row[2].startswith("bounce-4096 / strict 2.00 ["), row)
        self.assertEqual(row[3:], ["bounce", "MISMATCH"])

    def test_no_auto(self):
        # bounce-auto not measured: no section
        with tempfile.TemporaryDirectory() as d:
            syn_csv(d, "fio.csv", report.HEADER,
                    [["virtio", m, "read", 4096, rep, 1000, f"virtio-{m}-rep{rep}"]
                     for rep in (1, 2) for m in ("strict", "bounce-4096")])
            out = run_report(d)
        self.assertNotIn(self.HEAD, out)


class ReadNet(unittest.TestCase):
    def test_missing_is_empty(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(report.read_net(os.path.join(d, "net.csv")), {})

    def test_read(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "net.csv", NET_CSV)
            data = report.read_net(os.path.join(d, "net.csv"))
        self.assertEqual(data[("virtio", "virtio-net", "rr", 64)]["bounce"],
                         {1: 2000.0, 2: 2200.0, 3: 1800.0})
        self.assertEqual(data[("virtio", "virtio-net", "stream", 1500)]["strict"], {1: 100.5})

    def test_bad(self):
        for text in ("iommu,mode,test,size,rep,iops\n",
                     "iommu,mode,test,size,rep,rate\nvirtio,strict,virtio-net:rr,64,1,x\n",
                     "iommu,mode,test,size,rep,rate\nvirtio,strict,virtio-net:udp,64,1,5\n",
                     "iommu,mode,test,size,rep,rate\nvirtio,strict,virtio-net:rr,64,1,0\n",
                     NET_CSV + "virtio,strict,virtio-net:rr,64,1,1000.0\n"):
            with tempfile.TemporaryDirectory() as d:
                write(d, "net.csv", text)
                with self.assertRaises(SystemExit):
                    report.read_net(os.path.join(d, "net.csv"))

    def test_costs(self):
        rows = [dict(zip(NET_PROF_CSV.splitlines()[0].split(","), ln.split(",")))
                for ln in NET_PROF_CSV.splitlines()[1:]]
        c = report.net_costs(rows)
        self.assertEqual(c[("virtio", "virtio-net", "rr", 64, "strict")], (9000, 4000))
        self.assertEqual(c[("virtio", "virtio-net", "rr", 64, "bounce")], (15, 4400))

    def test_costs_bad(self):
        # a count that went back, or a window without packets, is no count
        row = {"iommu": "virtio", "mode": "bounce", "test": "virtio-net:rr", "size": "64",
               "seconds": "2.00", "packets": "4400", "func": "__viommu_add_req", "hits": "-3"}
        with self.assertRaises(SystemExit):
            report.net_costs([row])
        with self.assertRaises(SystemExit):
            report.net_costs([dict(row, hits="3", packets="0")])


class NetCopy(unittest.TestCase):
    ROWS = [{"iommu": "virtio", "mode": "bounce", "test": "virtio-net:rr", "size": "64",
             "packets": "4000", "maps": "8000", "bytes": "12288000"},
            {"iommu": "virtio", "mode": "passthrough", "test": "virtio-net:rr", "size": "64",
             "packets": "7000", "maps": "none", "bytes": "none"}]

    def test_per_packet(self):
        c = report.net_copy(self.ROWS)
        # identity has no pool: no row, never a zero
        self.assertEqual(c, {("virtio", "virtio-net", "rr", 64, "bounce"): (8000, 12288000, 4000)})
        rows = report.net_copy_rows(c, "virtio", "virtio-net", [("virtio", "virtio-net", "rr", 64)],
                                    ["strict", "passthrough", "bounce"])
        self.assertEqual(rows, [["bounce", "2.00 maps, 3072 B"]])

    def test_bad(self):
        with self.assertRaises(SystemExit):
            report.net_copy([dict(self.ROWS[0], bytes="lots")])


class Targets(unittest.TestCase):
    def test_net_targets(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "net.csv", NET_CSV)
            cells = report.read_net(os.path.join(d, "net.csv"))
        cost = {("virtio", "virtio-net", "rr", 64, "strict"): (9000, 4000),
                ("virtio", "virtio-net", "rr", 64, "bounce"): (15, 4400)}
        T = report.Targets()
        report.net_targets(T, cells, cost, "virtio", "virtio-net", "tcg")
        got = [ln for ln in T.lines if ln.startswith("- **")]
        # bounce / strict is exactly 2.0 in every round: MET; bounce /
        # passthrough 0.83, 1.10, 0.78: the interval holds 0.9
        self.assertTrue(got[0].startswith(
            "- **MET** -- rr 64 B: bounce >= 1.5 x strict: 2.00 [2.00-2.00] n=3"))
        self.assertTrue(got[1].startswith(
            "- **INCONCLUSIVE** -- rr 64 B: bounce >= 0.9 x passthrough"))
        self.assertTrue(got[2].startswith("- **MET** -- rr 64 B: IOMMU requests per packet"))
        self.assertEqual(len(got), 3)
        self.assertEqual(dict(T.count), {"MET": 2, "INCONCLUSIVE": 1})

    def test_not_measured(self):
        T = report.Targets()
        report.net_targets(T, {}, {}, "virtio", "virtio-net", "tcg")
        self.assertEqual(dict(T.count), {"NOT EVALUATED": 2})


class WholeReport(unittest.TestCase):
    """report.py end to end on synthetic results in a temporary directory."""

    def run_report(self, d):
        p = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), "--results", d],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_without_net(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "fio.csv", FIO_CSV)
            out = self.run_report(d)
            self.assertNotIn("NIC", out)
            self.assertFalse(os.path.exists(os.path.join(d, "net-costs.csv")))
            self.assertFalse(os.path.exists(os.path.join(d, "net.dat")))

    def test_with_net(self):
        with tempfile.TemporaryDirectory() as d:
            write(d, "fio.csv", FIO_CSV)
            write(d, "net.csv", NET_CSV)
            write(d, "net-prof.csv", NET_PROF_CSV)
            write(d, "net-pool.csv", "mode,second,bytes,maps,nic,iommu\n"
                  "bounce,1.00,4096,10,virtio-net,virtio\nbounce,2.00,8192,20,virtio-net,virtio\n"
                  "bounce,3.01,0,30,virtio-net,virtio\n")
            write(d, "net-copy.csv", "iommu,mode,test,size,packets,maps,bytes\n"
                  "virtio,bounce,virtio-net:rr,64,4400,8800,13516800\n")
            write(d, "meta", "accel=tcg\nnet_pool_mbps.virtio.virtio-net.bounce=42.5\n")
            out = self.run_report(d)
            self.assertIn("## NIC bench", out)
            self.assertIn("| bounce / strict | 2.00 [2.00-2.00] n=3 |", out)
            self.assertIn("- **MET** -- rr 64 B: bounce >= 1.5 x strict", out)
            self.assertIn("| bounce | 3 | 8 | 4 | 0 | 42.5 |", out)
            self.assertIn("| bounce | 2.00 maps, 3072 B |", out)
            with open(os.path.join(d, "net-costs.csv")) as f:
                lines = f.read().splitlines()
            self.assertEqual(lines[0], ",".join(report.NET_COSTS_HEADER))
            self.assertIn("virtio,strict,virtio-net:rr,64,9000,4000,2.2500", lines)
            with open(os.path.join(d, "net-panels.gp")) as f:
                self.assertIn("npanels = 2", f.read())



class SyntheticReport(unittest.TestCase):
    """report.py end to end on synthetic_results(): every section there,
    the verdict counts consistent, a few values checked by hand."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.d = cls.tmp.name
        synthetic_results(cls.d)
        p = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), "--results", cls.d],
                           capture_output=True, text=True)
        cls.rc, cls.err, cls.out = p.returncode, p.stderr, p.stdout
        with open(os.path.join(cls.d, "report.md")) as f:
            cls.md = f.read()
        cls.lines = cls.md.splitlines()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_ran(self):
        self.assertEqual(self.rc, 0, self.err)
        self.assertEqual(self.out, self.md)

    def test_sections(self):
        for h in ("# iobounce bench: fio, DMA costs, dma_map_benchmark, pool memory, NIC",
                  "## virtio-iommu", "## Intel VT-d (intel-iommu)", "## amd",
                  "### Bounce policies compared in the same boots",
                  "### DMA costs per GiB and per I/O", "### dma_map_benchmark (pci-testdev)",
                  "### Bounce pool memory against bytes in flight",
                  "## NIC bench", "### virtio-iommu, e1000e", "### virtio-iommu, virtio-net",
                  "### Intel VT-d (intel-iommu), e1000e", "## Targets",
                  "#### virtio-iommu", "#### Intel VT-d (intel-iommu)", "#### amd",
                  "#### NIC bench: virtio-iommu, e1000e"):
            self.assertIn(h, self.lines)
        for n, h in ((3, "### fio IOPS"), (3, "Median throughput, MiB/s:"),
                     (2, "### bounce-auto decisions against fixed thresholds"),
                     (3, "Median [min-max] over the rounds:")):
            self.assertEqual(self.lines.count(h), n, h)
        for s in ("Ratio of medians against strict (same boots):",
                  "bounce-auto against the best fixed threshold of each workload:",
                  "Paired ratios: the runs of two policies", "Noise floor:",
                  "No ratio against passthrough: passthrough was not measured.",
                  "No ratio against strict: no other mode was measured.",
                  "IOMMU requests per packet (profiler pass", "What the pools did",
                  "Mappings the two pools served", "Pool memory of the receiving NIC",
                  "- boots retried after QEMU itself failed:", "- note: under TCG",
                  "only after fio.sh waited (seconds; the kernel's NVMe lines are in "
                  "the boot's .res): virtio-bounce-rep2 (14 s)",
                  "The auto policy (read, each block size 4k..1M; policy boots):",
                  "The auto policy (read, each block size 4k..1M; a boot per mode):",
                  "cell(s) whose repetitions spread", "cell(s) spread by more than"):
            self.assertIn(s, self.md)

    def test_verdict_counts(self):
        summary = [ln for ln in self.lines if ln.startswith("Computed from the medians")]
        self.assertEqual(len(summary), 1)
        counts = dict((v, int(n)) for v, n in
                      (kv.rsplit(": ", 1) for kv in summary[0].split(". ", 1)[1].split(", ")))
        self.assertEqual(set(counts), {"MET", "NOT MET", "INCONCLUSIVE", "NOT EVALUATED"})
        for v, n in counts.items():
            self.assertEqual(sum(ln.startswith(f"- **{v}** -- ") for ln in self.lines), n, v)
        self.assertEqual(sum(counts.values()),
                         sum(ln.startswith("- **") for ln in self.lines))

    def test_target_kinds(self):
        # every kind of block target under each IOMMU's heading, the NIC
        # targets under each NIC's
        blocks, cur = {}, None
        for ln in self.lines[self.lines.index("## Targets"):]:
            if ln.startswith("#### "):
                cur = blocks.setdefault(ln[5:], [])
            elif cur is not None and ln.startswith("- **"):
                cur.append(ln)
        kinds = ("read 4k: bounce >= 2.0 x strict", "read 4k: bounce >= lazy",
                 "read 4k: bounce >= 0.8 x passthrough", "read 16k: bounce >= lazy",
                 "IOMMU requests/GiB at read 4k", "map+unmap time/GiB at read 4k",
                 "dma_map_benchmark bounce", "pool (bounce): peak", "pool (swiotlb): peak",
                 "read 4k: bounce-auto >= 0.97 x strict",
                 "read 4k: bounce-auto within 5 % of the best fixed threshold")
        for iommu in ("virtio-iommu", "Intel VT-d (intel-iommu)", "amd"):
            for k in kinds:
                self.assertTrue(any(f" -- {k}" in ln for ln in blocks[iommu]), (iommu, k))
        self.assertIn("- **NOT MET** -- pool (bounce-auto): after 10 s idle <= 5 % of peak: "
                      "9.65 MiB after 12.5 s idle", self.md)
        for nic in ("virtio-iommu, e1000e", "virtio-iommu, virtio-net"):
            got = blocks[f"NIC bench: {nic}"]
            self.assertEqual(len(got), 5, got)
            self.assertIn("rr 64 B: bounce >= 1.5 x strict", got[0])

    def test_values_by_hand(self):
        # SYN_FIXED: strict 10000, 10400, 9800 and bounce 23000, 24000,
        # 22000 at virtio read 4k: medians 10000 and 23000, ratio 2.30
        self.assertTrue(any(ln.startswith("| strict | 10000 [9800-10400] |")
                            for ln in self.lines))
        self.assertIn("| bounce | 2.30 |", self.md)
        gm = math.exp(sum(math.log(a / b) for a, b in
                          ((23000, 10000), (24000, 10400), (22000, 9800))) / 3)
        self.assertIn(f"- **MET** -- read 4k: bounce >= 2.0 x strict: paired {gm:.2f} [", self.md)
        self.assertIn("medians bounce 23000 vs strict 10000 IOPS", self.md)
        # prof.csv over 1 GiB: requests 1000 + 500 against 524288 + 262144;
        # map 900 + 100 and unmap 1200 us against 45000 + 5000 and 60000
        self.assertIn("bounce 1500 vs strict 786432 = 0.19 %", self.md)
        self.assertIn("bounce 2200 us/GiB vs strict 110000 us/GiB = 2.0 %", self.md)
        with open(os.path.join(self.d, "costs.csv")) as f:
            self.assertIn("virtio,bounce,read,4096,1500.0,1000.0,1200.0", f.read().splitlines())
        # bounce-auto at 128k holds 2 x 64 x 128 KiB + a slot per CPU per class
        self.assertIn("| bounce-auto | read-131072 | 16.49 | 16.49 |", self.md)
        # syn_pool(): auto bounces 4k under virtio (costly), nothing under vtd
        self.assertIn("costly_flush 1 in all 4 pool snapshots", self.md)
        self.assertIn("costly_flush 0 in all 2 pool snapshots", self.md)
        self.assertTrue(any(ln.startswith("| 4k | bounce | bounce-4096 / strict ")
                            and ln.endswith("| bounce | matches |") for ln in self.lines))
        self.assertTrue(any(ln.startswith("| 4k | iommu | bounce-65536 / strict ")
                            and ln.endswith("| bounce | MISMATCH |") for ln in self.lines))

    def test_files(self):
        for name in ("costs.csv", "costs-funcs.csv", "cpu-per-io.csv", "fio-virtio.dat",
                     "fio-vtd.dat", "fio-amd.dat", "policy-virtio.dat", "net.dat",
                     "net-panels.gp", "net-costs.csv"):
            self.assertTrue(os.path.exists(os.path.join(self.d, name)), name)
        self.assertFalse(os.path.exists(os.path.join(self.d, "policy-vtd.dat")))


if __name__ == "__main__":
    unittest.main()
