"""``network.disconnect``: the interface goes, the address is free, the default route moves
back; bad input is refused with a clear error and leaves the lab as it was."""

from __future__ import annotations

import pytest

from labkit import Lab
from labkit.errors import Conflict, NotFound

pytestmark = pytest.mark.lab


def test_disconnect_moves_the_default_route_back(can_lab: None) -> None:
    with Lab(profile="modern", seed=4) as lab:
        c1 = lab.run("c1")
        appnet = lab.networks.create("appnet")
        appnet.connect(c1)
        assert "default via 172.18.0.1 dev eth1" in c1.exec_run("ip route").output
        appnet.disconnect(c1)
        routes = c1.exec_run("ip route").output
        assert "default via 172.17.0.1 dev eth0" in routes
        assert "eth1" not in c1.exec_run("ip -o link").output
        appnet.connect(c1)  # a new interface name; the freed address again
        assert "eth2" in c1.exec_run("ip -o link").output
        assert "inet 172.18.0.2/16 brd 172.18.255.255" in c1.exec_run("ip addr show eth2").output


def test_disconnect_refuses_bad_input_and_changes_nothing(can_lab: None) -> None:
    with Lab(profile="modern", seed=5) as lab:
        c1 = lab.run("c1")
        appnet = lab.networks.create("appnet")
        before = c1.exec_run("ip route").output
        with pytest.raises(Conflict, match="not connected to network appnet"):
            appnet.disconnect(c1)
        with pytest.raises(NotFound):
            appnet.disconnect("nosuch")
        assert c1.exec_run("ip route").output == before
        assert c1.ping("172.17.0.1").ok
