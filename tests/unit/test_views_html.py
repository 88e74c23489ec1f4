"""Unit tests for labkit.views.html (HTML tables) and labkit.views.classic (the article's
classic tool output)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from labkit.views import (
    brctl_text,
    conntrack_html,
    ifconfig_text,
    node_html,
    routes_text,
    snapshot_html,
)

EXAMPLE = Path(__file__).with_name("snapshot_example.json")
VOID = {"br", "hr", "img", "meta", "link", "input", "wbr"}


@pytest.fixture
def snap() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())


class _Checker(HTMLParser):
    """Collects tags, text, and whether open/close tags balance."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert checker.errors == []
    assert checker.stack == []
    return checker


# --------------------------------------------------------------------------- HTML


def test_snapshot_html_is_well_formed_and_self_contained(snap: dict[str, Any]) -> None:
    html = snapshot_html(snap)
    checker = parse(html)
    assert not checker.tags & {"style", "link", "script"}
    assert "class=" not in html
    text = "".join(checker.text)
    for needle in [
        "docker0",
        "172.17.42.1/16",
        "56:84:7a:fe:97:99",
        "vethbe8a6db",
        "172.17.0.3/16",
        "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
        "net.ipv4.ip_forward",
        "203.0.113.53/24",
    ]:
        assert needle in text, needle
    # Host first, then containers, then the outside world.
    assert text.index("Docker host") < text.index("c1") < text.index("c2")
    assert text.index("c2") < text.index("outside world")


def test_hostile_ifname_is_escaped(snap: dict[str, Any]) -> None:
    snap["nodes"]["host"]["links"].append(
        {
            "index": 99,
            "ifname": "<b>evil",
            "kind": "<script>",
            "mac": "aa:bb:cc:dd:ee:ff",
            "mtu": 1500,
            "up": True,
            "oper": "UP",
            "master": None,
            "peer_index": None,
            "promisc": False,
        }
    )
    snap["nodes"]["host"]["addrs"].append(
        {"ifname": "<b>evil", "address": "10.0.0.1", "prefixlen": 8, "family": 4}
    )
    for html in (snapshot_html(snap), node_html(snap, "host")):
        assert "<b>evil" not in html
        assert "<script>" not in html
        assert "&lt;b&gt;evil" in html
        assert "<b>evil" in "".join(parse(html).text)


def test_node_html(snap: dict[str, Any]) -> None:
    html = node_html(snap, "c1")
    text = "".join(parse(html).text)
    assert "172.17.0.2/16" in text and "02:42:ac:11:00:02" in text
    assert "host:vethbe8a6db" in text  # where its eth0 is wired to
    assert "172.17.42.1" in text  # default gateway / neighbour
    assert "docker0" not in text.replace("host:vethbe8a6db", "")  # only c1's own data
    host = "".join(parse(node_html(snap, "host")).text)
    assert "learned" in host and "02:42:ac:11:00:03" in host  # bridge fdb
    with pytest.raises(KeyError):
        node_html(snap, "nope")


def test_conntrack_shows_the_masquerade_rewrite(snap: dict[str, Any]) -> None:
    entries = snap["nodes"]["host"]["conntrack"]
    html = conntrack_html(entries)
    text = "".join(parse(html).text)
    assert "172.17.0.2 → 203.0.113.10" in text  # original
    assert "203.0.113.10 → 198.51.100.73" in text  # reply, to the uplink
    assert "source NAT" in text and "172.17.0.2 → 198.51.100.73" in text
    # The rewritten reply destination is highlighted.
    highlighted = re.findall(r'<span style="[^"]*background[^"]*"><span[^>]*>([^<]*)</span>', html)
    assert "198.51.100.73" in highlighted
    assert "172.17.0.2" not in highlighted and "203.0.113.10" not in highlighted
    # It is part of the whole snapshot's view too.
    assert "source NAT" in "".join(parse(snapshot_html(snap)).text)


def test_conntrack_without_nat_and_with_dnat() -> None:
    plain = {
        "proto": "tcp",
        "orig": {"src": "172.17.0.2", "dst": "172.17.0.3", "sport": 40000, "dport": 80},
        "reply": {"src": "172.17.0.3", "dst": "172.17.0.2", "sport": 80, "dport": 40000},
        "state": "ESTABLISHED",
        "nat": False,
    }
    text = "".join(parse(conntrack_html([plain])).text)
    assert "NAT" in text and "none" in text and "source NAT" not in text
    assert "172.17.0.2:40000 → 172.17.0.3:80" in text and "ESTABLISHED" in text
    published = {
        "proto": "tcp",
        "orig": {"src": "198.51.100.1", "dst": "198.51.100.73", "sport": 5555, "dport": 8080},
        "reply": {"src": "172.17.0.2", "dst": "198.51.100.1", "sport": 80, "dport": 5555},
        "state": "SYN_SENT",
        "nat": True,
    }
    text = "".join(parse(conntrack_html([published])).text)
    assert "destination NAT: 198.51.100.73:8080 → 172.17.0.2:80" in text
    assert "source NAT" not in text
    assert "no conntrack entries" in conntrack_html([])


# --------------------------------------------------------------------------- text forms


def test_routes_text_columns(snap: dict[str, Any]) -> None:
    lines = routes_text(snap["nodes"]["host"]).splitlines()
    assert lines[0] == "Kernel IP routing table"
    header = lines[1]
    names = ["Destination", "Gateway", "Genmask", "Flags", "Metric", "Ref", "Use", "Iface"]
    assert header.split() == names
    cols = {name: header.index(name) for name in ("Gateway", "Genmask", "Flags", "Metric")}
    assert (cols["Gateway"], cols["Genmask"], cols["Flags"], cols["Metric"]) == (16, 32, 48, 54)
    default, bridge, uplink_net = lines[2:5]
    assert default[: cols["Gateway"]].strip() == "0.0.0.0"
    assert default[cols["Gateway"] : cols["Genmask"]].strip() == "198.51.100.1"
    assert default[cols["Genmask"] : cols["Flags"]].strip() == "0.0.0.0"
    assert default[cols["Flags"] : cols["Metric"]].strip() == "UG"
    assert default.split()[-1] == "eth0"
    assert bridge[cols["Genmask"] : cols["Flags"]].strip() == "255.255.0.0"
    assert bridge[cols["Flags"] : cols["Metric"]].strip() == "U"
    assert bridge.split()[-1] == "docker0"
    assert uplink_net[cols["Genmask"] : cols["Flags"]].strip() == "255.255.255.0"
    # Every value column lines up under its header (Use is right-aligned under "Use").
    use_end = header.index("Use") + len("Use")
    for row in lines[2:]:
        assert row[use_end - 1] == "0" and row[use_end] == " "
        assert row[header.index("Iface") :].strip() == row.split()[-1]


def test_routes_text_matches_the_article_inside_a_container(snap: dict[str, Any]) -> None:
    article = [
        "Kernel IP routing table",
        "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface",
        "default         172.17.42.1     0.0.0.0         UG    0      0        0 eth0",
        "172.17.0.0      *               255.255.0.0     U     0      0        0 eth0",
    ]
    assert routes_text(snap["nodes"]["c1"], numeric=False).splitlines() == article


def test_routes_text_host_route_and_metric() -> None:
    info = {
        "routes": [
            {"dst": "10.1.2.3/32", "gateway": "10.0.0.1", "dev": "eth1", "metric": 100},
        ]
    }
    row = routes_text(info).splitlines()[2]
    assert row.split() == [
        "10.1.2.3",
        "10.0.0.1",
        "255.255.255.255",
        "UGH",
        "100",
        "0",
        "0",
        "eth1",
    ]


def test_brctl_text_matches_the_article(snap: dict[str, Any]) -> None:
    host = snap["nodes"]["host"]
    lines = brctl_text(host).splitlines()
    assert lines[0] == "bridge name     bridge id               STP enabled     interfaces"
    assert lines[1] == "docker0         8000.56847afe9799       no              veth1c58b2d"
    assert lines[2] == " " * 56 + "vethbe8a6db"
    # With only the article's first container, exactly the article's line.
    for lk in host["links"]:
        if lk["ifname"] == "veth1c58b2d":
            lk["master"] = None
    assert brctl_text(host).splitlines()[1] == (
        "docker0         8000.56847afe9799       no              vethbe8a6db"
    )
    # Before any container: no interfaces column.
    for lk in host["links"]:
        lk["master"] = None
    assert brctl_text(host).splitlines()[1] == "docker0         8000.56847afe9799       no"
    assert brctl_text(snap["nodes"]["c1"]).splitlines()[1:] == []


def test_ifconfig_text_matches_the_article(snap: dict[str, Any]) -> None:
    host = snap["nodes"]["host"]
    # The article's docker0 had no broadcast set; a snapshot may carry the kernel's value.
    for a in host["addrs"]:
        if a["ifname"] == "docker0" and a["family"] == 4:
            a["broadcast"] = "0.0.0.0"
    text = ifconfig_text(host)
    lines = text.splitlines()
    assert "docker0   Link encap:Ethernet  HWaddr 56:84:7A:FE:97:99" in lines
    assert "          inet addr:172.17.42.1  Bcast:0.0.0.0  Mask:255.255.0.0" in lines
    assert "eth0      Link encap:Ethernet  HWaddr 06:D8:0E:5D:B8:C9" in lines
    assert "          inet addr:198.51.100.73  Bcast:198.51.100.255  Mask:255.255.255.0" in lines
    assert "lo        Link encap:Local Loopback" in lines
    assert "          inet addr:127.0.0.1  Mask:255.0.0.0" in lines
    assert "vethbe8a6db Link encap:Ethernet  HWaddr E6:B0:26:46:48:C6" in lines
    assert "          inet6 addr: fe80::e4b0:26ff:fe46:48c6/64 Scope:Link" in lines
    # Sorted by name like net-tools, one blank line between interfaces.
    heads = [ln.split()[0] for ln in lines if ln and not ln.startswith(" ")]
    assert heads == ["docker0", "eth0", "lo", "veth1c58b2d", "vethbe8a6db"]
    assert text.count("\n\n") == len(heads) - 1
    c1 = ifconfig_text(snap["nodes"]["c1"]).splitlines()
    assert "eth0      Link encap:Ethernet  HWaddr 02:42:AC:11:00:02" in c1
    assert "          inet addr:172.17.0.2  Bcast:172.17.255.255  Mask:255.255.0.0" in c1


def test_ifconfig_flags_follow_link_state(snap: dict[str, Any]) -> None:
    host = snap["nodes"]["host"]
    for lk in host["links"]:
        if lk["ifname"] == "veth1c58b2d":
            lk.update(up=False, oper="DOWN")
    text = ifconfig_text(host)
    block = text.split("veth1c58b2d ", 1)[1].split("\n\n", 1)[0]
    assert "          BROADCAST MULTICAST  MTU:1500  Metric:1" in block.splitlines()
    assert "UP LOOPBACK RUNNING  MTU:65536  Metric:1" in text
    world = ifconfig_text(snap["nodes"]["outside"])
    assert "UP BROADCAST RUNNING NOARP  MTU:1500  Metric:1" in world
    # Like ifconfig, only the first IPv4 address of an interface shows.
    assert "203.0.113.10" in world and "203.0.113.53" not in world


def test_capture_shows_the_merged_table_open_and_the_points_collapsed() -> None:
    from test_capture import nat_capture  # the NAT capture of tests/unit/test_capture.py

    from labkit.packets.capture import Capture

    page = nat_capture()._repr_html_()
    merged = page.index("Same packet across points")
    assert page.rfind("<details open>", 0, merged) > page.rfind("</details>", 0, merged)
    per_point = page[page.index("</details>", merged) :]
    assert per_point.count("<details>") == 2 and "<details open>" not in per_point
    single = Capture({"c1:eth0": nat_capture().frames("c1:eth0")})._repr_html_()
    assert "<details open><summary><b>c1:eth0</b>" in single  # nothing to merge: open


def test_capture_and_conntrack_words_follow_the_language() -> None:
    from test_capture import nat_capture

    from labkit.i18n import using

    en = nat_capture()._repr_html_()
    with using("ja"):
        ja = nat_capture()._repr_html_()
        table = conntrack_html([])
    assert "Same packet across points" in en and "同じパケットを各地点で" not in en
    assert "同じパケットを各地点で" in ja and "<b>キャプチャ</b>" in ja
    assert "Same packet across points" not in ja
    # the packets are the same: addresses and the highlighted rewrite
    assert '<span class="chg">198.51.100.73:40001</span>' in ja
    assert "conntrack エントリなし" in table
