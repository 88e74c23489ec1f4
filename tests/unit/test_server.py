"""The daemon's dispatch, run in-process on real pipes (no lab needed)."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from labkit import errors, protocol
from labkit.daemon.server import Daemon, serve
from labkit.protocol import rpc


class _TestDaemon(Daemon):
    """A daemon with a pretend host, and methods that misbehave on purpose."""

    def __init__(self) -> None:
        super().__init__()
        self.host = object()

    @rpc(serial=True)
    def unpicklable(self) -> Any:
        return lambda: None

    @rpc(serial=True)
    def fine(self) -> str:
        return "still serving"

    @rpc(serial=False)
    def huge(self) -> bytes:
        return b"h" * (protocol.MAX_FRAME + 1)

    @rpc(serial=True)
    def oserror(self) -> None:
        raise FileExistsError(17, "File exists")

    def close(self) -> None:
        pass


@pytest.fixture
def daemon_pipe():  # type: ignore[no-untyped-def]
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    inp, out = os.fdopen(req_r, "rb"), os.fdopen(rep_w, "wb")
    thread = threading.Thread(target=serve, args=(inp, out, _TestDaemon()), daemon=True)
    thread.start()
    to_daemon = protocol.FrameWriter(os.fdopen(req_w, "wb"))
    from_daemon = os.fdopen(rep_r, "rb")

    def call(rid: int, method: str, *args: Any) -> tuple[int, bool, Any]:
        to_daemon.write((rid, method, args, {}))
        return protocol.read_frame(from_daemon)  # type: ignore[no-any-return]

    yield call
    to_daemon.close()


def test_an_unpicklable_reply_becomes_an_error_and_the_worker_lives(daemon_pipe) -> None:  # type: ignore[no-untyped-def]
    rid, ok, value = daemon_pipe(1, "unpicklable")
    assert (rid, ok) == (1, False)
    assert value[0] == "LabkitError" and "cannot be sent" in value[1]
    assert daemon_pipe(2, "fine") == (2, True, "still serving")


def test_a_reply_above_the_limit_becomes_an_error(daemon_pipe) -> None:  # type: ignore[no-untyped-def]
    rid, ok, value = daemon_pipe(3, "huge")
    assert not ok and "limit" in value[1]


def test_unknown_and_undeclared_methods_are_refused(daemon_pipe) -> None:  # type: ignore[no-untyped-def]
    _, ok, value = daemon_pipe(4, "nope")
    assert not ok and value == ("InvalidArgument", "unknown lab daemon call 'nope'")
    _, ok, value = daemon_pipe(5, "close")  # a method, but not declared with @rpc
    assert not ok and value[0] == "InvalidArgument"


def test_oserrors_are_translated(daemon_pipe) -> None:  # type: ignore[no-untyped-def]
    _, ok, value = daemon_pipe(6, "oserror")
    assert not ok and value[0] == "Conflict" and "already exists" in value[1]


def test_a_daemon_without_a_lab_says_so() -> None:
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    thread = threading.Thread(
        target=serve, args=(os.fdopen(req_r, "rb"), os.fdopen(rep_w, "wb")), daemon=True
    )
    thread.start()
    w = protocol.FrameWriter(os.fdopen(req_w, "wb"))
    w.write((1, "list_containers", (), {}))
    with os.fdopen(rep_r, "rb") as r:
        assert protocol.read_frame(r) == (1, False, ("InvalidArgument", "the lab is not started"))
        w.close()


@pytest.mark.parametrize(
    ("errno_", "cls", "words"),
    [
        (17, errors.Conflict, "already exists"),
        (19, errors.NotFound, "no such device"),
        (2, errors.NotFound, "no such object"),
        (3, errors.NotFound, "no such process"),
        (1, errors.KernelError, "permission denied by the kernel"),
        (13, errors.KernelError, "labkit doctor"),
        (22, errors.KernelError, "ip link add x"),
    ],
)
def test_from_oserror(errno_: int, cls: type, words: str) -> None:
    e = errors.from_oserror(OSError(errno_, os.strerror(errno_)), "ip link add x")
    assert type(e) is cls and words in str(e) and "ip link add x" in str(e)


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (0, "exit status 0"),
        (3, "exit status 3"),
        (-9, "killed by SIGKILL"),
        (247, "killed by SIGKILL"),
        (137, "killed by SIGKILL"),
        (-15, "killed by SIGTERM"),
        (None, "still running"),
    ],
)
def test_describe_exit(code: int | None, words: str) -> None:
    assert words in errors.describe_exit(code)


def test_the_client_stub_matches_the_method_table() -> None:
    """``lab.api`` has exactly one method per ``@rpc`` call of the daemon, same parameters."""
    import inspect

    from labkit.client.api import LabAPI
    from labkit.daemon.server import METHODS

    stub = {n for n, f in vars(LabAPI).items() if callable(f) and not n.startswith("_")}
    assert stub == set(METHODS)
    for name in METHODS:
        theirs = list(inspect.signature(getattr(Daemon, name)).parameters)[1:]
        ours = list(inspect.signature(getattr(LabAPI, name)).parameters)[1:]
        assert ours == theirs, name
