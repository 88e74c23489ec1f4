"""The figures `labkit bench` adds for sizing a class, each measured for real (small sizes).

No timing bounds here (speed belongs in the bench's ratios): these tests check that each
figure is measured on a real topology and means what its name says.
"""

from __future__ import annotations

import io

import pytest

from labkit import Lab, bench

pytestmark = pytest.mark.lab


def test_kernel_floor_builds_the_topology(can_lab: None) -> None:
    ms = bench.kernel_floor(5)
    assert ms > 0


def test_lab_memory_counts_every_process_of_the_lab(can_lab: None) -> None:
    with Lab(seed=21) as lab:
        idle, n_idle = bench.lab_pss_mb(lab)
        c1, c2 = lab.run("c1"), lab.run("c2")
        assert c1.ping(c2.ip)
        busy, n_busy = bench.lab_pss_mb(lab)
    assert n_idle >= 2 and idle > 1  # at least pid 1 (the fork server) and the daemon
    assert n_busy > n_idle  # the containers' holders and the agents came on top
    assert busy > idle


def test_labs_at_once_counts_pings_and_failures(can_lab: None) -> None:
    r = bench.labs_at_once(labs=2, seconds=1.0)
    assert r["errors"] == ""
    assert r["failures"] == 0
    assert r["pings"] >= 2 and r["p95_ms"] > 0


def test_the_closing_line_names_the_new_figures(can_lab: None, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """run_bench's summary line, with the slow measurements replaced by fixed figures."""
    labkit = {"start": 300.0, "per_container": 6.0, "rm_per": 2.0, "teardown": 100.0}
    packets = {"agent_first_ms": 50.0, "sniffer_start_ms": 3.0, "traced_ping_ms": 80.0}
    memory = {"idle": 44.0, "idle_procs": 4, "active": 90.0, "active_procs": 9}
    many = {"labs": 8, "pings": 100, "failures": 0, "p95_ms": 40.0, "errors": ""}
    monkeypatch.setattr(bench, "_labkit", lambda n: labkit)
    monkeypatch.setattr(bench, "kernel_floor", lambda n, mode=None: 5.0)
    monkeypatch.setattr(bench, "_ip_cli", lambda lab, n: 21.0)
    monkeypatch.setattr(bench, "packet_bench", lambda out: packets)
    monkeypatch.setattr(bench, "memory_bench", lambda: memory)
    monkeypatch.setattr(bench, "first_ping_ms", lambda: 600.0)
    monkeypatch.setattr(bench, "labs_at_once", lambda: many)
    out = io.StringIO()
    bench.run_bench((2,), out=out)
    last = dict(kv.split("=") for kv in out.getvalue().splitlines()[-1].split())
    assert last["ratio_vs_floor"] == "1.20" and last["kernel_floor_ms"] == "5.00"
    assert last["ratio_vs_ip_cli"] == "3.5"
    assert last["first_ping_ms"] == "600"
    assert last["lab_pss_mb_idle"] == "44" and last["lab_pss_mb_active"] == "90"
    assert last["labs_at_once"] == "8" and last["labs_at_once_failures"] == "0"
    assert last["labs_at_once_p95_ms"] == "40.0"


def test_overlay_figures_are_measured_on_two_hosts(can_lab: None) -> None:
    r = bench.overlay_bench(n=2, pings=1)
    assert set(r) >= {"overlay_run_ms", "overlay_ping_ms", "bridge_run_ms", "run_ratio"}
    assert all(v > 0 for v in r.values())
