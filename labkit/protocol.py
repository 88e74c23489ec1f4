"""The wire between a notebook (client) and its lab daemon: framed pickles of plain data.

Each frame is a 4-byte big-endian length and a pickle. A request is
``(request_id, method, args, kwargs)``; a reply is ``(request_id, ok, value)`` where ``value``
is the result, or ``(error_class_name, message)`` when ``ok`` is false. Requests carry ids so
many threads can wait at once (a server started in one thread while another sends); the
daemon answers in whatever order calls finish.

Three rules make the pipe safe and bounded:

- **plain data only.** The daemon runs inside the sandbox, where any process of the lab is
  the sandbox's root and could reopen the reply pipe through ``/proc``. Frames are decoded
  with :class:`PlainUnpickler`, whose ``find_class`` refuses every global: only lists,
  tuples, dicts, sets, str, bytes, numbers, bools and None come through. Packets travel as
  raw bytes and timestamps and are rebuilt with scapy on the client side.
- **one limit**, :data:`MAX_FRAME`, checked by the writer (a frame that is too large is
  never sent: the caller gets :class:`FrameTooLarge`) and by the reader (a length above it
  means the stream is corrupt).
- **whole frames.** :class:`FrameWriter` writes from a thread of its own, so a
  ``KeyboardInterrupt`` in the caller (Ctrl-C, Jupyter's "interrupt kernel") can never cut a
  frame in half and desynchronise the pipe.
"""

from __future__ import annotations

import io
import pickle
import queue
import struct
import threading
from collections.abc import Callable
from typing import IO, Any, TypeVar

HEADER = struct.Struct(">I")
#: the largest frame either end writes or accepts
MAX_FRAME = 64 * 1024 * 1024
#: the most output ``exec_run`` returns (the rest is cut, with a marker); well under MAX_FRAME
MAX_OUTPUT = 16 * 1024 * 1024


class ProtocolEOF(EOFError):
    """The other end closed the pipe."""


class FrameTooLarge(ValueError):
    """A frame above :data:`MAX_FRAME`: refused by the writer, a corrupt stream for a reader."""


class UnsafeFrame(pickle.UnpicklingError):
    """A frame that names a Python global (a class or function): refused, never loaded."""


class PlainUnpickler(pickle.Unpickler):
    """Loads plain data and nothing else: every ``find_class`` is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise UnsafeFrame(
            f"refused a frame that loads {module}.{name}: the lab's pipe carries plain data "
            "only (something inside the sandbox wrote to it)"
        )


def encode(obj: Any) -> bytes:
    """One frame (header + pickle); raise :class:`FrameTooLarge` above :data:`MAX_FRAME`."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if len(data) > MAX_FRAME:
        raise FrameTooLarge(
            f"a message of {len(data)} bytes is larger than the pipe's limit of {MAX_FRAME}"
        )
    return HEADER.pack(len(data)) + data


def decode(data: bytes) -> Any:
    """The plain data in one frame's payload (see :class:`PlainUnpickler`)."""
    return PlainUnpickler(io.BytesIO(data)).load()


def read_frame(stream: IO[bytes]) -> Any:
    """Read one frame; raise :class:`ProtocolEOF` at end of stream, :class:`FrameTooLarge`
    or :class:`UnsafeFrame` on a corrupt or hostile one."""
    head = _read_exact(stream, HEADER.size)
    (size,) = HEADER.unpack(head)
    if size > MAX_FRAME:
        raise FrameTooLarge(f"frame of {size} bytes is larger than the limit of {MAX_FRAME}")
    return decode(_read_exact(stream, size))


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise ProtocolEOF("pipe closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class _Job:
    __slots__ = ("data", "done", "error")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.done = threading.Event()
        self.error: BaseException | None = None


class FrameWriter:
    """Writes whole frames to a stream from many threads.

    In the notebook (``threaded=True``) the bytes are written by one writer thread, so an
    exception raised in a caller while it waits (``KeyboardInterrupt``) leaves the frame
    whole: the write finishes anyway. The lab daemon, which no Ctrl-C reaches, writes in the
    calling thread under a lock (``threaded=False``): two thread switches fewer per reply.
    """

    def __init__(self, stream: IO[bytes], threaded: bool = True) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name="labkit-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                self._stream.write(job.data)
                self._stream.flush()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                job.error = exc
            job.done.set()

    def write(self, obj: Any) -> None:
        """Encode ``obj`` and write it as one frame; raise what the write raised."""
        data = encode(obj)
        if self._thread is None:
            with self._lock:
                self._stream.write(data)
                self._stream.flush()
            return
        job = _Job(data)
        self._jobs.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error

    def close(self) -> None:
        """Stop the writer thread (frames already queued are written first)."""
        self._jobs.put(None)


class RpcSpec:
    """How the daemon runs one method: on the serial (netlink) worker or a thread of its own,
    and whether it needs a started lab."""

    __slots__ = ("serial", "needs_lab")

    def __init__(self, serial: bool, needs_lab: bool) -> None:
        self.serial = serial
        self.needs_lab = needs_lab


_F = TypeVar("_F", bound=Callable[..., Any])


def rpc(*, serial: bool, needs_lab: bool = True) -> Callable[[_F], _F]:
    """Declare a daemon method callable over the pipe (the method table is built from these).

    ``serial=True`` runs it on the one netlink worker thread, in arrival order (pyroute2
    sockets are not shared between threads); ``serial=False`` on a thread of its own, so a
    server started by ``exec_run`` does not block other calls.
    """

    def mark(fn: _F) -> _F:
        fn.__labkit_rpc__ = RpcSpec(serial, needs_lab)  # type: ignore[attr-defined]
        return fn

    return mark


def method_table(cls: type) -> dict[str, RpcSpec]:
    """The methods of ``cls`` declared with :func:`rpc`, by name."""
    table: dict[str, RpcSpec] = {}
    for name in dir(cls):
        spec = getattr(getattr(cls, name, None), "__labkit_rpc__", None)
        if isinstance(spec, RpcSpec):
            table[name] = spec
    return table
