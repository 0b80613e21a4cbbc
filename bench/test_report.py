#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unit tests of bench/report.py: the t quantiles, the paired interval
over independent units (boots), the MET / NOT MET / INCONCLUSIVE
verdicts of the NIC and block targets, fio.csv and net.csv reading, and
the whole report with and without net.csv (synthetic data made in a
temporary directory, never kept).

    python3 -m unittest bench/test_report.py    (or: cd bench && python3 -m unittest)
"""
import math
import os
import subprocess
import sys
import tempfile
import unittest

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


if __name__ == "__main__":
    unittest.main()
