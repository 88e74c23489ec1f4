"""Packet probes: one agent process per node, started on first use.

The lab's pid 1 (:mod:`labkit.daemon.forkserver`) forks each agent, which enters its
node's namespaces and serves :mod:`labkit.packets.agent`'s protocol on a socket this module
keeps. Captures and pings need no scapy in the agent; it imports scapy only to craft a
packet (``send``, ``sr1``). Agents die with the lab (its pid namespace); a removed
container's agent is closed with it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from labkit.daemon import forkserver
from labkit.daemon.host import DockerHost
from labkit.errors import InvalidArgument, NotFound
from labkit.packets.agentclient import AgentClient, AgentError, ForkedAgent
from labkit.protocol import MAX_FRAME


def parse_point(point: object) -> tuple[str, str]:
    """``"node:ifname"`` → ``(node, ifname)``; raise with the expected form."""
    if not isinstance(point, str) or point.count(":") != 1 or not all(point.split(":")):
        raise InvalidArgument(
            f"capture point {point!r} is not 'node:ifname' (e.g. 'c1:eth0', 'host:docker0', "
            "'outside:eth0')"
        )
    node, ifname = point.split(":")
    return node, ifname


def _fit_reply(out: dict[str, Any]) -> None:
    """Keep a capture's reply within the pipe's limit: past a budget of 3/4 of
    :data:`labkit.protocol.MAX_FRAME` in raw bytes, the latest frames of a point are not
    returned, and ``drops[point]["not_returned"]`` says how many."""
    budget = MAX_FRAME * 3 // 4
    for point, frames in out["frames"].items():
        kept = 0
        for raw, _t, _lt in frames:
            if budget - (len(raw) + 64) < 0:
                break
            budget -= len(raw) + 64
            kept += 1
        if kept < len(frames):
            out["frames"][point] = frames[:kept]
            out["drops"].setdefault(point, {})["not_returned"] = len(frames) - kept


class Probes:
    """The agents of one lab, keyed by node name."""

    def __init__(self, host: DockerHost) -> None:
        self.host = host
        self._agents: dict[str, AgentClient] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._captures: dict[int, dict[str, tuple[str, AgentClient, int]]] = {}
        self._next = 1
        self.ready_ms: dict[str, float] = {}

    def _fork_agent(self, node: str) -> AgentClient:
        """An agent forked by the lab's pid 1 inside ``node``'s namespaces."""
        rec = self.host.node(node)
        paths = {}
        if rec.pid is not None:
            paths = {kind: f"/proc/{rec.pid}/ns/{kind}" for kind in ("net", "uts", "mnt")}
        elif rec.kind in ("overlay", "lb", "ingress"):  # swarm namespaces (no holder)
            paths = {"net": rec.netns.path}
        t0 = time.perf_counter()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = forkserver.spawn_agent(paths, theirs)
        except OSError as exc:
            mine.close()
            raise AgentError(f"pid 1 could not start an agent in {node}: {exc}") from None
        finally:
            theirs.close()
        agent = AgentClient(["forked", node], proc=ForkedAgent(mine, pid))
        agent.ready_ms = (time.perf_counter() - t0) * 1000
        return agent

    def agent(self, node: str) -> AgentClient:
        """The node's agent, spawned (inside its namespaces) on first use."""
        with self._guard:
            lock = self._locks.setdefault(node, threading.Lock())
        with lock:
            agent = self._agents.get(node)
            if agent is not None and agent.alive:
                return agent
            if agent is not None:
                agent.close(timeout=1)  # a dead agent: free its fds before forking anew
            agent = self._fork_agent(node)
            self._agents[node] = agent
            self.ready_ms[node] = agent.ready_ms
            return agent

    def info(self) -> dict[str, Any]:
        """``{node: the agent's ready answer}`` for every agent still alive, asked now."""
        return {n: dict(a.call("ready")) for n, a in list(self._agents.items()) if a.alive}

    def forget(self, node: str) -> None:
        """Close a removed container's agent."""
        agent = self._agents.pop(node, None)
        if agent is not None:
            agent.close(timeout=1)

    def call(self, node: str, op: str, **kwargs: Any) -> Any:
        self.host.node(node)  # NotFound with the list of nodes
        try:
            return self.agent(node).call(op, **kwargs)
        except AgentError as exc:
            raise InvalidArgument(f"{op} in {node}: {exc}") from None

    def _check_iface(self, node: str, ifname: str) -> None:
        rec = self.host.node(node)
        try:
            rec.netns.index(ifname)
        except NotFound:
            names = sorted(link.get("ifname") for link in rec.netns.ipr.get_links())
            raise NotFound(
                f"no interface {ifname!r} in {node} to capture on; it has: {', '.join(names)}"
            ) from None

    def capture_start(self, points: list[str], match: dict[str, Any] | None = None) -> int:
        """Start a sniffer at every point; return once all of them are confirmed running."""
        if not points:
            raise InvalidArgument("give at least one capture point, e.g. 'c1:eth0'")
        parsed = [parse_point(p) for p in points]
        if len(set(points)) != len(points):
            raise InvalidArgument(f"a capture point is given twice: {points}")
        for node, ifname in parsed:
            self._check_iface(node, ifname)
        with ThreadPoolExecutor(max_workers=len(parsed)) as pool:
            futures = {
                p: pool.submit(self.call, node, "sniff_start", iface=ifname, match=match)
                for p, (node, ifname) in zip(points, parsed, strict=True)
            }
            sids = {}
            errors = []
            for p, f in futures.items():
                try:
                    sids[p] = (parse_point(p)[0], f.result())
                except Exception as exc:  # noqa: BLE001 - stop the others, then report
                    errors.append(exc)
        if errors:
            for node, sid in sids.values():
                with contextlib.suppress(Exception):
                    self._agents[node].call("sniff_stop", sid=sid)
            raise errors[0]
        with self._guard:
            handle = self._next
            self._next += 1
            # keep the agent itself: if it dies, a new agent must not be asked for its sid
            self._captures[handle] = {p: (n, self._agents[n], sid) for p, (n, sid) in sids.items()}
        return handle

    def capture_stop(self, handle: int) -> dict[str, Any]:
        """Stop the sniffers of a capture: ``{"frames": {point: [...]}, "failed": {point:
        why}, "drops": {point: {...}}}``; a point whose agent died is reported in ``failed``
        and the other points' frames still come back."""
        with self._guard:
            sids = self._captures.pop(handle, None)
        if sids is None:
            raise NotFound(f"no running capture {handle}")

        def finish(node: str, agent: AgentClient, sid: int) -> dict[str, Any]:
            try:
                if not agent.alive:
                    raise AgentError(agent.stderr_tail() or "no longer running")
                return dict(agent.call("sniff_finish", sid=sid))
            except AgentError as exc:
                raise AgentError(f"the capture agent in {node} died ({exc})") from None

        out: dict[str, Any] = {"frames": {}, "failed": {}, "drops": {}}
        with ThreadPoolExecutor(max_workers=len(sids)) as pool:
            futures = {p: pool.submit(finish, *entry) for p, entry in sids.items()}
            for p, f in futures.items():
                try:
                    got = f.result()
                except Exception as exc:  # noqa: BLE001 - report the point, keep the others
                    out["frames"][p] = []
                    out["failed"][p] = str(exc).strip() or type(exc).__name__
                    continue
                out["frames"][p] = list(got["frames"])
                out["drops"][p] = {
                    "kernel": int(got.get("kernel_drops", 0)),
                    "kernel_packets": int(got.get("kernel_packets", 0)),
                    "limit_reached": bool(got.get("limit_reached", False)),
                    "not_returned": 0,
                }
        _fit_reply(out)
        return out

    def close(self) -> None:
        for node in list(self._agents):
            self.forget(node)
