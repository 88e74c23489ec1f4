"""Every error labkit raises, in one tree.

```
LabkitError                      base class: catch this to catch them all
 ├── InvalidArgument             bad input (a name, a subnet, a capture point) — nothing changed
 │    ├── InvalidName            not Docker's rule [a-zA-Z0-9][a-zA-Z0-9_.-]+
 │    └── InvalidSubnet          not an IPv4 network with room for a gateway and a container
 ├── NotFound                    no such container / network / node / interface
 ├── Conflict                    a name already in use
 ├── SubnetExhausted             no free address left (the message names the subnet)
 ├── EnvironmentProblem          this machine cannot run labs yet (and how to fix it)
 │    ├── MissingTool            a program is missing (the message names the Debian package)
 │    ├── NoPrivileges           neither rootless nor root sandboxes are allowed here
 │    └── RegistryUnsafe         the lab registry directory is not safely this user's own
 ├── LabClosed                   the lab was closed (or never opened)
 ├── DaemonDied                  the lab daemon exited; carries its last words
 ├── DaemonTimeout               the lab daemon did not answer in time (stopped? overloaded?)
 └── KernelError                 the kernel refused an operation (errno and what was tried)
```

The daemon raises these same classes; the protocol carries the class name and message
back, so a notebook sees exactly what the daemon saw. Low-level errors (netlink EEXIST,
ENODEV, EPERM, …) are translated in one place: :func:`from_oserror`.
"""

from __future__ import annotations

import errno as _errno


class LabkitError(Exception):
    """Base class of every labkit error."""


class InvalidArgument(LabkitError, ValueError):
    """The input was wrong; the lab is unchanged."""


class InvalidName(InvalidArgument):
    """A container or network name that Docker would refuse."""


class InvalidSubnet(InvalidArgument):
    """A subnet labkit cannot use for a bridge network."""


class NotFound(LabkitError, LookupError):
    """No such container, network, node or interface."""


class Conflict(LabkitError):
    """The name is already in use in this lab."""


class SubnetExhausted(LabkitError):
    """Every address of the subnet is taken."""


class EnvironmentProblem(LabkitError):
    """This machine cannot run a lab as it is; the message says how to fix it."""


class MissingTool(EnvironmentProblem):
    """A required program is not installed."""

    def __init__(self, tool: str, package: str) -> None:
        self.tool = tool
        self.package = package
        super().__init__(
            f"'{tool}' is not installed. Install it with: sudo apt-get install {package}"
        )


class NoPrivileges(EnvironmentProblem):
    """Neither an unprivileged user namespace nor root is available."""


class RegistryUnsafe(EnvironmentProblem):
    """The lab registry directory, or a record in it, is not safely this user's own."""


class LabClosed(LabkitError):
    """The lab is closed; open a new one with ``Lab()``."""


class DaemonDied(LabkitError):
    """The lab daemon exited. ``last_words`` holds the end of what it printed."""

    def __init__(self, message: str, last_words: str = "") -> None:
        self.last_words = last_words
        text = message
        if last_words.strip():
            text += "\n--- last words of the lab daemon ---\n" + last_words.strip()
        super().__init__(text)


class DaemonTimeout(LabkitError, TimeoutError):
    """The lab daemon did not answer a call before its deadline."""


class KernelError(LabkitError, OSError):
    """The kernel refused an operation."""


_ERRNO_HINTS = {
    _errno.EEXIST: (Conflict, "already exists"),
    _errno.ENODEV: (NotFound, "no such device"),
    _errno.ENOENT: (NotFound, "no such object"),
    _errno.ESRCH: (NotFound, "no such process or route"),
}


def from_oserror(exc: OSError, doing: str) -> LabkitError:
    """Translate a low-level error (netlink or syscall) into a labkit error.

    ``doing`` says what was being tried, e.g. ``"ip link add docker0 type bridge"``.
    """
    code = exc.errno if isinstance(exc.errno, int) else getattr(exc, "code", None)
    if code in _ERRNO_HINTS:
        cls, what = _ERRNO_HINTS[code]
        return cls(f"{doing}: {what} ({exc})")
    if code in (_errno.EPERM, _errno.EACCES):
        return KernelError(
            f"{doing}: permission denied by the kernel ({exc}). Run `labkit doctor` to see "
            "what this machine allows."
        )
    return KernelError(f"{doing}: {exc}")


def describe_exit(code: int | None) -> str:
    """A process's exit as words: ``exit status 3``, ``killed by SIGKILL``.

    ``code`` is a ``Popen.returncode``: negative for a signal. A lab's sandbox reports its
    daemon's death by a signal the way its pid 1 saw it, ``256 - signal`` (SIGKILL → 247),
    or the shell's ``128 + signal``; both are named.
    """
    import signal

    def name(n: int) -> str:
        try:
            return signal.Signals(n).name
        except ValueError:
            return f"signal {n}"

    if code is None:
        return "still running"
    if code < 0:
        return f"killed by {name(-code)}"
    if 256 - 64 < code <= 255:
        return f"killed by {name(256 - code)} (exit status {code})"
    if 128 < code <= 128 + 64:
        return f"killed by {name(code - 128)} (exit status {code})"
    return f"exit status {code}"


# Names the protocol may carry back from the daemon.
BY_NAME: dict[str, type[LabkitError]] = {
    cls.__name__: cls
    for cls in (
        LabkitError,
        InvalidArgument,
        InvalidName,
        InvalidSubnet,
        NotFound,
        Conflict,
        SubnetExhausted,
        EnvironmentProblem,
        NoPrivileges,
        RegistryUnsafe,
        LabClosed,
        DaemonTimeout,
        KernelError,
    )
}

__all__ = [
    "LabkitError",
    "InvalidArgument",
    "InvalidName",
    "InvalidSubnet",
    "NotFound",
    "Conflict",
    "SubnetExhausted",
    "EnvironmentProblem",
    "MissingTool",
    "NoPrivileges",
    "RegistryUnsafe",
    "LabClosed",
    "DaemonDied",
    "DaemonTimeout",
    "KernelError",
    "describe_exit",
    "from_oserror",
]
