"""``docker run --ip`` and ``docker network connect --ip``: the address a container asks for,
only where Docker allows it (checked against dockerd 20.10 in tests/oracle)."""

from __future__ import annotations

import pytest

from labkit import Conflict, InvalidArgument, InvalidSubnet, Lab

pytestmark = pytest.mark.lab


def test_run_and_connect_with_an_address_of_ones_own(can_lab: None) -> None:
    with Lab(seed=17) as lab:
        fixed = lab.networks.create("fixed", subnet="10.30.0.0/24")
        lab.networks.create("pooled")
        web = lab.run("web", network="fixed", ip="10.30.0.50")
        assert web.ip == "10.30.0.50"
        assert "inet 10.30.0.50/24 brd 10.30.0.255" in web.exec_run("ip addr show eth0").output
        assert lab.run("next", network="fixed").ip == "10.30.0.2"  # the pool goes on from .2
        c1 = lab.run("c1")
        fixed.connect(c1, ipv4_address="10.30.0.60")
        assert c1.exec_run("ip -4 -o addr show eth1").output.split()[3] == "10.30.0.60/24"
        assert web.ping("10.30.0.60")
        before = sorted(c.name for c in lab.containers.list())
        bad = [
            ({"ip": "172.17.0.50"}, InvalidArgument, "user defined networks only"),
            ({"network": "pooled", "ip": "172.18.0.50"}, InvalidArgument,
             "user configured subnets"),
            ({"network": "fixed", "ip": "10.30.0.50"}, Conflict, "Address already in use"),
            ({"network": "fixed", "ip": "10.30.0.1"}, Conflict, "Address already in use"),
            ({"network": "fixed", "ip": "10.99.0.5"}, InvalidSubnet, "does not belong"),
            ({"network": "fixed", "ip": "banana"}, InvalidArgument, "invalid IPv4 address"),
            ({"network": "none", "ip": "10.30.0.9"}, InvalidArgument, "ip= is built for"),
        ]
        for kwargs, err, words in bad:
            with pytest.raises(err, match=words):
                lab.run("x9", **kwargs)  # type: ignore[arg-type]
        assert sorted(c.name for c in lab.containers.list()) == before
        assert "x9" not in lab.host.exec_run("ls /run/netns").output.split()
        lab.rm("web")
        assert lab.run("again", network="fixed", ip="10.30.0.50").ip == "10.30.0.50"
