"""``docker run --network none | host | container:NAME``: what each mode shares, with traffic."""

from __future__ import annotations

import pytest

from labkit import InvalidArgument, Lab, NotFound

pytestmark = pytest.mark.lab

WHOAMI = ["python3", "-m", "labkit.apps.whoami"]


def ask(node, ip: str, port: int) -> str:  # type: ignore[no-untyped-def]
    return node.exec_run([*WHOAMI, "ask", ip, str(port)], timeout=10).output.strip()


def serve(node, port: int) -> None:  # type: ignore[no-untyped-def]
    node.exec_run([*WHOAMI, str(port)], detach=True)
    for _ in range(100):
        if "you are" in ask(node, "127.0.0.1", port):
            return
    raise AssertionError(f"the server in {node.name} never listened on {port}")


@pytest.fixture(scope="module")
def mlab(can_lab: None):  # type: ignore[no-untyped-def]
    with Lab(seed=13) as lab:
        yield lab


def links_of(node) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(node.exec_run("ls /sys/class/net").output.split())


def test_none_has_only_loopback(mlab: Lab) -> None:
    n1 = mlab.run("n1", network="none")
    try:
        assert links_of(n1) == ["lo"]
        assert n1.network_mode == "none" and n1.ip == ""
        hosts = n1.exec_run("cat /etc/hosts").output
        assert "127.0.0.1\tlocalhost" in hosts and n1.hostname not in hosts
        assert n1.exec_run("cat /etc/resolv.conf").output.startswith("nameserver 203.0.113.53")
        assert not n1.ping(mlab.outside.ip, timeout=0.5)
        assert "unreachable" in n1.exec_run("ping -c1 -W1 203.0.113.10").output.lower()
        serve(n1, 7000)  # loopback still works inside
    finally:
        mlab.rm("n1")


def test_container_mode_shares_the_namespace_and_the_files(mlab: Lab) -> None:
    c1 = mlab.run("c1")
    s1 = mlab.run("s1", network="container:c1")
    try:
        assert s1.network_mode == "container:c1"
        assert s1.exec_run("cat /sys/class/net/eth0/address").output.strip() == c1.mac
        assert s1.exec_run("hostname").output.strip() == c1.hostname
        assert s1.exec_run("cat /etc/hosts").output == c1.exec_run("cat /etc/hosts").output
        # a server in c1 on port 7001 answers s1 on localhost: one network stack
        serve(c1, 7001)
        assert ask(s1, "127.0.0.1", 7001).startswith("you are 127.0.0.1:")
        # and s1's packets leave with c1's address
        with mlab.capture(f"host:{c1.veth}", proto="icmp") as cap:
            assert s1.ping(mlab.outside.ip)
        assert cap[f"host:{c1.veth}"][0]["IP"].src == c1.ip
        # the namespace is listed once, under its owner
        snap = mlab.snapshot()
        assert "s1" not in snap.data["nodes"] and snap.data["shared"]["s1"]["shares"] == "c1"
        with pytest.raises(InvalidArgument, match="cannot be connected"):
            mlab.networks.create("side").connect("s1")
    finally:
        mlab.rm("s1")
        mlab.rm("c1")
        mlab.networks.get("side").remove()
    # the joiner going did not take c1's namespace with it; and c1 is really gone now
    assert "c1" not in mlab.containers


def test_removing_the_owner_leaves_the_joiners_with_lo_only(mlab: Lab) -> None:
    """As dockerd does (tests/oracle: test_rm_of_a_container_others_joined): the owner goes,
    its interfaces with it; the joiners keep one stack, with only lo, and their files."""
    c1 = mlab.run("c1")
    s1 = mlab.run("s1", network="container:c1")
    s2 = mlab.run("s2", network="container:c1")
    ip, hosts = c1.ip, s1.exec_run("cat /etc/hosts").output
    assert ip in hosts and links_of(s1) == ["eth0", "lo"]
    try:
        serve(s1, 7002)
        mlab.rm("c1")
        assert "c1" not in mlab.containers
        assert links_of(s1) == links_of(s2) == ["lo"]
        assert s1.exec_run("cat /etc/hosts").output == hosts  # unchanged, c1's line included
        assert ask(s2, "127.0.0.1", 7002).startswith("you are 127.0.0.1:")  # still one stack
        assert s1.attrs["network_mode"] == s2.attrs["network_mode"] == "container:c1"
        assert "c1" not in mlab.host.exec_run("ls /run/netns").output.split()
        snap = mlab.snapshot()
        assert [link["ifname"] for link in snap.data["nodes"]["s1"]["links"]] == ["lo"]
        assert snap.data["shared"]["s2"]["shares"] == "s1"
        with pytest.raises(InvalidArgument, match="cannot be connected"):
            mlab.networks.create("side2").connect("s1")
        assert mlab.run("c3").ip == ip  # c1's address is free again
    finally:
        for name in ("c3", "s2", "s1"):
            if name in mlab.containers:
                mlab.rm(name)
        if "side2" in [n.name for n in mlab.networks.list()]:
            mlab.networks.get("side2").remove()
    assert mlab.host.exec_run("ls /run/netns").output.split() == ["outside"]


def test_host_mode_is_the_hosts_stack(mlab: Lab) -> None:
    with pytest.warns(UserWarning, match="Published ports are discarded when using host"):
        h1 = mlab.run("h1", network="host", ports={"80/tcp": 8080})
    try:
        assert {"docker0", "eth0", "lo"} <= set(links_of(h1))
        assert h1.exec_run("hostname").output.strip() == "docker-host"
        assert "198.51.100.73\tdocker-host" in h1.exec_run("cat /etc/hosts").output
        assert h1.ports == {}
        assert "8080" not in mlab.host.exec_run("iptables -t nat -S DOCKER").output
        # a server in h1 listens on the host's own address: the outside reaches it, no NAT
        serve(h1, 7002)
        assert ask(mlab.outside, mlab.host.ip, 7002).startswith(
            f"you are {mlab.outside.router_ip}:"
        )
        # h1 sends from the host's uplink address, not a container address
        r = h1.exec_run(["ip", "route", "get", mlab.outside.ip]).output
        assert "src 198.51.100.73" in r
    finally:
        mlab.rm("h1")
    # removing h1 left the host's own namespace alone
    assert mlab.host.exec_run("ip -o link show docker0").exit_code == 0
    assert mlab.run("after").ping(mlab.outside.ip)
    mlab.rm("after")


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"network": "container:nope"}, NotFound, "No such container: nope"),
        ({"network": "container:"}, InvalidArgument, "needs a container name"),
        ({"network": "host", "links": {"base": "b"}}, InvalidArgument, "can't be used with links"),
        (
            {"network": "container:base", "ports": {"80/tcp": 8081}},
            InvalidArgument,
            "port publishing and the container type network mode",
        ),
        ({"network": "nonet"}, NotFound, "network 'nonet' not found"),
    ],
)
def test_bad_modes_are_refused_and_the_lab_stays(
    mlab: Lab, kwargs: dict, error: type, words: str
) -> None:
    base = mlab.run("base") if "base" not in mlab.containers else mlab.containers.get("base")
    before = sorted(c.name for c in mlab.containers)
    with pytest.raises(error, match=words):
        mlab.run("bad1", **kwargs)
    assert sorted(c.name for c in mlab.containers) == before
    assert base.ping(mlab.outside.ip)
    ok = mlab.run("bad1", network="none")  # the name is free: nothing was left half made
    mlab.rm(ok)
