"""The daemon's protocol loop: requests in on stdin, replies out on stdout.

Netlink work is serialised on one worker thread (pyroute2 sockets are not shared between
threads); commands (``exec_run``) and packet probes run on threads of their own, so a server
started in one call does not block another call. Replies carry the request id.
"""

from __future__ import annotations

import gc
import os
import queue
import select
import signal
import subprocess
import threading
import time
import traceback
from typing import IO, Any

from labkit.core.args import check_environment, check_timeout, split_command
from labkit.daemon.tools import EXEC_ENV
from labkit.errors import InvalidArgument, LabkitError, from_oserror
from labkit.protocol import MAX_OUTPUT, FrameWriter, ProtocolEOF, method_table, read_frame, rpc


class Daemon:
    """Holds the Docker host and answers the client's calls."""

    def __init__(self) -> None:
        self.host: Any = None
        self.probes: Any = None
        self.procs: list[subprocess.Popen[bytes]] = []

    # serial ------------------------------------------------------------------
    @rpc(serial=True, needs_lab=False)
    def start(self, config: dict[str, Any]) -> dict[str, Any]:
        from labkit.core.config import LabConfig
        from labkit.daemon.host import DockerHost

        if self.host is not None:
            raise InvalidArgument("this lab is already started")
        from labkit.daemon.probes import Probes

        host = DockerHost(LabConfig.from_wire(config))
        self.host = host
        self.probes = Probes(host)
        info = host.start()
        # what start built (modules, pyroute2's IPRoute, the world) lives as long as the
        # lab: out of the cyclic collector's generations, so that `docker run` does not pay
        # for scanning it again and again (CPython's gc.freeze)
        gc.collect()
        gc.freeze()
        return info

    @rpc(serial=True)
    def run(self, name: str, **kwargs: Any) -> Any:
        return self.host.run(name, **kwargs)

    @rpc(serial=True)
    def network_create(
        self,
        name: str,
        subnet: str | None = None,
        driver: str = "bridge",
        parent: str | None = None,
        gateway: str | None = None,
        ipv6: bool = False,
        subnet6: str | None = None,
    ) -> Any:
        from labkit.daemon import networks

        return networks.create(self.host, name, subnet, driver, parent, gateway, ipv6, subnet6)

    @rpc(serial=True)
    def network_rm(self, name: str) -> None:
        from labkit.daemon import networks

        networks.remove(self.host, name)

    @rpc(serial=True)
    def network_connect(
        self, name: str, container: str, ipv4_address: str | None = None
    ) -> Any:
        from labkit.daemon import networks

        return networks.connect(self.host, name, container, ipv4_address)

    @rpc(serial=True)
    def network_disconnect(self, name: str, container: str) -> Any:
        from labkit.daemon import networks

        return networks.disconnect(self.host, name, container)

    @rpc(serial=True)
    def network_list(self) -> Any:
        from labkit.daemon import networks

        return networks.list_networks(self.host)

    @rpc(serial=True)
    def rm(self, name: str) -> Any:
        attrs = self.host.rm(name)
        self.probes.forget(name)
        return attrs

    @rpc(serial=True)
    def list_containers(self) -> Any:
        return self.host.list_containers()

    @rpc(serial=True)
    def inspect(self, name: str) -> Any:
        return self.host.inspect(name)

    @rpc(serial=True)
    def snapshot(self) -> Any:
        from labkit.daemon.snapshot import snapshot

        return snapshot(self.host)

    @rpc(serial=True)
    def sysctl(self, key: str, value: str | None = None, node: str = "host") -> Any:
        return self.host.sysctl(key, value, node)

    @rpc(serial=True)
    def conntrack(self) -> Any:
        from labkit.daemon.snapshot import conntrack_entries

        return conntrack_entries()

    @rpc(serial=True)
    def masquerade(self, on: bool | None = None) -> bool:
        return bool(self.host.masquerade(on))

    # concurrent --------------------------------------------------------------
    @rpc(serial=False)
    def exec_run(
        self,
        node: str,
        argv: list[str],
        timeout: float | None = None,
        environment: dict[str, str] | None = None,
        detach: bool = False,
    ) -> tuple[int | None, str, bool]:
        """``docker exec``: run ``argv`` in ``node``; ``(exit_code, output, truncated)``.

        The command runs in a process group of its own: on timeout the whole group is
        killed (grandchildren too), as ``docker exec`` ends with its container's processes.
        Output beyond :data:`labkit.protocol.MAX_OUTPUT` is read and dropped, with a marker.
        """
        argv = split_command(argv)
        timeout = check_timeout(timeout)
        env = dict(EXEC_ENV)
        env.update(check_environment(environment))
        full = self.host.exec_prefix(node) + argv
        try:
            proc = subprocess.Popen(
                full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if detach else subprocess.PIPE,
                stderr=subprocess.DEVNULL if detach else subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        except FileNotFoundError:
            return 127, f"labkit: {full[0]}: command not found in the lab\n", False
        if detach:
            self.procs.append(proc)
            return None, "", False
        return _collect(proc, timeout)

    @rpc(serial=False)
    def probe(self, node: str, op: str, kwargs: dict[str, Any]) -> Any:
        """Run one packet operation (send, sr1, ping) in a node's agent."""
        if op not in ("send", "send_many", "sr1", "ping"):
            raise InvalidArgument(f"unknown packet operation {op!r}")
        return self.probes.call(node, op, **kwargs)

    @rpc(serial=False)
    def capture_start(self, points: list[str], match: dict[str, Any] | None = None) -> int:
        return int(self.probes.capture_start(points, match))

    @rpc(serial=False)
    def capture_stop(self, handle: int) -> Any:
        return self.probes.capture_stop(handle)

    @rpc(serial=False)
    def probe_timings(self) -> dict[str, float]:
        """Agent readiness per node: ms from asking pid 1 for the fork to the agent's
        ``ready``."""
        return dict(self.probes.ready_ms)

    @rpc(serial=False)
    def probe_info(self) -> dict[str, Any]:
        """Each running agent's ``ready`` answer, asked now: its pid (in the lab), its
        interfaces, and scapy's version if it has imported scapy (None until a ``send``)."""
        return dict(self.probes.info())

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
        if self.host is not None:
            self.host.close()


def _collect(proc: subprocess.Popen[bytes], timeout: float | None) -> tuple[int, str, bool]:
    """Read a command's output (at most MAX_OUTPUT bytes kept) until it ends or times out;
    on timeout kill its whole process group."""
    assert proc.stdout is not None
    end = None if timeout is None else time.monotonic() + timeout
    fd = proc.stdout.fileno()
    kept = bytearray()
    dropped = 0
    timed_out = False
    try:
        while True:
            wait = None if end is None else end - time.monotonic()
            if wait is not None and wait <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            room = MAX_OUTPUT - len(kept)
            kept += chunk[:room]
            dropped += max(0, len(chunk) - room)
        if not timed_out:
            try:
                proc.wait(None if end is None else max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        if timed_out or proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group we created for this command
            except ProcessLookupError:
                pass
        proc.stdout.close()
        proc.wait()
    out = kept.decode(errors="replace")
    if dropped:
        out += (
            f"\n[labkit: output truncated at {MAX_OUTPUT // (1024 * 1024)} MB; {dropped} more "
            "bytes were read and dropped]\n"
        )
    if timed_out:
        return 124, out + f"\nlabkit: timed out after {timeout:g} s\n", bool(dropped)
    return proc.returncode, out, bool(dropped)


def _error(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, LabkitError):
        return type(exc).__name__, str(exc)
    code = getattr(exc, "code", None)
    if isinstance(exc, OSError) or isinstance(code, int):
        err = exc if isinstance(exc, OSError) else OSError(code, str(exc))
        e = from_oserror(err, "lab daemon")
        return type(e).__name__, str(e)
    return "LabkitError", f"internal error in the lab daemon: {exc!r}\n{traceback.format_exc()}"


#: the daemon's method table, from the ``@rpc`` declarations
METHODS = method_table(Daemon)


def serve(inp: IO[bytes], out: IO[bytes], daemon: Daemon | None = None) -> None:
    """Serve requests until the client closes the pipe (``daemon``: tests pass their own)."""
    daemon = Daemon() if daemon is None else daemon
    methods = method_table(type(daemon))
    writer = FrameWriter(out, threaded=False)  # no Ctrl-C reaches the daemon
    work: queue.Queue[Any] = queue.Queue()

    def handle(rid: int, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            spec = methods.get(method)
            if spec is None:
                raise InvalidArgument(f"unknown lab daemon call {method!r}")
            if spec.needs_lab and daemon.host is None:
                raise InvalidArgument("the lab is not started")
            value = getattr(daemon, method)(*args, **kwargs)
            reply = (rid, True, value)
        except BaseException as exc:  # noqa: BLE001 - every error goes back to the caller
            reply = (rid, False, _error(exc))
        try:
            writer.write(reply)
        except (BrokenPipeError, OSError):
            return
        except Exception as exc:  # noqa: BLE001 - a reply that cannot be pickled or is too big
            writer.write(
                (rid, False, ("LabkitError", f"the reply to {method!r} cannot be sent: {exc}"))
            )

    def worker() -> None:
        while True:
            item = work.get()
            if item is None:
                return
            try:
                handle(*item)
            except Exception:  # noqa: BLE001, S112 - the pipe is gone; keep serving the queue
                continue

    thread = threading.Thread(target=worker, name="netlink", daemon=True)
    thread.start()
    try:
        while True:
            try:
                rid, method, args, kwargs = read_frame(inp)
            except ProtocolEOF:
                break
            spec = methods.get(method)
            if spec is not None and not spec.serial:
                threading.Thread(
                    target=handle, args=(rid, method, args, kwargs), daemon=True
                ).start()
            else:
                work.put((rid, method, args, kwargs))
    finally:
        work.put(None)
        thread.join(timeout=5)
        daemon.close()
