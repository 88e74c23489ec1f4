"""Unit tests for the pictures of notebooks 09–11 and for labels in the edition's language."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import labkit
from labkit.errors import InvalidArgument
from labkit.i18n import get_language, tr, using
from labkit.views import diagram
from labkit.views.pictures import (
    BROKEN_COLOR,
    chains_diagram,
    find_broken,
    networks_diagram,
    trouble_diagram,
)

EXAMPLE = Path(__file__).with_name("snapshot_example.json")


@pytest.fixture
def snap() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())


def two_networks(snap: dict[str, Any]) -> dict[str, Any]:
    """The example plus a user-defined network br-1 with container c3, and isolation rules."""
    s = copy.deepcopy(snap)
    host = s["nodes"]["host"]
    host["links"] += [
        {
            "index": 20,
            "ifname": "br-1",
            "kind": "bridge",
            "mac": "02:00:00:00:00:20",
            "mtu": 1500,
            "up": True,
            "oper": "UP",
            "master": None,
        },
        {
            "index": 21,
            "ifname": "veth3",
            "kind": "veth",
            "mac": "02:00:00:00:00:21",
            "mtu": 1500,
            "up": True,
            "oper": "UP",
            "master": "br-1",
        },
    ]
    host["addrs"].append({"ifname": "br-1", "family": 4, "address": "172.18.0.1", "prefixlen": 16})
    host["iptables"]["filter"] += [
        "-N DOCKER-ISOLATION-STAGE-1",
        "-A DOCKER-ISOLATION-STAGE-1 -i br-1 ! -o br-1 -j DOCKER-ISOLATION-STAGE-2",
    ]
    s["nodes"]["c3"] = {
        "kind": "container",
        "links": [
            {
                "index": 4,
                "ifname": "eth0",
                "kind": "veth",
                "mac": "02:42:ac:12:00:02",
                "mtu": 1500,
                "up": True,
                "oper": "UP",
                "master": None,
            }
        ],
        "addrs": [{"ifname": "eth0", "family": 4, "address": "172.18.0.2", "prefixlen": 16}],
        "routes": [{"dst": "default", "gateway": "172.18.0.1", "dev": "eth0"}],
    }
    s["wires"].append(
        {"a": {"node": "host", "ifname": "veth3"}, "b": {"node": "c3", "ifname": "eth0"}}
    )
    return s


def test_networks_each_bridge_with_its_containers_and_isolation(snap: dict[str, Any]) -> None:
    src = networks_diagram(two_networks(snap)).source
    assert "net_docker0 [" in src and '"net_br-1" [' in src
    assert "172.17.0.0/16" in src and "172.18.0.0/16" in src
    assert "c_c1:eth0:e -> net_docker0:w" in src
    assert 'c_c3:eth0:e -> "net_br-1":w' in src
    iso = [ln for ln in src.splitlines() if "DOCKER-ISOLATION drops it" in ln]
    assert len(iso) == 1 and BROKEN_COLOR in iso[0] and "dashed" in iso[0]


def test_networks_without_isolation_rules_draw_no_isolation(snap: dict[str, Any]) -> None:
    s = two_networks(snap)
    s["nodes"]["host"]["iptables"]["filter"] = snap["nodes"]["host"]["iptables"]["filter"]
    assert "DOCKER-ISOLATION" not in networks_diagram(s).source


def test_chains_list_the_hosts_rules_in_walk_order(snap: dict[str, Any]) -> None:
    src = chains_diagram(snap).source
    for rule in [
        "-s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
        "-i docker0 ! -o docker0 -j ACCEPT",
        "-m addrtype --dst-type LOCAL -j DOCKER",
    ]:
        assert rule in src
    assert "policy DROP" in src  # FORWARD's policy
    walk = [
        "in -> PREROUTING",
        "PREROUTING -> route",
        "route -> FORWARD",
        "FORWARD -> POSTROUTING",
        "POSTROUTING -> out",
    ]
    lines = src.splitlines()
    for step in walk:
        line = next(ln for ln in lines if step in ln)
        assert "#1c7ed6" in line, step  # drawn bold, in the walk's colour
    assert "#adb5bd" in next(ln for ln in lines if "route -> INPUT" in ln)


def test_find_broken_reads_the_classic_faults(snap: dict[str, Any]) -> None:
    assert find_broken(snap) == {}
    b = copy.deepcopy(snap)
    b["nodes"]["host"]["sysctl"]["net.ipv4.ip_forward"] = "0"
    b["nodes"]["host"]["iptables"]["nat"] = [
        r for r in b["nodes"]["host"]["iptables"]["nat"] if "MASQUERADE" not in r
    ]
    b["nodes"]["c2"]["routes"] = [r for r in b["nodes"]["c2"]["routes"] if r["dst"] != "default"]
    assert find_broken(b) == {
        "host:routing": "net.ipv4.ip_forward = 0",
        "host:nat": "no MASQUERADE for 172.17.0.0/16",
        "c2:eth0": "no default route",
    }


def test_find_broken_reads_the_forward_chain(snap: dict[str, Any]) -> None:
    b = copy.deepcopy(snap)
    filt = b["nodes"]["host"]["iptables"]["filter"]
    filt.remove("-A FORWARD -i docker0 ! -o docker0 -j ACCEPT")
    assert find_broken(b) == {"host:routing": "FORWARD: nothing accepts -i docker0 ! -o docker0"}
    b = copy.deepcopy(snap)
    filt = b["nodes"]["host"]["iptables"]["filter"]
    filt[filt.index("-A FORWARD -i docker0 -o docker0 -j ACCEPT")] = (
        "-A FORWARD -i docker0 -o docker0 -j DROP"
    )
    assert find_broken(b) == {"host:docker0": "-A FORWARD -i docker0 -o docker0 -j DROP"}
    b["lab"]["icc"] = False  # dockerd --icc=false asked for it
    assert find_broken(b) == {}
    src = trouble_diagram(copy.deepcopy(b), ["host:docker0"]).source
    bridge = next(ln for ln in src.splitlines() if ln.lstrip().startswith("host__docker0 ["))
    assert f'color="{BROKEN_COLOR}"' in bridge


def test_trouble_diagram_draws_the_broken_spot_red(snap: dict[str, Any]) -> None:
    b = copy.deepcopy(snap)
    b["nodes"]["host"]["sysctl"]["net.ipv4.ip_forward"] = "0"
    src = trouble_diagram(b).source
    router = next(ln for ln in src.splitlines() if ln.lstrip().startswith("host__router ["))
    assert f'color="{BROKEN_COLOR}"' in router
    assert "broken here: net.ipv4.ip_forward = 0" in src
    src = trouble_diagram(snap, ["c1:eth0"]).source
    c1 = next(ln for ln in src.splitlines() if ln.lstrip().startswith("c1__ifaces ["))
    assert f'border="3" cellborder="1" cellspacing="0" cellpadding="4" color="{BROKEN_COLOR}"' in c1
    assert BROKEN_COLOR not in diagram(snap).source


def test_lo_hidden_unless_asked_or_it_carries_more(snap: dict[str, Any]) -> None:
    assert "<b>lo</b>" not in diagram(snap).source
    assert "<b>lo</b>" in diagram(snap, show_lo=True).source
    s = copy.deepcopy(snap)
    s["nodes"]["c1"]["addrs"].append(
        {"ifname": "lo", "family": 4, "address": "192.0.2.9", "prefixlen": 32}
    )
    src = diagram(s).source
    assert src.count("<b>lo</b>") == 1 and "192.0.2.9/32" in src


def test_layout_left_to_right_where_it_fits(snap: dict[str, Any]) -> None:
    assert "rankdir=LR" in diagram(snap).source
    assert "rankdir=TB" in diagram(two_networks(snap)).source  # two bridges: top to bottom
    assert "rankdir=LR" in diagram(two_networks(snap), rankdir="LR").source
    assert "rankdir=TB" in diagram(snap, rankdir="TB").source
    with pytest.raises(InvalidArgument):
        diagram(snap, rankdir="XY")


def test_labels_follow_the_language(snap: dict[str, Any]) -> None:
    en = diagram(snap).source
    assert "Docker host" in en and "outside world" in en and "Noto Sans CJK" not in en
    ja = diagram(snap, lang="ja").source
    assert "Docker ホスト" in ja and "外の世界" in ja and "veth ペア" in ja
    assert 'fontname="Noto Sans CJK JP"' in ja
    # the evidence is never translated
    assert "172.17.42.1/16" in ja and "MASQUERADE" in ja
    assert get_language() == "en"  # lang= changed nothing for later calls
    labkit.set_language("ja")
    try:
        assert "外の世界" in diagram(snap).source
        assert tr("Docker host") == "Docker ホスト"
    finally:
        labkit.set_language("en")
    with pytest.raises(InvalidArgument, match="choose one of en, ja"):
        labkit.set_language("fr")
    assert get_language() == "en"
    with using("ja"):
        assert "パケットが通る" in chains_diagram(snap).source


def test_snapshot_diagram_passes_the_options(snap: dict[str, Any]) -> None:
    from labkit.client.snapshot import Snapshot

    assert "<b>lo</b>" in Snapshot(snap).diagram(show_lo=True).source
    assert "rankdir=TB" in Snapshot(snap).diagram(rankdir="TB").source
    assert "外の世界" in Snapshot(snap).diagram(lang="ja").source


def test_side_by_side_titles_follow_the_language() -> None:
    from labkit.tools.notebook import side_by_side

    assert "<b>the article</b>" in side_by_side("a", "b")._repr_html_()
    with using("ja"):
        page = side_by_side("a", "b")._repr_html_()
        own = side_by_side("a", "b", "Docker 28", "lab")._repr_html_()
    assert "<b>記事</b>" in page and "<b>あなたのラボ</b>" in page
    assert "<b>Docker 28</b>" in own
