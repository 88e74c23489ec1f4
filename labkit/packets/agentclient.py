"""Daemon side of a probe agent: talk to it, multiplex calls to it, notice when it dies.

This module never imports scapy: the daemon stays light. In a lab, agents are forked by
the lab's pid 1 (:mod:`labkit.daemon.forkserver`) inside a node's namespaces and handed
over as a :class:`ForkedAgent`; :mod:`labkit.daemon.probes` does that::

    agent = AgentClient(["forked", node], proc=ForkedAgent(sock, pid))
    sid = agent.call("sniff_start", iface="eth0")
    agent.call("send", spec=describe_result)
    frames = agent.call("sniff_stop", sid=sid)
    agent.close()

Given only ``argv`` (the tests do this), it spawns ``python -m labkit.packets.agent`` itself.
``call`` is thread-safe: many threads may wait at once (an ``sr1`` waiting does not block a
``sniff_stop``); replies are routed by request id by one reader thread.
"""

from __future__ import annotations

import collections
import subprocess
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from labkit.errors import LabkitError
from labkit.packets.agent import read_frame, write_frame

__all__ = ["AgentClient", "AgentError", "AgentDied"]


class AgentError(LabkitError):
    """The agent ran the request and it failed; the message is the agent's error text."""


class AgentDied(AgentError):
    """The agent process exited (or never became ready); the message has its stderr tail."""


class AgentClient:
    """One running probe agent, spawned from ``argv``.

    :param argv: the command that runs ``python -m labkit.packets.agent`` in the target
        namespace (``nsenter ... --``, ``ip netns exec NAME ...``).
    :param ready_timeout: seconds to wait for the agent's first reply (scapy import).
    :param call_timeout: default seconds a :meth:`call` waits (None: forever).
    :param env: environment of the agent (default: inherited).
    :param proc: an agent already running (a :class:`ForkedAgent` from the lab's pid 1) instead
        of spawning ``argv``.
    :raises AgentDied: the agent exited or did not become ready in time.
    """

    def __init__(
        self,
        argv: list[str],
        ready_timeout: float = 60.0,
        call_timeout: float | None = 120.0,
        env: dict[str, str] | None = None,
        proc: Any = None,
    ) -> None:
        self.argv = list(argv)
        self.call_timeout = call_timeout
        self._write_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._next_id = 1
        self._dead: str | None = None  # why calls fail, once the agent is gone
        self._closed = False
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        t0 = time.perf_counter()
        self._proc = proc or subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        self.pid: int = self._proc.pid
        self._reader = threading.Thread(
            target=self._read_replies, name=f"agent-{self.pid}-reader", daemon=True
        )
        self._err_reader = threading.Thread(
            target=self._read_stderr, name=f"agent-{self.pid}-stderr", daemon=True
        )
        self._reader.start()
        self._err_reader.start()
        try:
            self.info: dict[str, Any] = self.request("ready", {}, timeout=ready_timeout)
        except (AgentError, TimeoutError) as exc:
            self.close()
            raise AgentDied(f"agent {self.argv!r} did not become ready: {exc}") from None
        #: milliseconds from spawning the agent to its ``ready`` reply.
        self.ready_ms: float = (time.perf_counter() - t0) * 1000.0

    # --- reader threads -------------------------------------------------------------------
    def _read_stderr(self) -> None:
        stream = self._proc.stderr
        assert stream is not None
        for line in iter(stream.readline, b""):
            self._stderr_tail.append(line.decode("utf-8", "replace").rstrip("\n"))

    def stderr_tail(self) -> str:
        """The last lines the agent wrote to stderr."""
        return "\n".join(self._stderr_tail)

    def _read_replies(self) -> None:
        stream = self._proc.stdout
        assert stream is not None
        reason = "the agent closed its output"
        try:
            while True:
                msg = read_frame(stream)
                if msg is None:
                    break
                fut = None
                if isinstance(msg, dict):
                    with self._pending_lock:
                        fut = self._pending.pop(msg.get("id"), None)  # type: ignore[arg-type]
                if fut is None:
                    continue  # a reply nobody waits for (the caller timed out)
                if msg.get("ok"):
                    fut.set_result(msg.get("value"))
                else:
                    fut.set_exception(AgentError(str(msg.get("error", "unknown agent error"))))
        except Exception as exc:  # noqa: BLE001 - a broken stream kills the agent link
            reason = f"bad reply from the agent: {exc}"
        self._fail_all(reason)

    def _fail_all(self, reason: str) -> None:
        """Mark the agent dead and fail every pending call with ``reason`` + stderr tail."""
        try:
            code = self._proc.wait(timeout=2.0)
            what = f"exited with code {code}"
        except subprocess.TimeoutExpired:
            what = "is not answering"
        self._err_reader.join(timeout=1.0)
        tail = self.stderr_tail().strip()
        text = f"probe agent (pid {self.pid}) {what}: {reason}"
        if self._closed:
            text = f"probe agent (pid {self.pid}) was closed"
        if tail:
            text += "\n--- agent stderr ---\n" + tail
        with self._pending_lock:
            self._dead = text
            pending = list(self._pending.values())
            self._pending.clear()
        for fut in pending:
            if not fut.done():
                fut.set_exception(AgentDied(text))

    # --- calls ----------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        """True while the agent runs and answers."""
        return self._dead is None and self._proc.poll() is None

    def request(self, op: str, args: dict[str, Any], timeout: float | None = None) -> Any:
        """Send ``op`` with ``args`` and wait up to ``timeout`` seconds for its reply.

        :raises AgentError: the agent reported an error (its text is the message).
        :raises AgentDied: the agent is gone (message includes its stderr tail).
        :raises TimeoutError: no reply in time (the request may still run in the agent).
        """
        fut: Future[Any] = Future()
        with self._pending_lock:
            if self._dead is not None:
                raise AgentDied(self._dead)
            rid = self._next_id
            self._next_id += 1
            self._pending[rid] = fut
        msg = dict(args)
        msg["id"] = rid
        msg["op"] = op
        try:
            with self._write_lock:
                stdin = self._proc.stdin
                if stdin is None or stdin.closed:
                    raise BrokenPipeError("agent input is closed")
                write_frame(stdin, msg)
        except (BrokenPipeError, OSError, ValueError) as exc:
            with self._pending_lock:
                self._pending.pop(rid, None)
                dead = self._dead
            raise AgentDied(dead or f"probe agent (pid {self.pid}): cannot write: {exc}") from None
        try:
            return fut.result(timeout=timeout)
        except FutureTimeout:
            with self._pending_lock:
                self._pending.pop(rid, None)
            raise TimeoutError(
                f"probe agent (pid {self.pid}): {op} took more than {timeout}s"
            ) from None

    def call(self, op: str, /, **kwargs: Any) -> Any:
        """Run ``op`` in the agent with keyword arguments; wait ``call_timeout`` at most.

        Example: ``client.call("sr1", spec=describe(pkt), timeout=2)`` (that ``timeout`` is
        the op's own argument; the client's wait is ``call_timeout``).
        """
        return self.request(op, kwargs, timeout=self.call_timeout)

    def close(self, timeout: float = 5.0) -> int | None:
        """Stop the agent: close its input, wait, kill (its own pid only) if needed.

        Idempotent. Returns the exit code.
        """
        if not self._closed:
            self._closed = True
            with self._write_lock:
                try:
                    if self._proc.stdin is not None:
                        self._proc.stdin.close()
                    # a forked agent reads a socket: closing our file object does not end
                    # its input, shutting the socket down does (else close waits, then kills)
                    shutdown = getattr(self._proc, "shutdown_input", None)
                    if shutdown is not None:
                        shutdown()
                except OSError:
                    pass
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._reader.join(timeout=timeout)
            self._err_reader.join(timeout=timeout)
            for stream in (self._proc.stdout, self._proc.stderr):
                if stream is not None:
                    stream.close()
            release = getattr(self._proc, "release", None)
            if release is not None and not self._reader.is_alive():
                release()
        return self._proc.returncode

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "alive" if self.alive else "dead"
        return f"<AgentClient pid={self.pid} {state} argv={self.argv!r}>"


class ForkedAgent:
    """A ``Popen``-like handle on an agent forked by the lab's pid 1: its
    protocol runs on a socket, and it is watched through a pidfd (it is not our child)."""

    def __init__(self, sock: Any, pid: int) -> None:
        import io
        import os

        self.pid = pid
        self._sock = sock
        self.stdin = sock.makefile("wb")
        self.stdout = sock.makefile("rb")
        self.stderr = io.BytesIO()  # its stderr is the lab daemon's
        self.returncode: int | None = None
        self._pidfd = os.pidfd_open(pid)

    def poll(self) -> int | None:
        import select

        if self.returncode is None and select.select([self._pidfd], [], [], 0)[0]:
            self.returncode = 0
        return self.returncode

    def shutdown_input(self) -> None:
        """End the agent's input (it exits at end of input)."""
        import socket

        try:
            self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def wait(self, timeout: float | None = None) -> int:
        import select

        if self.returncode is None:
            if not select.select([self._pidfd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"agent {self.pid}", timeout or 0)
            self.returncode = 0
        self._sock.close()
        return self.returncode

    def release(self) -> None:
        """Close the pidfd (one fd per agent used to leak); only once nothing waits on it."""
        import os

        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1

    def kill(self) -> None:
        import os
        import signal

        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)  # the agent we asked for, by PID
            except ProcessLookupError:
                pass
