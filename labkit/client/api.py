"""``lab.api``: the lab daemon's calls as typed Python methods (like docker-py's ``client.api``).

One method per call the daemon declares with ``@rpc`` (:mod:`labkit.daemon.server`); a unit
test keeps the two lists equal. The models (:mod:`labkit.client.models`) use these methods
and never spell a call's name as a string. Everything here returns plain data (dicts,
lists, tuples): the models turn it into objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.client.connection import Connection


class LabAPI:
    """Low-level calls to one lab's daemon. Each waits for its reply, at most
    :attr:`labkit.client.connection.Connection.default_deadline` seconds unless noted."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _call(self, method: str, *args: Any, deadline: float | None = None, **kw: Any) -> Any:
        return self._conn.request(method, args, kw, deadline=deadline)

    # serial: run one at a time on the daemon's netlink thread ---------------------------
    def start(self, config: dict[str, Any]) -> dict[str, Any]:
        """Build the Docker host (``dockerd`` starting): docker0, NAT, the outside world.
        ``config`` is :meth:`labkit.core.config.LabConfig.to_wire`'s plain dict."""
        return dict(self._call("start", config))

    def run(self, name: str, **kwargs: Any) -> dict[str, Any]:
        """``docker run --name NAME``: the new container's attributes."""
        return dict(self._call("run", name, **kwargs))

    def rm(self, name: str) -> dict[str, Any]:
        """``docker rm -f NAME``."""
        return dict(self._call("rm", name) or {})

    def list_containers(self) -> list[dict[str, Any]]:
        """``docker ps``: attributes of every running container, in start order."""
        return list(self._call("list_containers"))

    def inspect(self, name: str) -> dict[str, Any]:
        """``docker inspect NAME`` (also ``host`` and ``outside``)."""
        return dict(self._call("inspect", name))

    def network_create(
        self,
        name: str,
        subnet: str | None = None,
        driver: str = "bridge",
        parent: str | None = None,
        gateway: str | None = None,
        ipv6: bool = False,
        subnet6: str | None = None,
    ) -> dict[str, Any]:
        """``docker network create [-d DRIVER] [--subnet S] [--gateway G] [-o parent=P]
        [--ipv6 [--subnet S6]] NAME``."""
        return dict(
            self._call("network_create", name, subnet, driver, parent, gateway, ipv6, subnet6)
        )

    def network_rm(self, name: str) -> None:
        """``docker network rm NAME``."""
        self._call("network_rm", name)

    def network_connect(
        self, name: str, container: str, ipv4_address: str | None = None
    ) -> dict[str, Any]:
        """``docker network connect [--ip A] NAME CONTAINER``."""
        return dict(self._call("network_connect", name, container, ipv4_address) or {})

    def network_disconnect(self, name: str, container: str) -> dict[str, Any]:
        """``docker network disconnect NAME CONTAINER``."""
        return dict(self._call("network_disconnect", name, container) or {})

    def network_list(self) -> list[dict[str, Any]]:
        """``docker network ls``."""
        return list(self._call("network_list"))

    def snapshot(self) -> dict[str, Any]:
        """Every namespace of the lab as the kernel has it now."""
        return dict(self._call("snapshot"))

    def sysctl(self, key: str, value: str | None = None, node: str = "host") -> str:
        """``sysctl KEY[=VALUE]`` in a node; the value (the old one when setting)."""
        return str(self._call("sysctl", key, value, node))

    def conntrack(self) -> list[dict[str, Any]]:
        """``conntrack -L`` on the host, as dicts."""
        return list(self._call("conntrack"))

    def masquerade(self, on: bool | None = None) -> bool:
        """docker0's MASQUERADE rule: present? (``on`` adds or deletes it)."""
        return bool(self._call("masquerade", on))

    # concurrent: each on a thread of its own --------------------------------------------
    def exec_run(
        self,
        node: str,
        argv: list[str],
        *,
        timeout: float | None,
        environment: dict[str, str],
        detach: bool,
    ) -> tuple[int | None, str, bool]:
        """``docker exec``: ``(exit_code, output, truncated)``; waits ``timeout`` + 60 s
        (for ever without a timeout: the command may legitimately run that long)."""
        deadline = float("inf") if timeout is None else timeout + 60
        code, output, *rest = self._call(
            "exec_run",
            node,
            argv,
            timeout=timeout,
            environment=environment,
            detach=detach,
            deadline=deadline,
        )
        return code, output, bool(rest and rest[0])

    def probe(self, node: str, op: str, kwargs: dict[str, Any]) -> Any:
        """A packet operation (``send``, ``send_many``, ``sr1``, ``ping``) in a node's agent;
        waits the usual deadline plus the operation's own waiting (``timeout`` × ``count``)."""
        waits = float(kwargs.get("timeout") or 0) * max(1, int(kwargs.get("count") or 1))
        deadline = self._conn.default_deadline + waits
        return self._call("probe", node, op, kwargs, deadline=deadline)

    def capture_start(self, points: list[str], match: dict[str, Any] | None = None) -> int:
        """Start sniffers at ``"node:ifname"`` points; a handle for :meth:`capture_stop`."""
        return int(self._call("capture_start", points, match))

    def capture_stop(self, handle: int) -> dict[str, Any]:
        """Stop a capture: ``{"frames": {...}, "failed": {...}, "drops": {...}}``."""
        return dict(self._call("capture_stop", handle))

    def probe_timings(self) -> dict[str, float]:
        """Agent readiness per node, in ms."""
        return dict(self._call("probe_timings"))

    def probe_info(self) -> dict[str, Any]:
        """Each running agent's pid, interfaces and scapy version (None: not imported)."""
        return dict(self._call("probe_info"))
