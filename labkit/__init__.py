"""labkit: a tiny Docker daemon in a sandbox, for learning how Docker networks containers.

```python
from labkit import Lab
with Lab(profile="article") as lab:
    c1 = lab.run("c1")
    print(c1.exec_run("route -n").output)
```
"""

from labkit.client.lab import ContainerCollection, Lab
from labkit.client.models import Container, ExecResult, Host, Node, Outside
from labkit.errors import (
    Conflict,
    DaemonDied,
    InvalidArgument,
    InvalidName,
    InvalidSubnet,
    LabClosed,
    LabkitError,
    MissingTool,
    NoPrivileges,
    NotFound,
    SubnetExhausted,
)

__version__ = "0.1.0"

__all__ = [
    "Lab",
    "Container",
    "ContainerCollection",
    "ExecResult",
    "Host",
    "Node",
    "Outside",
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
]
