"""The pipe between notebook and daemon: framing, one limit, plain data only, deadlines."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import threading

import pytest

from labkit import protocol
from labkit.client.connection import Connection
from labkit.errors import DaemonDied, DaemonTimeout, InvalidArgument, NotFound


def test_frames_round_trip_plain_data() -> None:
    value = (7, True, {"a": [1, 2.5, None, b"\x00raw", ("t",)], "s": {1, 2}, "f": frozenset({3})})
    r, w = os.pipe()
    with os.fdopen(r, "rb") as rf, os.fdopen(w, "wb") as wf:
        writer = protocol.FrameWriter(wf)
        writer.write(value)
        writer.close()
        assert protocol.read_frame(rf) == value


def test_eof_is_protocol_eof() -> None:
    r, w = os.pipe()
    os.close(w)
    with os.fdopen(r, "rb") as rf, pytest.raises(protocol.ProtocolEOF):
        protocol.read_frame(rf)


@pytest.mark.parametrize("obj", [os.system, subprocess.Popen, pickle.loads, Exception("x")])
def test_a_frame_naming_a_global_is_refused(obj: object) -> None:
    data = pickle.dumps(obj)
    with pytest.raises(protocol.UnsafeFrame, match="plain data only"):
        protocol.decode(data)


def test_planted_os_system_reduce_never_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.system, (f"touch {marker}",))

    with pytest.raises(protocol.UnsafeFrame, match="posix.system|os.system"):
        protocol.decode(pickle.dumps((1, True, Evil())))
    assert not marker.exists()


def test_the_writer_refuses_a_frame_above_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "MAX_FRAME", 1000)
    with pytest.raises(protocol.FrameTooLarge, match="larger than the pipe's limit of 1000"):
        protocol.encode(b"x" * 2000)
    assert len(protocol.encode(b"x" * 10)) < 1000


def test_the_reader_refuses_a_length_above_the_limit() -> None:
    r, w = os.pipe()
    os.write(w, protocol.HEADER.pack(protocol.MAX_FRAME + 1))
    os.close(w)
    with os.fdopen(r, "rb") as rf, pytest.raises(protocol.FrameTooLarge):
        protocol.read_frame(rf)


def test_keyboard_interrupt_in_the_caller_leaves_the_frame_whole() -> None:
    """The write runs in the writer thread: an exception in the waiting caller (Ctrl-C)
    cannot cut the frame, so the next frame is still read correctly."""
    r, w = os.pipe()
    big = b"y" * (4 * 1024 * 1024)  # far beyond a pipe buffer: the write blocks
    received: list[object] = []

    with os.fdopen(r, "rb") as rf, os.fdopen(w, "wb") as wf:
        writer = protocol.FrameWriter(wf)
        job = protocol._Job(protocol.encode(big))

        class Interrupted(Exception):
            pass

        orig_wait = job.done.wait

        def wait_then_interrupt(timeout: float | None = None) -> bool:
            raise KeyboardInterrupt  # as if Ctrl-C arrived while the frame was being written

        job.done.wait = wait_then_interrupt  # type: ignore[method-assign]
        writer._jobs.put(job)
        with pytest.raises(KeyboardInterrupt):
            job.done.wait()
        reader = threading.Thread(
            target=lambda: received.extend([protocol.read_frame(rf), protocol.read_frame(rf)])
        )
        reader.start()
        orig_wait()
        writer.write("next")
        reader.join(30)
        writer.close()
    assert received == [big, "next"]


def test_rpc_table_drives_dispatch() -> None:
    from labkit.daemon.server import METHODS

    assert METHODS["start"].serial and not METHODS["start"].needs_lab
    assert METHODS["run"].serial and METHODS["run"].needs_lab
    assert not METHODS["exec_run"].serial
    assert "close" not in METHODS and "hello" not in METHODS


# --- Connection against a real child process playing the daemon ----------------------


#: the head of a fake daemon's serving loop: one request per turn until end of input
SERVE = """
while True:
    try:
        rid, method, args, kwargs = protocol.read_frame(inp)
    except protocol.ProtocolEOF:
        break
"""


def _fake_daemon(body: str) -> subprocess.Popen[bytes]:
    """A real process speaking the protocol on stdin/stdout, with ``body`` as its loop."""
    code = textwrap.dedent(
        """
        import os, pickle, signal, sys, time
        from labkit import protocol
        inp, out = sys.stdin.buffer, sys.stdout.buffer
        def reply(obj):
            out.write(protocol.encode(obj)); out.flush()
        """
    ) + textwrap.dedent(body)
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_connection_matches_replies_by_id_and_raises_labkit_errors() -> None:
    proc = _fake_daemon(
        SERVE
        + """
    if method == "boom":
        reply((rid, False, ("NotFound", "no such container: 'x'")))
    else:
        reply((rid, True, [method, list(args), kwargs]))
"""
    )
    conn = Connection(proc)
    try:
        assert conn.call("echo", 1, a=2) == ["echo", [1], {"a": 2}]
        with pytest.raises(NotFound, match="no such container"):
            conn.call("boom")
    finally:
        conn.close()
    assert proc.returncode == 0


def test_a_planted_reply_is_refused_and_fails_the_call(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    proc = _fake_daemon(
        f"""
        class Evil:
            def __reduce__(self):
                return (os.system, ("touch {marker}",))
        rid, *_ = protocol.read_frame(inp)
        reply((rid, True, Evil()))
        time.sleep(60)
        """
    )
    conn = Connection(proc)
    try:
        with pytest.raises(DaemonDied, match="refused a frame that loads"):
            conn.call("anything")
    finally:
        conn.close()
    assert not marker.exists()


def test_garbage_on_the_pipe_wakes_every_waiting_call() -> None:
    proc = _fake_daemon(
        """
        protocol.read_frame(inp); protocol.read_frame(inp)
        data = b"\\x80\\x05not a pickle at all"
        out.write(protocol.HEADER.pack(len(data)) + data); out.flush()
        time.sleep(60)
        """
    )
    conn = Connection(proc)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            conn.call("x")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    conn.close()
    assert len(errors) == 2 and all(isinstance(e, DaemonDied) for e in errors), errors


def test_a_stopped_daemon_gives_a_timeout_not_a_hang() -> None:
    proc = _fake_daemon(
        """
        protocol.read_frame(inp)
        os.kill(os.getpid(), signal.SIGSTOP)
        """
    )
    conn = Connection(proc, daemon_pid=proc.pid)
    try:
        with pytest.raises(DaemonTimeout, match="it is stopped"):
            conn.request("x", deadline=1.0)
    finally:
        conn.close(timeout=0.5)  # kills our stopped child by PID


def test_sigkill_is_named() -> None:
    proc = _fake_daemon(
        """
        protocol.read_frame(inp)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    conn = Connection(proc)
    try:
        with pytest.raises(DaemonDied, match="killed by SIGKILL"):
            conn.call("x")
    finally:
        conn.close()


def test_a_too_large_request_is_refused_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    proc = _fake_daemon(SERVE + "    reply((rid, True, len(args[0])))\n")
    conn = Connection(proc)
    try:
        monkeypatch.setattr(protocol, "MAX_FRAME", 10_000)
        with pytest.raises(InvalidArgument, match="larger than the pipe's limit"):
            conn.call("size", b"z" * 20_000)
        assert conn.call("size", b"z" * 100) == 100  # the pipe is still in step
    finally:
        conn.close()
