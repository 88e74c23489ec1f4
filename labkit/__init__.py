"""labkit: a tiny Docker daemon in a sandbox, for learning how Docker networks containers.

```python
from labkit import Lab
with Lab(profile="article") as lab:
    c1 = lab.run("c1")
    print(c1.exec_run("route -n").output)
```

Names are imported on first use (PEP 562), so the lab's own processes (the daemon, its
pid 1, the packet agents) import only what they need and start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Lab": "labkit.client.lab",
    "ContainerCollection": "labkit.client.lab",
    "Network": "labkit.client.models",
    "NetworkCollection": "labkit.client.lab",
    "Container": "labkit.client.models",
    "ExecResult": "labkit.client.models",
    "Host": "labkit.client.models",
    "Node": "labkit.client.models",
    "Outside": "labkit.client.models",
    "Snapshot": "labkit.client.snapshot",
    "LabkitError": "labkit.errors",
    "InvalidArgument": "labkit.errors",
    "InvalidName": "labkit.errors",
    "InvalidSubnet": "labkit.errors",
    "NotFound": "labkit.errors",
    "Conflict": "labkit.errors",
    "SubnetExhausted": "labkit.errors",
    "MissingTool": "labkit.errors",
    "NoPrivileges": "labkit.errors",
    "LabClosed": "labkit.errors",
    "DaemonDied": "labkit.errors",
    "KernelError": "labkit.errors",
    "set_language": "labkit.i18n",
    "get_language": "labkit.i18n",
}

__all__ = [
    "Lab",
    "ContainerCollection",
    "Network",
    "NetworkCollection",
    "Container",
    "ExecResult",
    "Host",
    "Node",
    "Outside",
    "Snapshot",
    "LabkitError",
    "InvalidArgument",
    "InvalidName",
    "InvalidSubnet",
    "NotFound",
    "Conflict",
    "SubnetExhausted",
    "MissingTool",
    "NoPrivileges",
    "LabClosed",
    "DaemonDied",
    "KernelError",
    "set_language",
    "get_language",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from labkit.client.lab import ContainerCollection, Lab, NetworkCollection
    from labkit.client.models import Container, ExecResult, Host, Network, Node, Outside
    from labkit.client.snapshot import Snapshot
    from labkit.errors import (
        Conflict,
        DaemonDied,
        InvalidArgument,
        InvalidName,
        InvalidSubnet,
        KernelError,
        LabClosed,
        LabkitError,
        MissingTool,
        NoPrivileges,
        NotFound,
        SubnetExhausted,
    )
    from labkit.i18n import get_language, set_language
