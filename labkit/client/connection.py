"""The client end of the pipe to a lab daemon: calls from many threads, replies by id.

Every call has a deadline (a stopped or wedged daemon gives :class:`DaemonTimeout`, never a
hang); the reader thread fails every waiting call whatever kills it (end of pipe, a corrupt
or refused frame); frames are written whole even when Ctrl-C arrives mid-write (see
:class:`labkit.protocol.FrameWriter`).
"""

from __future__ import annotations

import collections
import itertools
import subprocess
import threading
from typing import Any

from labkit.errors import (
    BY_NAME,
    DaemonDied,
    DaemonTimeout,
    InvalidArgument,
    LabClosed,
    LabkitError,
    describe_exit,
)
from labkit.protocol import FrameTooLarge, FrameWriter, ProtocolEOF, read_frame

#: seconds a call may wait for its reply unless it says otherwise (``exec_run`` adds its
#: own timeout); generous, because a lab on a busy 2-core machine can be slow
DEFAULT_DEADLINE = 300.0


class _Pending:
    __slots__ = ("event", "ok", "value")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.ok = False
        self.value: Any = None


class Connection:
    """Sends requests to the daemon and hands each reply to the thread that asked."""

    def __init__(self, proc: subprocess.Popen[bytes], daemon_pid: int | None = None) -> None:
        assert proc.stdin and proc.stdout and proc.stderr
        self.proc = proc
        #: the daemon's pid in the machine's pid namespace, when known (for error messages)
        self.daemon_pid = daemon_pid
        self.default_deadline = DEFAULT_DEADLINE
        self._writer = FrameWriter(proc.stdin)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._dead: str | None = None
        self._stderr: collections.deque[str] = collections.deque(maxlen=40)
        self._reader = threading.Thread(target=self._read, name="labkit-reader", daemon=True)
        self._reader.start()
        self._errs = threading.Thread(target=self._read_stderr, name="labkit-stderr", daemon=True)
        self._errs.start()

    @property
    def last_words(self) -> str:
        return "".join(self._stderr)

    def _read_stderr(self) -> None:
        assert self.proc.stderr
        try:
            for line in iter(self.proc.stderr.readline, b""):
                self._stderr.append(line.decode(errors="replace"))
        except (OSError, ValueError):
            pass

    def _read(self) -> None:
        assert self.proc.stdout
        reason = "the lab daemon exited"
        try:
            while True:
                rid, ok, value = read_frame(self.proc.stdout)
                with self._lock:
                    pending = self._pending.pop(rid, None)
                if pending is not None:
                    pending.ok, pending.value = ok, value
                    pending.event.set()
        except ProtocolEOF:
            pass
        except BaseException as exc:  # noqa: BLE001 - whatever it was, nobody may hang
            reason = f"the pipe from the lab daemon broke: {exc}"
            # the stream is out of step (or hostile): end the lab, our own child by PID
            try:
                self.proc.kill()
            except OSError:
                pass
        self._fail_all(reason)

    def _fail_all(self, reason: str) -> None:
        with self._lock:
            self._dead = self._dead or reason
            waiting = list(self._pending.values())
            self._pending.clear()
        for pending in waiting:
            pending.ok, pending.value = False, None
            pending.event.set()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a daemon method and wait for its reply (thread-safe), at most
        :attr:`default_deadline` seconds."""
        return self.request(method, args, kwargs)

    def request(
        self,
        method: str,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        deadline: float | None = None,
    ) -> Any:
        """Call ``method`` and wait at most ``deadline`` seconds (default:
        :attr:`default_deadline`); raise :class:`DaemonTimeout` after that."""
        limit = self.default_deadline if deadline is None else deadline
        pending = _Pending()
        with self._lock:
            if self._dead:
                raise self._died()
            rid = next(self._ids)
            self._pending[rid] = pending
        try:
            self._writer.write((rid, method, args, kwargs or {}))
            answered = pending.event.wait(limit)
        except FrameTooLarge as exc:
            self._forget(rid)
            raise InvalidArgument(f"{method}: {exc}; send less at once") from None
        except (BrokenPipeError, ValueError, OSError):
            self._forget(rid)
            raise self._died() from None
        except BaseException:  # KeyboardInterrupt: its reply, if any, is dropped
            self._forget(rid)
            raise
        if not answered:
            self._forget(rid)
            raise self._timeout(method, limit)
        if pending.ok:
            return pending.value
        if pending.value is None:
            raise self._died()
        name, message = pending.value
        raise BY_NAME.get(name, LabkitError)(message)

    def _forget(self, rid: int) -> None:
        with self._lock:
            self._pending.pop(rid, None)

    def _timeout(self, method: str, limit: float) -> DaemonTimeout:
        state = ""
        if self.daemon_pid is not None:
            try:
                with open(f"/proc/{self.daemon_pid}/stat") as f:
                    letter = f.read().rsplit(")", 1)[1].split()[0]
                if letter in ("T", "t"):
                    state = f" — it is stopped (pid {self.daemon_pid}); `kill -CONT` it"
            except (OSError, IndexError):
                pass
        return DaemonTimeout(
            f"the lab daemon did not answer {method!r} within {limit:g} s{state}; the lab may "
            "still be usable once it catches up, or close it and open a new one"
        )

    def _died(self) -> LabkitError:
        if self._dead == "closed":
            return LabClosed("this lab is closed; start a new one with Lab()")
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        self._errs.join(timeout=1)
        how = describe_exit(self.proc.returncode)
        reason = self._dead or "the lab daemon exited"
        if reason == "the lab daemon exited":
            reason = f"the lab daemon exited ({how})"
        else:
            reason = f"{reason} (daemon: {how})"
        return DaemonDied(f"{reason}; the lab is gone — open a new one", self.last_words)

    def close(self, timeout: float = 5.0) -> None:
        """Close the pipe; the daemon exits and the kernel frees the whole sandbox."""
        with self._lock:
            if self._dead == "closed":
                return
            self._dead = "closed"
        self._writer.close()
        try:
            assert self.proc.stdin
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by PID: unshare --kill-child takes the rest
            self.proc.wait()
        self._reader.join(timeout=1)
        self._errs.join(timeout=1)
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
