"""The daemon's protocol loop: requests in on stdin, replies out on stdout.

Netlink work is serialised on one worker thread (pyroute2 sockets are not shared between
threads); commands (``exec_run``) and packet probes run on threads of their own, so a server
started in one call does not block another call. Replies carry the request id.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import traceback
from typing import IO, Any

from labkit.errors import InvalidArgument, LabkitError, from_oserror
from labkit.protocol import FrameWriter, ProtocolEOF, read_frame


class Daemon:
    """Holds the Docker host and answers the client's calls."""

    #: methods run on the netlink worker thread, one at a time
    SERIAL = frozenset(
        {
            "start", "run", "rm", "list_containers", "inspect", "snapshot", "sysctl",
            "masquerade", "network_create", "network_rm", "network_connect", "network_list",
            "network_disconnect",
            "conntrack",
        }
    )  # fmt: skip
    #: methods run on a thread of their own
    CONCURRENT = frozenset(
        {
            "exec_run",
            "hello",
            "probe",
            "capture_start",
            "capture_stop",
            "probe_timings",
            "probes_ready",
        }
    )

    def __init__(self) -> None:
        self.host: Any = None
        self.probes: Any = None
        self.procs: list[subprocess.Popen[bytes]] = []

    # serial ------------------------------------------------------------------
    def start(self, **config: Any) -> dict[str, Any]:
        from labkit.daemon.host import DockerHost

        if self.host is not None:
            raise InvalidArgument("this lab is already started")
        from labkit.daemon.probes import Probes

        host = DockerHost(**config)
        self.host = host
        info = host.start()
        self.probes = Probes(host)
        self.probes.prewarm()
        return info

    def run(self, name: str, **kwargs: Any) -> Any:
        return self.host.run(name, **kwargs)

    def network_create(
        self,
        name: str,
        subnet: str | None = None,
        driver: str = "bridge",
        parent: str | None = None,
        gateway: str | None = None,
    ) -> Any:
        from labkit.daemon import networks

        return networks.create(self.host, name, subnet, driver, parent, gateway)

    def network_rm(self, name: str) -> None:
        from labkit.daemon import networks

        networks.remove(self.host, name)

    def network_connect(self, name: str, container: str) -> Any:
        from labkit.daemon import networks

        return networks.connect(self.host, name, container)

    def network_disconnect(self, name: str, container: str) -> Any:
        from labkit.daemon import networks

        return networks.disconnect(self.host, name, container)

    def network_list(self) -> Any:
        from labkit.daemon import networks

        return networks.list_networks(self.host)

    def rm(self, name: str) -> Any:
        attrs = self.host.rm(name)
        self.probes.forget(name)
        return attrs

    def list_containers(self) -> Any:
        return self.host.list_containers()

    def inspect(self, name: str) -> Any:
        return self.host.inspect(name)

    def snapshot(self) -> Any:
        from labkit.daemon.snapshot import snapshot

        return snapshot(self.host)

    def sysctl(self, key: str, value: str | None = None, node: str = "host") -> Any:
        return self.host.sysctl(key, value, node)

    def conntrack(self) -> Any:
        from labkit.daemon.snapshot import conntrack_entries

        return conntrack_entries()

    def masquerade(self, on: bool | None = None) -> bool:
        return bool(self.host.masquerade(on))

    # concurrent --------------------------------------------------------------
    def hello(self) -> dict[str, Any]:
        import os

        return {"pid": os.getpid()}

    def exec_run(
        self,
        node: str,
        argv: list[str],
        timeout: float | None = None,
        environment: dict[str, str] | None = None,
        detach: bool = False,
    ) -> tuple[int | None, str]:
        from labkit.daemon.host import EXEC_ENV

        prefix = self.host.exec_prefix(node)
        env = dict(EXEC_ENV)
        env.update(environment or {})
        full = prefix + list(argv)
        try:
            if detach:
                proc = subprocess.Popen(
                    full,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
                self.procs.append(proc)
                return None, ""
            done = subprocess.run(
                full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=timeout,
            )
        except FileNotFoundError:
            return 127, f"labkit: {full[0]}: command not found in the lab\n"
        except subprocess.TimeoutExpired as exc:
            out = exc.output.decode(errors="replace") if exc.output else ""
            return 124, out + f"\nlabkit: timed out after {timeout} s\n"
        return done.returncode, done.stdout.decode(errors="replace")

    def probe(self, node: str, op: str, kwargs: dict[str, Any]) -> Any:
        """Run one packet operation (send, sr1, ping) in a node's agent."""
        if op not in ("send", "sr1", "ping"):
            raise InvalidArgument(f"unknown packet operation {op!r}")
        return self.probes.call(node, op, **kwargs)

    def capture_start(self, points: list[str], match: dict[str, Any] | None = None) -> int:
        return int(self.probes.capture_start(points, match))

    def capture_stop(self, handle: int) -> Any:
        return self.probes.capture_stop(handle)

    def probes_ready(self) -> float:
        """Wait until the agents' zygote has imported scapy; its import time in ms."""
        return float(self.probes.wait_ready())

    def probe_timings(self) -> dict[str, float]:
        """Agent readiness per node (ms, with scapy already imported by the zygote), and
        the zygote's own scapy import."""
        out = dict(self.probes.ready_ms)
        out["zygote_import"] = self.probes.zygote_import_ms
        return out

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        if self.host is not None:
            self.host.close()


def _error(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, LabkitError):
        return type(exc).__name__, str(exc)
    code = getattr(exc, "code", None)
    if isinstance(exc, OSError) or isinstance(code, int):
        err = exc if isinstance(exc, OSError) else OSError(code, str(exc))
        e = from_oserror(err, "lab daemon")
        return type(e).__name__, str(e)
    return "LabkitError", f"internal error in the lab daemon: {exc!r}\n{traceback.format_exc()}"


def serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """Serve requests until the client closes the pipe."""
    daemon = Daemon()
    writer = FrameWriter(out)
    work: queue.Queue[Any] = queue.Queue()

    def handle(rid: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            if method not in Daemon.SERIAL and method not in Daemon.CONCURRENT:
                raise InvalidArgument(f"unknown lab daemon call {method!r}")
            if method not in ("start", "hello") and daemon.host is None:
                raise InvalidArgument("the lab is not started")
            value = getattr(daemon, method)(*args, **kwargs)
            reply = (rid, True, value)
        except BaseException as exc:  # noqa: BLE001 - every error goes back to the caller
            reply = (rid, False, _error(exc))
        writer.write(reply)

    def worker() -> None:
        while True:
            item = work.get()
            if item is None:
                return
            handle(*item)

    thread = threading.Thread(target=worker, name="netlink", daemon=True)
    thread.start()
    try:
        while True:
            try:
                rid, method, args, kwargs = read_frame(inp)
            except ProtocolEOF:
                break
            if method in Daemon.CONCURRENT:
                threading.Thread(
                    target=handle, args=(rid, method, args, kwargs), daemon=True
                ).start()
            else:
                work.put((rid, method, args, kwargs))
    finally:
        work.put(None)
        thread.join(timeout=5)
        daemon.close()
