"""The control panel (labkit.widgets) against a real lab: its callbacks change the kernel.

No browser: the tests call the panel's methods (and click its buttons), then check the
lab's real state (``brctl show``, ``iptables -t nat -S``, sysctl, packets captured) and
what the panel's widgets show.
"""

from __future__ import annotations

from collections.abc import Iterator

import ipywidgets as W
import pytest

from labkit import Lab
from labkit.widgets import GATEWAY, OUTSIDE, Panel, SendResult, panel

pytestmark = pytest.mark.lab

RED = "#e03131"


@pytest.fixture
def lab(can_lab: None) -> Iterator[Lab]:
    with Lab(profile="article", seed=21) as lab:
        lab.run("c1")
        lab.run("c2")
        yield lab


@pytest.fixture
def p(lab: Lab) -> Panel:
    return Panel(lab)


def values(dropdown: W.Dropdown) -> list[str]:
    return [v for _, v in dropdown.options]


def brctl(lab: Lab) -> str:
    res = lab.host.exec_run("brctl show")
    assert res.exit_code == 0, res.output
    return res.output


def nat_rules(lab: Lab) -> str:
    res = lab.host.exec_run("iptables -t nat -S")
    assert res.exit_code == 0, res.output
    return res.output


def is_error(p: Panel) -> bool:
    return RED in p.message.value


def echo_requests(cap: object, point: str, dst: str) -> list[str]:
    """The IP sources of the echo requests to ``dst`` captured at ``point``."""
    from scapy.layers.inet import ICMP, IP

    return [
        pkt[IP].src
        for pkt in cap[point]  # type: ignore[index]
        if pkt.haslayer(ICMP) and pkt[ICMP].type == 8 and pkt[IP].dst == dst
    ]


# --------------------------------------------------------------------------- initial state


def test_panel_shows_the_labs_real_state(lab: Lab, p: Panel) -> None:
    assert values(p.src_dropdown) == ["c1", "c2"]
    assert values(p.rm_dropdown) == ["c1", "c2"]
    assert p.src_dropdown.value == "c1"
    # targets: the other containers, then the outside and docker0's address
    assert values(p.target_dropdown) == ["c2", OUTSIDE, GATEWAY]
    labels = [label for label, _ in p.target_dropdown.options]
    assert "outside (203.0.113.10)" in labels
    assert f"docker0 gateway ({lab.gateway})" in labels
    assert p.masquerade_box.value is True and lab.host.masquerade() is True
    assert p.ip_forward_box.value is True and lab.host.ip_forward() is True
    assert "<svg" in p.diagram_html.value
    assert "→ MASQUERADE" in p.last_diagram.source
    assert "<table" in p.conntrack_area.value or "no conntrack" in p.conntrack_area.value
    assert not is_error(p)


def test_switches_start_from_the_kernel_not_defaults(lab: Lab) -> None:
    lab.host.masquerade(False)
    lab.host.ip_forward(False)
    p = Panel(lab)
    assert p.masquerade_box.value is False
    assert p.ip_forward_box.value is False
    assert "no NAT" in p.last_diagram.source


def test_panel_function_returns_the_widget(lab: Lab) -> None:
    w = panel(lab)
    assert isinstance(w, W.VBox)
    assert len(w.children) > 5


def test_changing_the_source_updates_the_targets(p: Panel) -> None:
    p.src_dropdown.value = "c2"
    assert values(p.target_dropdown) == ["c1", OUTSIDE, GATEWAY]


# --------------------------------------------------------------------------- containers


def test_run_container_starts_it_in_the_kernel(lab: Lab, p: Panel) -> None:
    c3 = p.run_container("c3")
    assert c3 is not None and c3.name == "c3"
    assert "c3" in lab.containers
    assert c3.veth in brctl(lab)
    assert "c3" in values(p.rm_dropdown)
    assert "c3" in values(p.src_dropdown)
    assert "c3" in values(p.target_dropdown)
    assert not is_error(p)
    assert c3.ip in p.message.value
    # the new container is on the diagram
    assert c3.veth in p.last_diagram.source


def test_run_button_uses_the_text_box(lab: Lab, p: Panel) -> None:
    p.name_text.value = "web1"
    p.run_button.click()
    assert "web1" in lab.containers
    assert lab.containers.get("web1").veth in brctl(lab)
    assert p.name_text.value == ""
    assert p.rm_dropdown.value == "web1"


def test_remove_container_removes_it_from_the_kernel(lab: Lab, p: Panel) -> None:
    veth = lab.containers.get("c2").veth
    assert veth in brctl(lab)
    assert p.remove_container("c2") is True
    assert "c2" not in lab.containers
    assert veth not in brctl(lab)
    assert lab.host.exec_run(f"ip link show {veth}").exit_code != 0
    assert "c2" not in values(p.rm_dropdown)
    assert "c2" not in values(p.src_dropdown)
    assert "c2" not in values(p.target_dropdown)
    assert not is_error(p)


def test_rm_button_removes_the_selected_container(lab: Lab, p: Panel) -> None:
    p.rm_dropdown.value = "c1"
    p.rm_button.click()
    assert [c.name for c in lab.containers.list()] == ["c2"]
    assert values(p.src_dropdown) == ["c2"]


@pytest.mark.parametrize("bad", ["bad name!", "c1", "host", "", "x"])
def test_bad_names_show_an_error_and_change_nothing(lab: Lab, p: Panel, bad: str) -> None:
    before_names = [c.name for c in lab.containers.list()]
    before_bridge = brctl(lab)
    assert p.run_container(bad) is None
    assert is_error(p)
    assert [c.name for c in lab.containers.list()] == before_names
    assert brctl(lab) == before_bridge
    assert values(p.rm_dropdown) == before_names


def test_bad_name_from_the_button_is_shown_not_raised(lab: Lab, p: Panel) -> None:
    p.name_text.value = "no spaces please"
    p.run_button.click()  # must not raise
    assert is_error(p)
    assert "invalid container name" in p.message.value
    assert [c.name for c in lab.containers.list()] == ["c1", "c2"]


def test_removing_an_unknown_container_shows_an_error(lab: Lab, p: Panel) -> None:
    assert p.remove_container("nope") is False
    assert is_error(p)
    assert "nope" in p.message.value
    assert [c.name for c in lab.containers.list()] == ["c1", "c2"]


# --------------------------------------------------------------------------- traffic


def test_send_to_the_outside_is_captured_and_nated(lab: Lab, p: Panel) -> None:
    c1 = lab.containers.get("c1")
    r = p.send("c1", OUTSIDE, "ping")
    assert isinstance(r, SendResult) and r.answered and bool(r)
    assert r.dst == lab.outside.ip
    assert r.capture.points == [
        "c1:eth0",
        f"host:{c1.veth}",
        "host:docker0",
        "host:eth0",
        "outside:eth0",
    ]
    # the echo request leaves c1 from its own address and reaches the outside as the host's
    assert echo_requests(r.capture, "c1:eth0", lab.outside.ip) == [c1.ip]
    assert echo_requests(r.capture, "outside:eth0", lab.outside.ip) == [lab.host.ip]
    assert "✔ answered" in p.result_html.value
    assert "host:eth0" in p.capture_html.value
    # the diagram draws the flow; conntrack shows the MASQUERADE entry
    from labkit.views.diagram import FLOW_COLOR

    assert FLOW_COLOR in p.last_diagram.source
    assert lab.host.ip in p.conntrack_area.value and c1.ip in p.conntrack_area.value
    assert p.last_send is r


def test_send_between_containers_captures_both_ends(lab: Lab, p: Panel) -> None:
    c1, c2 = lab.containers.get("c1"), lab.containers.get("c2")
    r = p.send("c1", "c2", "ping")
    assert r is not None and r.answered
    assert r.capture.points == [
        "c1:eth0",
        f"host:{c1.veth}",
        "host:docker0",
        f"host:{c2.veth}",
        "c2:eth0",
    ]
    assert echo_requests(r.capture, "c2:eth0", c2.ip) == [c1.ip]


def test_send_to_the_gateway_stops_at_docker0(lab: Lab, p: Panel) -> None:
    r = p.send("c1", GATEWAY, "ping")
    assert r is not None and r.answered and r.dst == lab.gateway
    assert r.capture.points[-1] == "host:docker0" and len(r.capture) == 3


@pytest.mark.parametrize("target", ["c2", OUTSIDE, GATEWAY])
def test_udp_is_answered_by_port_unreachable(lab: Lab, p: Panel, target: str) -> None:
    r = p.send("c1", target, "udp")
    assert r is not None and r.answered, r and r.detail
    assert "port-unreachable" in r.detail


def test_send_refuses_nonsense_without_raising(lab: Lab, p: Panel) -> None:
    assert p.send("c1", "c1", "ping") is None and is_error(p)
    assert p.send("c1", "nope", "ping") is None and is_error(p)
    assert p.send("nope", OUTSIDE, "ping") is None and is_error(p)
    assert p.send("c1", OUTSIDE, "tcp") is None and is_error(p)
    assert p.last_send is None


def test_send_button_uses_the_dropdowns(lab: Lab, p: Panel) -> None:
    p.src_dropdown.value = "c2"
    p.target_dropdown.value = GATEWAY
    p.proto_toggle.value = "udp"
    p.send_button.click()
    assert p.last_send is not None
    assert (p.last_send.source, p.last_send.target, p.last_send.proto) == ("c2", GATEWAY, "udp")
    assert p.last_send.answered
    assert not p.send_button.disabled


# --------------------------------------------------------------------------- switches


def test_masquerade_off_deletes_the_rule_and_breaks_the_outside(lab: Lab, p: Panel) -> None:
    assert p.send("c1", OUTSIDE, "ping").answered  # type: ignore[union-attr]
    assert "-j MASQUERADE" in nat_rules(lab)

    assert p.set_masquerade(False) is False
    assert "-j MASQUERADE" not in nat_rules(lab)
    assert lab.host.masquerade() is False
    assert p.masquerade_box.value is False
    assert "no NAT" in p.last_diagram.source and "→ MASQUERADE" not in p.last_diagram.source

    r = p.send("c1", OUTSIDE, "ping")
    assert r is not None and not r.answered
    assert "✘ no answer" in p.result_html.value
    # the echo reaches the outside with the container's private source: no way back
    c1 = lab.containers.get("c1")
    assert echo_requests(r.capture, "outside:eth0", lab.outside.ip) == [c1.ip]
    udp = p.send("c1", OUTSIDE, "udp")
    assert udp is not None and not udp.answered
    # containers still reach each other
    assert p.send("c1", "c2", "ping").answered  # type: ignore[union-attr]

    assert p.set_masquerade(True) is True
    assert "-j MASQUERADE" in nat_rules(lab)
    assert "→ MASQUERADE" in p.last_diagram.source
    assert p.send("c1", OUTSIDE, "ping").answered  # type: ignore[union-attr]


def test_the_masquerade_checkbox_drives_the_rule(lab: Lab, p: Panel) -> None:
    p.masquerade_box.value = False
    assert "-j MASQUERADE" not in nat_rules(lab)
    assert "no NAT" in p.last_diagram.source
    p.masquerade_box.value = True
    assert "-j MASQUERADE" in nat_rules(lab)
    assert not is_error(p)


def test_ip_forward_off_breaks_the_outside_not_the_bridge(lab: Lab, p: Panel) -> None:
    assert p.set_ip_forward(False) is False
    assert lab.host.exec_run("sysctl -n net.ipv4.ip_forward").output.strip() == "0"
    assert p.ip_forward_box.value is False
    assert "ip_forward = 0" in p.last_diagram.source

    r = p.send("c1", OUTSIDE, "ping")
    assert r is not None and not r.answered
    # seen on docker0, never routed to the uplink
    assert len(echo_requests(r.capture, "host:docker0", lab.outside.ip)) == 1
    assert echo_requests(r.capture, "host:eth0", lab.outside.ip) == []
    assert echo_requests(r.capture, "outside:eth0", lab.outside.ip) == []

    assert p.send("c1", "c2", "ping").answered  # type: ignore[union-attr]
    assert p.send("c1", "c2", "udp").answered  # type: ignore[union-attr]
    assert p.send("c1", GATEWAY, "ping").answered  # type: ignore[union-attr]

    p.ip_forward_box.value = True  # through the checkbox this time
    assert lab.host.exec_run("sysctl -n net.ipv4.ip_forward").output.strip() == "1"
    assert p.send("c1", OUTSIDE, "ping").answered  # type: ignore[union-attr]


def test_a_closed_lab_shows_errors_instead_of_raising(lab: Lab, p: Panel) -> None:
    lab.close()
    assert p.send("c1", OUTSIDE, "ping") is None
    assert is_error(p)
    p.run_button.click()
    p.masquerade_box.value = False
    assert is_error(p)


def test_the_panel_speaks_japanese_in_the_japanese_edition(lab: Lab) -> None:
    """With labkit.set_language("ja") the panel's labels and messages are Japanese; the
    commands it names (docker run, iptables) and the addresses stay as they are."""
    from labkit import i18n

    with i18n.using("ja"):
        jp = Panel(lab)
        headings = " ".join(
            w.value for w in jp.widget.children if isinstance(w, W.HTML) and w.value
        )
        assert "コンテナ" in headings and "通信" in headings and "Traffic" not in headings
        assert jp.send_button.description == "送信" and jp.src_dropdown.description == "送信元"
        jp.run_container("c7")
        assert "docker run --name c7" in jp.message.value and "ホスト側は" in jp.message.value
        assert "外の世界 (" in " ".join(str(label) for label, _ in jp.target_dropdown.options)
        r = jp.send("c7", OUTSIDE)
        assert r is not None and r.answered
        assert "応答あり" in jp.result_html.value and "地点でキャプチャ" in jp.message.value


def test_a_trip_without_widgets(lab: Lab) -> None:
    """labkit.client.trip is the panel's send without ipywidgets: points, verdict, capture."""
    from labkit import InvalidArgument, NotFound
    from labkit.client import trip

    c1, c2 = lab.containers.get("c1"), lab.containers.get("c2")
    points = trip.capture_points(lab, "c1", "c2")
    assert points == ["c1:eth0", f"host:{c1.veth}", "host:docker0", f"host:{c2.veth}", "c2:eth0"]
    r = trip.send(lab, "c1", "c2")
    assert r and r.dst == c2.ip and r.detail.startswith(f"echo reply from {c2.ip}")
    assert all(len(r.capture[pt]) >= 2 for pt in points)  # request and reply at every point
    out = trip.send(lab, "c1", OUTSIDE, "udp")
    assert out.answered and "port-unreachable" in out.detail
    for args, err in ((("c1", "c2", "tcp"), InvalidArgument), (("c1", "c1"), InvalidArgument),
                      (("c1", "nope"), NotFound)):
        with pytest.raises(err):
            trip.send(lab, *args)
    assert [c.name for c in lab.containers.list()] == ["c1", "c2"]
