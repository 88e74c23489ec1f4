"""Checks of the arguments a notebook passes to ``exec_run`` (pure logic, no privileges).

Each check raises :class:`labkit.errors.InvalidArgument` saying what was wrong and how to
write it instead; the client runs them before anything is sent, the daemon again on receipt.
"""

from __future__ import annotations

import math
import shlex
from typing import Any

from labkit.errors import InvalidArgument


def split_command(cmd: object) -> list[str]:
    """A command as an argv list: a string is split like a shell word list (no shell runs).

    Similar to what ``docker exec CONTAINER CMD...`` receives.
    """
    if isinstance(cmd, str):
        try:
            argv = shlex.split(cmd)
        except ValueError as exc:
            raise InvalidArgument(
                f"cannot split the command {cmd!r}: {exc} (close the quote, or pass a list "
                "such as ['sh', '-c', '...'])"
            ) from None
    elif isinstance(cmd, (list, tuple)) and all(isinstance(a, str) for a in cmd):
        argv = list(cmd)
    else:
        raise InvalidArgument(f"cmd must be a string or a list of strings, not {cmd!r}")
    if not argv:
        raise InvalidArgument("cmd is empty; give a command such as 'ip addr'")
    for arg in argv:
        if "\0" in arg:
            raise InvalidArgument(
                f"argument {arg!r} contains a NUL byte, which no command can receive; remove it"
            )
    return argv


def check_timeout(timeout: object) -> float | None:
    """``None`` (wait for ever) or a number of seconds, 0 or more."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise InvalidArgument(f"timeout must be a number of seconds or None, not {timeout!r}")
    if math.isnan(timeout) or timeout < 0:
        raise InvalidArgument(f"timeout must be 0 or more seconds, not {timeout!r}")
    return float(timeout)


def check_environment(environment: object) -> dict[str, str]:
    """``{"NAME": "value"}`` with string names and values, like docker-py's ``environment``."""
    if environment is None:
        return {}
    if not isinstance(environment, dict):
        raise InvalidArgument(
            f"environment must be a dict of strings like {{'LANG': 'C'}}, not {environment!r}"
        )
    out: dict[str, str] = {}
    for key, value in environment.items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            raise InvalidArgument(
                f"environment name {key!r} must be a non-empty string without '=' or NUL"
            )
        if not isinstance(value, str) or "\0" in value:
            raise InvalidArgument(
                f"environment[{key!r}] must be a string without NUL, not {value!r} "
                f"(write str({value!r}))"
            )
        out[key] = value
    return out


def check_bool(value: Any, what: str) -> bool:
    """A real ``True``/``False`` (not 1, not "yes")."""
    if not isinstance(value, bool):
        raise InvalidArgument(f"{what} must be True or False, not {value!r}")
    return value
