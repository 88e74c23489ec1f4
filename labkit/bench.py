"""``labkit bench``: what a lab costs, against the same topology built one ``ip`` per step.

Every figure is measured in the same run, and the headline is a ratio to that baseline:
``ratio_vs_ip_cli`` is (ms per container, one ``ip`` process per step) divided by (ms per
container, labkit) at N = 100.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import TextIO

from labkit.client.lab import Lab

IP_SCRIPT = r"""
set -e
for i in $(seq 1 {n}); do
  ns=b$i; ip=172.17.$((i / 250)).$((i % 250 + 2))
  ip netns add $ns
  ip link add vb$i type veth peer name eth0 netns $ns
  ip link set vb$i master docker0 up
  ip -n $ns link set lo up
  ip -n $ns addr add $ip/16 dev eth0
  ip -n $ns link set eth0 up
  ip -n $ns route add default via {gw}
done
"""


def _ip_cli(lab: Lab, n: int) -> float:
    """ms per container when each step is one ``ip`` command (run inside the lab's host)."""
    script = IP_SCRIPT.format(n=n, gw=lab.gateway)
    t = time.perf_counter()
    r = lab.host.exec_run(["bash", "-c", script], timeout=600)
    elapsed = (time.perf_counter() - t) * 1000
    if r.exit_code != 0:
        raise RuntimeError(f"ip baseline failed: {r.output}")
    return elapsed / n


def _labkit(n: int) -> dict[str, float]:
    t = time.perf_counter()
    lab = Lab(seed=n)
    start = (time.perf_counter() - t) * 1000
    # the packet agents' zygote imports scapy in the background after a lab starts (its
    # time is reported by the packet figures); let it finish so it does not share the CPU
    # with the containers being timed
    lab._call("probes_ready")
    t = time.perf_counter()
    for i in range(n):
        lab.run(f"c{i}")
    build = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    for i in range(n):
        lab.rm(f"c{i}")
    rm = (time.perf_counter() - t) * 1000
    for i in range(n):
        lab.run(f"c{i}")
    t = time.perf_counter()
    lab.close()
    close = (time.perf_counter() - t) * 1000
    return {"start": start, "per_container": build / n, "rm_per": rm / n, "teardown": close}


def packet_bench(out: TextIO = sys.stdout) -> dict[str, float]:
    """Agent readiness (first use, warm), sniffer start, a traced ping through five points."""
    with Lab(profile="article", seed=3) as lab:
        c1, c2 = lab.run("c1"), lab.run("c2")
        t = time.perf_counter()
        c1.ping(c2.ip)  # first use of c1's agent: spawn + ready + one echo
        first = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        c1.ping(c2.ip)
        warm = (time.perf_counter() - t) * 1000
        points = ("c1:eth0", f"host:{c1.veth}", "host:docker0", "host:eth0", "outside:eth0")
        with lab.capture(*points):  # first capture: host and outside agents start
            pass
        ready = lab._call("probe_timings")
        scapy_import = ready.pop("zygote_import")
        starts = []
        for _ in range(5):
            t = time.perf_counter()
            cap = lab.capture(*points).start()
            starts.append((time.perf_counter() - t) * 1000)
            cap.stop()
        traced = []
        for _ in range(5):
            t = time.perf_counter()
            with lab.capture(*points, proto="icmp") as cap:
                ok = c1.ping(lab.outside.ip)
            traced.append((time.perf_counter() - t) * 1000)
            assert ok and all(len(cap[p]) >= 2 for p in points), "traced ping lost packets"
    res = {
        "agent_first_ms": statistics.median(ready.values()),
        "scapy_import_ms": scapy_import,
        "first_ping_ms": first,
        "warm_ping_ms": warm,
        "sniffer_start_ms": statistics.median(starts) / len(points),
        "capture_start_5_ms": statistics.median(starts),
        "traced_ping_ms": statistics.median(traced),
    }
    out.write(
        f"agents: scapy imported once per lab in {scapy_import:.0f} ms (at lab start, in the "
        f"background); then ready on first use in a namespace in {res['agent_first_ms']:.0f} ms "
        f"(median of {len(ready)}); "
        f"first ping incl. agent {first:.0f} ms, warm ping {warm:.1f} ms\n"
        f"sniffers at 5 points start in {res['capture_start_5_ms']:.1f} ms "
        f"({res['sniffer_start_ms']:.1f} ms each); traced ping through 5 points "
        f"{res['traced_ping_ms']:.0f} ms\n"
    )
    return res


def run_bench(sizes: tuple[int, ...] = (1, 10, 100), out: TextIO = sys.stdout) -> dict[str, float]:
    """Run the benchmark, print a table and the closing summary line."""
    out.write(
        f"{'N':>5} {'labkit ms/ctr':>14} {'ip-cli ms/ctr':>14} {'ratio':>7} "
        f"{'rm ms/ctr':>10} {'start ms':>9} {'teardown ms':>12}\n"
    )
    summary: dict[str, float] = {}
    starts = []
    for n in sizes:
        m = _labkit(n)
        starts.append(m["start"])
        with Lab(seed=0) as base:
            base._call("probes_ready")
            cli = _ip_cli(base, n)
        ratio = cli / m["per_container"]
        out.write(
            f"{n:>5} {m['per_container']:>14.2f} {cli:>14.2f} {ratio:>7.1f} "
            f"{m['rm_per']:>10.2f} {m['start']:>9.0f} {m['teardown']:>12.0f}\n"
        )
        out.flush()
        summary = {"ratio": ratio, "ms": m["per_container"], "teardown": m["teardown"]}
    summary["start"] = statistics.median(starts)
    p = packet_bench(out)
    out.write(
        f"ratio_vs_ip_cli={summary['ratio']:.1f} ms_per_container_at_{sizes[-1]}="
        f"{summary['ms']:.2f} lab_start_ms={summary['start']:.0f} "
        f"teardown_ms={summary['teardown']:.0f} agent_ready_ms={p['agent_first_ms']:.0f} "
        f"sniffer_start_ms={p['sniffer_start_ms']:.1f} traced_ping_ms={p['traced_ping_ms']:.0f}\n"
    )
    return summary
