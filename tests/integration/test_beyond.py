"""Beyond the article: published ports, user-defined networks with names, isolation, icc."""

from __future__ import annotations

import pytest

from labkit import Conflict, InvalidArgument, Lab, NotFound
from labkit.core.dns import build_query, parse_answer

pytestmark = pytest.mark.lab

WHOAMI = ["python3", "-m", "labkit.apps.whoami"]


def ask(node, ip: str, port: int) -> str:  # type: ignore[no-untyped-def]
    r = node.exec_run([*WHOAMI, "ask", ip, str(port)], timeout=10)
    return r.output.strip()


@pytest.fixture
def web_lab(can_lab: None):  # type: ignore[no-untyped-def]
    with Lab(profile="modern", seed=21) as lab:
        web = lab.run("web", ports={"80/tcp": 8080})
        web.exec_run([*WHOAMI, "80"], detach=True)
        # wait until the server listens (a real check, not a sleep)
        for _ in range(50):
            if "you are" in ask(web, "127.0.0.1", 80):
                break
        else:
            pytest.fail("the whoami server in 'web' never answered on port 80")
        yield lab


def test_published_port_rules_as_docker_writes_them(web_lab: Lab) -> None:
    nat = web_lab.host.exec_run("iptables -t nat -S DOCKER").output.splitlines()
    assert (
        "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination "
        "172.17.0.2:80" in nat
    )
    flt = web_lab.host.exec_run("iptables -S DOCKER").output.splitlines()
    assert (
        "-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT"
        in flt
    )
    ps = web_lab.host.exec_run("ps -eo args").output
    assert "-host-port 8080 -container-ip 172.17.0.2 -container-port 80" in ps


def test_outside_client_keeps_its_address(web_lab: Lab) -> None:
    answer = ask(web_lab.outside, web_lab.host.ip, 8080)
    assert answer.startswith(f"you are {web_lab.outside.router_ip}:"), answer
    ct = web_lab.host.exec_run("conntrack -L -p tcp --dport 8080").output
    assert "dst=198.51.100.73" in ct and "src=172.17.0.2" in ct  # DNAT in the table


def test_hairpin_from_another_container_goes_through_the_proxy(web_lab: Lab) -> None:
    c2 = web_lab.run("client")
    answer = ask(c2, web_lab.host.ip, 8080)
    # the DNAT rule skips traffic from docker0 (! -i docker0): the userland proxy answers,
    # so the container sees the host's docker0 address, not the client's
    assert answer.startswith(f"you are {web_lab.gateway}:"), answer


def test_rm_removes_rules_and_proxy(web_lab: Lab) -> None:
    web_lab.rm("web")
    assert "8080" not in web_lab.host.exec_run("iptables-save").output
    assert "labkit.apps.proxy" not in web_lab.host.exec_run("ps -eo args").output
    assert "no answer" in ask(web_lab.outside, web_lab.host.ip, 8080)


def test_port_conflicts_and_bad_ports(web_lab: Lab) -> None:
    with pytest.raises(Conflict, match="port is already allocated"):
        web_lab.run("web2", ports={"80/tcp": 8080})
    with pytest.raises(InvalidArgument, match="outside 1–65535"):
        web_lab.run("web3", ports={"80/tcp": 70000})
    with pytest.raises(InvalidArgument, match="tcp or udp"):
        web_lab.run("web4", ports={"80/sctp": 8081})
    assert [c.name for c in web_lab.containers.list()] == ["web"]
    other = web_lab.run("web5", ports={"80/tcp": None})
    assert other.ports == {"80/tcp": 32768}
    assert other.ip == "172.17.0.3"


def test_user_defined_networks(can_lab: None) -> None:
    with Lab(seed=22) as lab:
        app = lab.networks.create("appnet")
        assert app.subnet == "172.18.0.0/16" and app.gateway == "172.18.0.1"
        assert app.bridge == "br-" + app.id[:12]
        assert lab.networks.create("second").subnet == "172.19.0.0/16"
        a = lab.run("alpha", network="appnet")
        b = lab.run("beta", network="appnet")
        assert (a.ip, b.ip) == ("172.18.0.2", "172.18.0.3")
        assert a.gateway == "172.18.0.1"
        assert b.veth in lab.host.exec_run(f"brctl show {app.bridge}").output
        # names resolve on user-defined networks: Docker's embedded DNS at 127.0.0.11
        assert "nameserver 127.0.0.11" in b.exec_run("cat /etc/resolv.conf").output
        r = b.exec_run("ping -n -c1 -W2 alpha")
        assert r.exit_code == 0 and "172.18.0.2" in r.output, r.output
        assert "172.18.0.2" in b.exec_run("getent hosts alpha").output
        # … but not on the default bridge
        c = lab.run("gamma")
        assert c.exec_run("getent hosts alpha").exit_code != 0
        # names of the outside world are forwarded upstream (the lab's own resolver)
        assert "203.0.113.10" in b.exec_run("getent hosts www.example.com").output
        assert b.exec_run("getent hosts www.not-in-the-lab.test").exit_code != 0
        # the rules of the new bridge come first, as dockerd inserts them
        nat = lab.host.exec_run("iptables -t nat -S POSTROUTING").output.splitlines()
        masq = [line for line in nat if "MASQUERADE" in line]
        assert masq[0] == "-A POSTROUTING -s 172.19.0.0/16 ! -o br-" + (
            lab.networks.get("second").id[:12] + " -j MASQUERADE"
        )
        assert a.exec_run(["ping", "-n", "-c1", "-W2", lab.outside.ip]).exit_code == 0


def test_networks_are_isolated_and_connect_joins(can_lab: None) -> None:
    with Lab(seed=23) as lab:
        lab.networks.create("appnet")
        a = lab.run("alpha", network="appnet")
        d = lab.run("delta")  # default bridge
        assert d.exec_run(["ping", "-n", "-c1", "-W1", a.ip]).exit_code != 0
        flt = lab.host.exec_run("iptables -S DOCKER-ISOLATION-STAGE-2").output
        assert "-j DROP" in flt
        lab.networks.get("appnet").connect("delta")
        d.reload()
        assert d.networks["appnet"]["ifname"] == "eth1"
        assert d.exec_run(["ping", "-n", "-c1", "-W2", a.ip]).exit_code == 0
        # joining a user-defined network switches it to the embedded DNS, as Docker does
        assert d.exec_run("cat /etc/resolv.conf").output.startswith("nameserver 127.0.0.11")
        assert "172.18.0.2" in d.exec_run("getent hosts alpha").output
        assert "203.0.113.10" in d.exec_run("getent hosts example.com").output
        # alpha, on appnet, finds delta by name now that they share it
        assert "172.18.0.3" in a.exec_run("getent hosts delta").output
        with pytest.raises(Conflict, match="active endpoints"):
            lab.networks.get("appnet").remove()
        with pytest.raises(NotFound, match="create it with"):
            lab.run("xx", network="nope")
        lab.rm("alpha")
        lab.rm("delta")
        lab.networks.get("appnet").remove()
        assert "br-" not in lab.host.exec_run("iptables-save").output
        assert [n.name for n in lab.networks.list()] == ["bridge"]


def test_icc_false(can_lab: None) -> None:
    with Lab(icc=False, seed=24) as lab:
        c1, c2 = lab.run("c1"), lab.run("c2")
        assert (
            "-A FORWARD -i docker0 -o docker0 -j DROP"
            in lab.host.exec_run("iptables -S FORWARD").output
        )
        assert c1.exec_run(["ping", "-n", "-c1", "-W1", c2.ip]).exit_code != 0
        assert c1.exec_run(["ping", "-n", "-c1", "-W2", lab.outside.ip]).exit_code == 0


def test_outside_resolver_answers_documentation_names_only(can_lab: None) -> None:
    with Lab(seed=25) as lab:
        c = lab.run("c1")
        assert "nameserver 203.0.113.53" in c.exec_run("cat /etc/resolv.conf").output
        assert "203.0.113.10" in c.exec_run("getent hosts example.org").output
        assert c.exec_run("getent hosts www.docker.com").exit_code != 0
        # a real UDP query crossing the NAT, built by the codec and answered by the server
        script = (
            "import socket,sys;s=socket.socket(2,2);s.settimeout(2);"
            "s.sendto(bytes.fromhex(sys.argv[1]),('203.0.113.53',53));"
            "print(s.recv(512).hex())"
        )
        out = c.exec_run(["python3", "-c", script, build_query("api.example.net").hex()])
        rcode, addrs = parse_answer(bytes.fromhex(out.output.strip()))
        assert (rcode, addrs) == (0, ["203.0.113.10"])
