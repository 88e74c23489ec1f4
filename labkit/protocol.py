"""The wire between a notebook (client) and its lab daemon: framed pickles over a pipe.

Each frame is a 4-byte big-endian length and a pickle. A request is
``(request_id, method, args, kwargs)``; a reply is ``(request_id, ok, value)`` where ``value``
is the result, or ``(error_class_name, message)`` when ``ok`` is false. Requests carry ids so
many threads can wait at once (a server started in one thread while another sends); the
daemon answers in whatever order calls finish. Both ends are labkit, started by the same
user, so pickle is safe here: nothing else ever writes to these pipes.
"""

from __future__ import annotations

import pickle
import struct
import threading
from typing import IO, Any

HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024


class ProtocolEOF(EOFError):
    """The other end closed the pipe."""


def read_frame(stream: IO[bytes]) -> Any:
    """Read one frame; raise :class:`ProtocolEOF` at end of stream."""
    head = _read_exact(stream, HEADER.size)
    (size,) = HEADER.unpack(head)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes is larger than the limit")
    return pickle.loads(_read_exact(stream, size))


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise ProtocolEOF("pipe closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class FrameWriter:
    """Writes whole frames to a stream from many threads (one lock per stream)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, obj: Any) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._stream.write(HEADER.pack(len(data)) + data)
            self._stream.flush()
