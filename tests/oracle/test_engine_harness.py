"""The harness itself: the engine runs, and the machine is untouched before and after."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from support.dockerd import DockerEngine, root_namespace_snapshot


def test_engine_runs_a_container_and_leaves_nothing(
    engine_factory: Callable[..., DockerEngine],
) -> None:
    before = root_namespace_snapshot()
    eng = engine_factory()
    tmp, pid1, cgroup = eng.tmp, eng.pid, eng.cgroup_parent
    assert eng.version.startswith("20.10"), eng.version
    # overlay2, or vfs with the reason when overlay2 cannot mount here (e.g. /tmp on overlayfs)
    assert eng.storage_driver == "overlay2" or (eng.storage_driver == "vfs" and eng.fallback)
    eng.docker("run", "-d", "--name", "h1", "busybox", "sleep", "1d")
    pid = eng.container_pid("h1")
    addrs = json.loads(eng.nsenter(pid, "ip", "-j", "addr", "show", "eth0").stdout)
    assert addrs[0]["addr_info"][0]["local"] == "172.17.0.2"
    host = json.loads(eng.sandbox("ip", "-j", "addr", "show", "docker0").stdout)
    assert host[0]["addr_info"][0]["local"] == "172.17.0.1"
    # the engine's uplink reaches its upstream, inside the sandbox
    assert eng.sandbox("ping", "-c1", "-W2", "198.51.100.1").returncode == 0
    assert list(Path("/sys/fs/cgroup").glob(f"*/{cgroup}"))  # containers' cgroups exist
    assert root_namespace_snapshot() == before  # during
    eng.stop()
    assert root_namespace_snapshot() == before  # after
    assert tmp is not None and not tmp.exists()
    try:
        os.kill(pid1, 0)
        alive = "\tZ" not in Path(f"/proc/{pid1}/status").read_text()
    except ProcessLookupError:
        alive = False
    assert not alive, f"the sandbox's pid 1 ({pid1}) survived"
    assert not list(Path("/sys/fs/cgroup").glob(f"*/{cgroup}"))
    assert not os.path.exists("/etc/docker/key.json")
