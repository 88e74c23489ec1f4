"""Packets in a lab: describe them in the notebook, send and capture them in namespaces.

* :func:`describe` / :func:`rebuild` (:mod:`labkit.packets.wire`) carry a scapy packet to
  a probe agent without building it in the notebook.
* :class:`Capture` (:mod:`labkit.packets.capture`) shows what capture points saw.
* :mod:`labkit.packets.agent` is the probe agent, :mod:`labkit.packets.agentclient` its
  daemon-side client.

Names are loaded lazily, so importing :mod:`labkit.packets.agentclient` (the daemon) does
not import scapy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from labkit.packets.capture import Capture
    from labkit.packets.wire import describe, rebuild

__all__ = ["Capture", "describe", "rebuild"]

_WHERE = {
    "Capture": "labkit.packets.capture",
    "describe": "labkit.packets.wire",
    "rebuild": "labkit.packets.wire",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labkit.packets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
