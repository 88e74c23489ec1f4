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
            cli = _ip_cli(base, n)
        ratio = cli / m["per_container"]
        out.write(
            f"{n:>5} {m['per_container']:>14.2f} {cli:>14.2f} {ratio:>7.1f} "
            f"{m['rm_per']:>10.2f} {m['start']:>9.0f} {m['teardown']:>12.0f}\n"
        )
        out.flush()
        summary = {"ratio": ratio, "ms": m["per_container"], "teardown": m["teardown"]}
    summary["start"] = statistics.median(starts)
    out.write(
        f"ratio_vs_ip_cli={summary['ratio']:.1f} ms_per_container_at_{sizes[-1]}="
        f"{summary['ms']:.2f} lab_start_ms={summary['start']:.0f} "
        f"teardown_ms={summary['teardown']:.0f}\n"
    )
    return summary
