"""``labkit bench``: what a lab costs, against the kernel's own floor, in one run.

Every figure is measured in the same run:

- ``ratio_vs_floor`` (the headline; goal ≤ 1.2): labkit's ms per container at N = 100
  divided by ``kernel_floor_ms``, the same topology built by one process that does only the
  kernel's steps ``lab.run`` does (a raw rtnetlink loop in a fresh user + net namespace:
  netns (IPv6 off for its new interfaces, as Docker ≥ 26 does on an IPv4 network), veth
  pair into it, bridge port up, address, route; the three /etc files; and each container's
  holder process (UTS + mount namespaces, sysfs, /tmp, bind mounts, hostname), forked by a
  small process as the lab's pid 1 does; in the lab's own view of the filesystem, its
  sysfs included; no IPAM, records, RPC or Python objects). Each is the median of three
  rounds, taken in turn, each after the kernel has had time to free the
  namespaces of the round before.
- ``ratio_vs_ip_cli`` (secondary): one ``ip`` process per step, divided by labkit.
- ``lab_pss_mb_idle`` / ``lab_pss_mb_active``: the proportional memory of every process of
  one lab, idle and after a capture at 4 points (3 agents: c1, the host, the outside);
  goals ≤ 40 and ≤ 70 MB.
- ``first_ping_ms``: from ``Lab()`` to the first answered ping between two containers.
- ``labs_at_once``: 8 labs at once, each with two containers pinging for 10 s: the failed
  pings (goal 0) and the 95th percentile of a ping's round trip through labkit.
- ``overlay_run_ms`` / ``overlay_ping_ms``: in a ``Lab(hosts=2)``, ``lab.run`` on an overlay
  network (eth0 on the overlay, eth1 on docker_gwbridge, gossip entries on the other host),
  and the first ping across the hosts (through VXLAN, agent start included); each beside the
  same figure for a bridge container, with the ratio (goal ≤ 2).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from labkit import sandbox
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


# the kernel's steps only, in a fresh user + net + mount namespace (argv: N, the sysfs mode)
FLOOR_SCRIPT = r"""
import os, subprocess, sys, time
import pickle, signal, socket
from labkit.daemon import holder, nsutil
n = int(sys.argv[1])
holder.SYSFS = sys.argv[2]  # the lab's own choice for this machine (rw, ro or hidden)
ask, serve = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
if os.fork() == 0:  # a small process forks the holders, as the lab's pid 1 does
    ask.close()
    while data := serve.recv(65536):
        serve.send(str(holder.fork_holder(*pickle.loads(data))).encode())
    os._exit(0)
serve.close()
from labkit.daemon.rtnl import RawRtnl
CLONE_NEWNET = 0x40000000
nsutil.mount("tmpfs", "/run", "tmpfs")
os.mkdir("/run/netns")
subprocess.run(["ip", "link", "add", "docker0", "type", "bridge"], check=True)
subprocess.run(["ip", "addr", "add", "172.17.0.1/16", "dev", "docker0"], check=True)
subprocess.run(["ip", "link", "set", "docker0", "up"], check=True)
host_ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
# the lab's own view, as its daemon makes it: a namespace's kernel work depends on it (a
# sysfs of this network namespace mounted makes each new namespace cost ~0.2 ms more)
nsutil.mount_private_tmp()
nsutil.mount_sysfs(sys.argv[2])
nsutil.readonly_proc_sys()
nsutil.readonly_view()
host = RawRtnl()
bridge = host.link_index("docker0")
os.makedirs("/run/floor-empty")
t = time.perf_counter()
for i in range(1, n + 1):
    ip = f"172.17.{i // 250}.{i % 250 + 2}"
    nsutil.unshare(CLONE_NEWNET)                       # ip netns add b$i
    nsutil.bind_netns_here(f"/run/netns/b{i}")
    with open("/proc/sys/net/ipv6/conf/default/disable_ipv6", "w") as f:
        f.write("1")                                   # no IPv6 on eth0 (Docker >= 26)
    inner = RawRtnl()
    fd = os.open(f"/run/netns/b{i}", os.O_RDONLY)
    nsutil.setns(host_ns, CLONE_NEWNET)
    mac = "02:42:" + ":".join(f"{int(b):02x}" for b in ip.split("."))
    host.veth_add(f"vb{i}", "eth0", fd, mac, bridge)   # veth, peer into b$i, master, up
    lo, eth0 = inner.link_index("lo"), inner.link_index("eth0")
    inner.link_up(lo)
    inner.addr_add(eth0, ip, 16)
    inner.link_up(eth0)
    inner.default_route("172.17.0.1")
    inner.close()
    os.close(fd)
    files = f"/run/floor/b{i}"                          # /etc/hosts, hostname, resolv.conf
    os.makedirs(files)
    for name, text in (("hosts", f"127.0.0.1\tlocalhost\n{ip}\tb{i}\n"),
                       ("hostname", f"b{i}\n"), ("resolv.conf", "nameserver 192.0.2.53\n")):
        with open(f"{files}/{name}", "w") as f:
            f.write(text)
    binds = {f"{files}/{name}": f"/etc/{name}" for name in ("hosts", "hostname", "resolv.conf")}
    binds["/run/floor-empty"] = "/run/netns"                # hide the pins, as lab.run does
    # its holder: unshare --uts --mount, hostname, binds (waited for below, as lab.run's are)
    ask.send(pickle.dumps((f"/run/netns/b{i}", f"b{i}", binds)))
holders = [int(ask.recv(64)) for _ in range(n)]
print((time.perf_counter() - t) * 1000 / n)
for pid in holders:
    os.kill(pid, signal.SIGKILL)
ask.close()
"""


def kernel_floor(n: int, mode: str | None = None) -> float:
    """ms per container for the kernel's steps alone (see ``FLOOR_SCRIPT``), at N = ``n``."""
    mode = mode or sandbox.choose_mode()
    argv = sandbox.ns_argv(mode)
    sysfs = sandbox.sysfs_mode(mode)
    env = dict(os.environ, PATH=os.environ.get("PATH", "") + ":" + sandbox.SBIN_PATH)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    r = subprocess.run(
        [*argv, sys.executable, "-c", FLOOR_SCRIPT, str(n), sysfs],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    if r.returncode != 0:
        raise RuntimeError(f"kernel floor failed: {r.stderr.strip()[-2000:]}")
    return float(r.stdout.split()[-1])


def pss_kb(pid: int) -> int:
    """A process's proportional set size in kB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [
                    int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()
                ]
        except OSError:
            continue
    return out


def lab_pss_mb(lab: Lab) -> tuple[float, int]:
    """(PSS in MB, process count) of every process of ``lab``: its sandbox and all below."""
    if lab.sandbox_pid is None:
        return 0.0, 0
    procs = _tree(lab.sandbox_pid)
    return sum(pss_kb(p) for p in procs) / 1024, len(procs)


def memory_bench() -> dict[str, float]:
    """A lab's memory idle (after start) and active (two containers, a capture at 4 points)."""
    with Lab(profile="article", seed=5) as lab:
        time.sleep(0.5)
        idle, idle_n = lab_pss_mb(lab)
        c1, c2 = lab.run("c1"), lab.run("c2")
        points = ("c1:eth0", "host:docker0", "host:eth0", "outside:eth0")
        with lab.capture(*points, proto="icmp"):
            assert c1.ping(lab.outside.ip), "ping through NAT failed"
            assert c1.ping(c2.ip), "ping between containers failed"
        active, active_n = lab_pss_mb(lab)
    return {"idle": idle, "idle_procs": idle_n, "active": active, "active_procs": active_n}


def first_ping_ms() -> float:
    """From ``Lab()`` to the first answered ping between two containers (median of 3)."""
    times = []
    for seed in (11, 12, 13):
        t = time.perf_counter()
        with Lab(seed=seed) as lab:
            c1, c2 = lab.run("c1"), lab.run("c2")
            ok = c1.ping(c2.ip)
            times.append((time.perf_counter() - t) * 1000)
            assert ok, "the first ping was not answered"
    return statistics.median(times)


def labs_at_once(labs: int = 8, seconds: float = 10.0) -> dict[str, float]:
    """``labs`` labs at once, two containers each, one pinging the other for ``seconds``."""
    lock = threading.Lock()
    rtts: list[float] = []
    failures = 0
    errors: list[str] = []
    ready = threading.Barrier(labs + 1)

    def one(seed: int) -> None:
        nonlocal failures
        try:
            with Lab(seed=100 + seed) as lab:
                c1, c2 = lab.run("c1"), lab.run("c2")
                c1.ping(c2.ip)  # the agents are up before the clock starts
                ready.wait()
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    t = time.perf_counter()
                    ok = c1.ping(c2.ip, timeout=1.0)
                    ms = (time.perf_counter() - t) * 1000
                    with lock:
                        rtts.append(ms)
                        failures += 0 if ok else 1
        except Exception as exc:  # noqa: BLE001 - counted and reported
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
            ready.abort()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(labs)]
    for th in threads:
        th.start()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        pass
    for th in threads:
        th.join()
    rtts.sort()
    p95 = rtts[min(len(rtts) - 1, int(len(rtts) * 0.95))] if rtts else float("nan")
    return {
        "labs": labs,
        "pings": len(rtts),
        "failures": failures + len(errors),
        "p95_ms": p95,
        "errors": "; ".join(errors[:3]),  # type: ignore[dict-item]
    }


def overlay_bench(n: int = 10, pings: int = 3) -> dict[str, float]:
    """``lab.run`` on an overlay vs on docker0 (median of ``n`` each, alternating hosts for the
    overlay; the first overlay container of each host, which builds that host's overlay
    namespace and docker_gwbridge, is timed apart), and the first ping across the hosts vs
    the first ping between two containers on docker0 (median of ``pings``)."""
    with Lab(hosts=2, seed=41) as lab:
        lab.networks.create("ov", driver="overlay")
        t = time.perf_counter()
        lab.run("o0", network="ov")
        lab.run("o1", network="ov", host="host2")
        first = (time.perf_counter() - t) * 1000 / 2
        bridge, overlay = [], []
        for i in range(n):
            t = time.perf_counter()
            lab.run(f"b{i}")
            bridge.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            lab.run(f"o{i + 2}", network="ov", host="host2" if i % 2 else "host")
            overlay.append((time.perf_counter() - t) * 1000)
        bping, oping = [], []
        for i in range(pings):
            a, b = lab.run(f"pb{i}a"), lab.run(f"pb{i}b")
            t = time.perf_counter()
            ok = a.ping(b.ip)
            bping.append((time.perf_counter() - t) * 1000)
            x = lab.run(f"po{i}a", network="ov")
            y = lab.run(f"po{i}b", network="ov", host="host2")
            t = time.perf_counter()
            ok = x.ping(y.ip) and ok
            oping.append((time.perf_counter() - t) * 1000)
            assert ok, "a first ping (bridge or across the overlay) was not answered"
    res = {
        "bridge_run_ms": statistics.median(bridge),
        "overlay_run_ms": statistics.median(overlay),
        "overlay_first_run_ms": first,
        "bridge_ping_ms": statistics.median(bping),
        "overlay_ping_ms": statistics.median(oping),
    }
    res["run_ratio"] = res["overlay_run_ms"] / res["bridge_run_ms"]
    res["ping_ratio"] = res["overlay_ping_ms"] / res["bridge_ping_ms"]
    return res


#: rounds of (kernel floor, labkit) at the largest size, whose medians give ratio_vs_floor
HEADLINE_ROUNDS = 3
#: seconds to wait before each timed build: the kernel frees the namespaces of the one
#: before in the background (its ``cleanup_net`` work), which would share the CPU with it
SETTLE_S = 1.5


def _settle() -> None:
    time.sleep(SETTLE_S)


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
        "first_ping_ms": first,
        "warm_ping_ms": warm,
        "sniffer_start_ms": statistics.median(starts) / len(points),
        "capture_start_5_ms": statistics.median(starts),
        "traced_ping_ms": statistics.median(traced),
    }
    out.write(
        f"agents: forked by the lab's pid 1, ready on first use in a namespace in "
        f"{res['agent_first_ms']:.0f} ms (median of {len(ready)}); "
        f"first ping incl. agent {first:.0f} ms, warm ping {warm:.1f} ms\n"
        f"sniffers at 5 points start in {res['capture_start_5_ms']:.1f} ms "
        f"({res['sniffer_start_ms']:.1f} ms each); traced ping through 5 points "
        f"{res['traced_ping_ms']:.0f} ms\n"
    )
    return res


def run_bench(sizes: tuple[int, ...] = (1, 10, 100), out: TextIO = sys.stdout) -> dict[str, float]:
    """Run the benchmark, print a table and the closing summary line."""
    out.write(
        f"{'N':>5} {'labkit ms/ctr':>14} {'floor ms/ctr':>13} {'ip-cli ms/ctr':>14} "
        f"{'vs floor':>9} {'ip/labkit':>9} {'rm ms/ctr':>10} {'start ms':>9} {'teardown ms':>12}\n"
    )
    summary: dict[str, float] = {}
    starts = []
    mode = sandbox.choose_mode()
    for n in sizes:
        # the headline size: three rounds, floor and labkit in turn, and the median of each
        # (one round of either moves by ±20% with the machine's load)
        rounds = HEADLINE_ROUNDS if n == sizes[-1] else 1
        floors, runs = [], []
        for _ in range(rounds):
            _settle()
            floors.append(kernel_floor(n, mode))
            _settle()
            runs.append(_labkit(n))
        starts += [r["start"] for r in runs]
        m = sorted(runs, key=lambda r: r["per_container"])[len(runs) // 2]
        floor = statistics.median(floors)
        with Lab(seed=0) as base:
            cli = _ip_cli(base, n)
        ratio = cli / m["per_container"]
        vs_floor = m["per_container"] / floor
        out.write(
            f"{n:>5} {m['per_container']:>14.2f} {floor:>13.2f} {cli:>14.2f} {vs_floor:>9.2f} "
            f"{ratio:>9.1f} {m['rm_per']:>10.2f} {m['start']:>9.0f} {m['teardown']:>12.0f}\n"
        )
        out.flush()
        summary = {
            "ratio": ratio,
            "ms": m["per_container"],
            "teardown": m["teardown"],
            "floor": floor,
            "vs_floor": vs_floor,
        }
    summary["start"] = statistics.median(starts)
    p = packet_bench(out)
    mem = memory_bench()
    out.write(
        f"memory (PSS, all of a lab's processes): idle {mem['idle']:.0f} MB in "
        f"{mem['idle_procs']:.0f} processes; after a capture at 4 points {mem['active']:.0f} MB "
        f"in {mem['active_procs']:.0f} processes\n"
    )
    out.flush()
    fp = first_ping_ms()
    out.write(f"Lab() to the first answered ping between two containers: {fp:.0f} ms\n")
    out.flush()
    many = labs_at_once()
    out.write(
        f"{many['labs']:.0f} labs at once, two containers each pinging for 10 s: "
        f"{many['pings']:.0f} pings, {many['failures']:.0f} failed, p95 {many['p95_ms']:.1f} ms"
        + (f" ({many['errors']})" if many["errors"] else "")
        + "\n"
    )
    ov = overlay_bench()
    out.write(
        f"overlay (Lab(hosts=2)): lab.run {ov['overlay_run_ms']:.1f} ms vs "
        f"{ov['bridge_run_ms']:.1f} ms on docker0 (×{ov['run_ratio']:.2f}; the first on a host, "
        f"which builds its overlay namespace, {ov['overlay_first_run_ms']:.0f} ms); first ping "
        f"across hosts {ov['overlay_ping_ms']:.0f} ms vs {ov['bridge_ping_ms']:.0f} ms on one "
        f"bridge (×{ov['ping_ratio']:.2f})\n"
    )
    out.flush()
    summary.update(
        overlay_run=ov["overlay_run_ms"], overlay_ping=ov["overlay_ping_ms"],
        overlay_run_ratio=ov["run_ratio"], overlay_ping_ratio=ov["ping_ratio"],
    )  # fmt: skip
    summary.update(
        pss_idle=mem["idle"], pss_active=mem["active"], first_ping=fp,
        at_once_failures=many["failures"], at_once_p95=many["p95_ms"],
    )  # fmt: skip
    out.write(
        f"ratio_vs_floor={summary['vs_floor']:.2f} kernel_floor_ms={summary['floor']:.2f} "
        f"ms_per_container_at_{sizes[-1]}={summary['ms']:.2f} "
        f"ratio_vs_ip_cli={summary['ratio']:.1f} lab_start_ms={summary['start']:.0f} "
        f"teardown_ms={summary['teardown']:.0f} first_ping_ms={fp:.0f} "
        f"lab_pss_mb_idle={mem['idle']:.0f} lab_pss_mb_active={mem['active']:.0f} "
        f"labs_at_once={many['labs']:.0f} labs_at_once_failures={many['failures']:.0f} "
        f"labs_at_once_p95_ms={many['p95_ms']:.1f} agent_ready_ms={p['agent_first_ms']:.0f} "
        f"sniffer_start_ms={p['sniffer_start_ms']:.1f} traced_ping_ms={p['traced_ping_ms']:.0f} "
        f"overlay_run_ms={ov['overlay_run_ms']:.1f} overlay_run_ratio={ov['run_ratio']:.2f} "
        f"overlay_ping_ms={ov['overlay_ping_ms']:.0f} overlay_ping_ratio={ov['ping_ratio']:.2f}\n"
    )
    return summary
