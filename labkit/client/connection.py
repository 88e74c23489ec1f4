"""The client end of the pipe to a lab daemon: calls from many threads, replies by id."""

from __future__ import annotations

import collections
import itertools
import subprocess
import threading
from typing import Any

from labkit.errors import BY_NAME, DaemonDied, LabClosed, LabkitError
from labkit.protocol import FrameWriter, ProtocolEOF, read_frame


class _Pending:
    __slots__ = ("event", "ok", "value")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.ok = False
        self.value: Any = None


class Connection:
    """Sends requests to the daemon and hands each reply to the thread that asked."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin and proc.stdout and proc.stderr
        self.proc = proc
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
        for line in iter(self.proc.stderr.readline, b""):
            self._stderr.append(line.decode(errors="replace"))

    def _read(self) -> None:
        assert self.proc.stdout
        try:
            while True:
                rid, ok, value = read_frame(self.proc.stdout)
                with self._lock:
                    pending = self._pending.pop(rid, None)
                if pending is not None:
                    pending.ok, pending.value = ok, value
                    pending.event.set()
        except (ProtocolEOF, OSError, ValueError):
            pass
        with self._lock:
            self._dead = self._dead or "the lab daemon exited"
            waiting = list(self._pending.values())
            self._pending.clear()
        for pending in waiting:
            pending.ok, pending.value = False, None
            pending.event.set()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a daemon method and wait for its reply (thread-safe)."""
        pending = _Pending()
        with self._lock:
            if self._dead:
                raise self._died()
            rid = next(self._ids)
            self._pending[rid] = pending
        try:
            self._writer.write((rid, method, args, kwargs))
        except (BrokenPipeError, ValueError, OSError):
            with self._lock:
                self._pending.pop(rid, None)
            raise self._died() from None
        pending.event.wait()
        if pending.ok:
            return pending.value
        if pending.value is None:
            raise self._died()
        name, message = pending.value
        raise BY_NAME.get(name, LabkitError)(message)

    def _died(self) -> LabkitError:
        if self._dead == "closed":
            return LabClosed("this lab is closed; start a new one with Lab()")
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        self._errs.join(timeout=1)
        code = self.proc.returncode
        return DaemonDied(
            f"the lab daemon exited (exit status {code}); the lab is gone — open a new one",
            self.last_words,
        )

    def close(self, timeout: float = 5.0) -> None:
        """Close the pipe; the daemon exits and the kernel frees the whole sandbox."""
        with self._lock:
            if self._dead == "closed":
                return
            self._dead = "closed"
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
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
