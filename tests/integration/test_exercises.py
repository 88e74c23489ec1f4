"""Break-and-fix exercises: each break really breaks traffic, each documented fix repairs it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from labkit import Container, Lab, exercises

pytestmark = pytest.mark.lab


def _fix_forwarding(lab: Lab, c: Container) -> None:
    lab.host.exec_run("sysctl -w net.ipv4.ip_forward=1")


def _fix_masquerade(lab: Lab, c: Container) -> None:
    lab.host.exec_run("iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE")


def _fix_forward_accept(lab: Lab, c: Container) -> None:
    lab.host.exec_run("iptables -I FORWARD 5 -i docker0 ! -o docker0 -j ACCEPT")


def _fix_icc(lab: Lab, c: Container) -> None:
    rules = lab.host.exec_run("iptables -S FORWARD").output.splitlines()
    appended = [ln for ln in rules if ln.startswith("-A FORWARD ")]
    n = appended.index("-A FORWARD -i docker0 -o docker0 -j DROP") + 1
    lab.host.exec_run(f"iptables -R FORWARD {n} -i docker0 -o docker0 -j ACCEPT")


def _fix_default_route(lab: Lab, c: Container) -> None:
    c.exec_run(f"ip route add default via {c.gateway}")


FIXES: dict[str, Callable[[Lab, Container], None]] = {
    "forwarding": _fix_forwarding,
    "masquerade": _fix_masquerade,
    "forward-accept": _fix_forward_accept,
    "icc": _fix_icc,
    "default-route": _fix_default_route,
}


def test_every_exercise_has_a_tested_fix() -> None:
    assert set(FIXES) == set(exercises.EXERCISES)


def _traffic_ok(lab: Lab, c: Container, name: str) -> bool:
    if name == "icc":
        peer = next(o for o in lab.containers.list() if o.name != c.name)
        return c.ping(peer.ip, timeout=0.5).ok
    return c.ping(lab.outside.ip, timeout=0.5).ok


@pytest.mark.parametrize("name", list(FIXES))
def test_break_then_fix(can_lab: None, name: str) -> None:
    with Lab(profile="modern", seed=7) as lab:
        c1 = lab.run("c1")
        lab.run("c2")
        ex = exercises.get(name)
        assert ex.check(lab, c1), f"{name}: a fresh lab must pass the check"
        assert _traffic_ok(lab, c1, name)

        ex.breaks(lab, c1)
        broken = ex.check(lab, c1)
        assert not broken and broken.hint, f"{name}: the check must fail with a hint"
        assert not _traffic_ok(lab, c1, name), f"{name}: real traffic must fail when broken"
        assert "✘ not yet" in str(broken) and "✘" in broken._repr_html_()
        assert ex.title not in str(broken) + broken._repr_html_(), "named before it is fixed"

        FIXES[name](lab, c1)
        fixed = ex.check(lab, c1)
        assert fixed, f"{name}: the documented fix must pass: {fixed}"
        assert _traffic_ok(lab, c1, name)
        assert str(fixed).startswith(f"✔ fixed ({ex.title})")


def test_icc_fixed_by_skipping_iptables_is_not_accepted(can_lab: None) -> None:
    """Turning bridge-nf-call-iptables off lets the ping through, but it is not Docker's fix."""
    with Lab(profile="modern", seed=7) as lab:
        c1 = lab.run("c1")
        lab.run("c2")
        if not lab.info.get("br_netfilter"):
            pytest.skip("br_netfilter is not available in this sandbox")
        exercises.breaks("icc", lab, c1)
        lab.host.sysctl("net.bridge.bridge-nf-call-iptables", 0)
        result = exercises.check("icc", lab, c1)
        assert not result and "bridge-nf-call-iptables" in result.hint
        lab.host.sysctl("net.bridge.bridge-nf-call-iptables", 1)
        assert not exercises.check("icc", lab, c1)


def test_unknown_exercise_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="forwarding"):
        exercises.get("nope")


@pytest.mark.parametrize("name", ["forwarding", "masquerade", "forward-accept", "default-route"])
def test_the_documented_fix_uses_this_labs_addresses(can_lab: None, name: str) -> None:
    """In the article profile (docker0 172.17.42.1) the exercise's own ``fix`` command,
    typed as it reads, repairs the lab: no address of another profile is baked in."""
    with Lab(profile="article", seed=7) as lab:
        c1 = lab.run("c1")
        ex = exercises.get(name)
        ex.breaks(lab, c1)
        assert not ex.check(lab, c1)
        node, command = ex.fix(lab, c1).split(": ", 1)
        assert "172.17.0.1 " not in command + " ", command  # modern's docker0, not this one
        target = lab.host if node == "host" else lab.containers.get(node)
        assert target.exec_run(command).exit_code == 0, command
        assert ex.check(lab, c1), f"{name}: {command} must repair it"
        assert all(": " in step for step in ex.diagnosis(lab, c1))


def test_checks_read_in_japanese(can_lab: None) -> None:
    """With labkit.set_language("ja") a check's verdict, facts and hint are Japanese; the
    evidence (addresses, rules) stays as the kernel wrote it."""
    from labkit import i18n

    with Lab(profile="modern", seed=7) as lab, i18n.using("ja"):
        c1 = lab.run("c1")
        ex = exercises.fault(1)
        ex.breaks(lab, c1)
        text = str(ex.check(lab, c1))
        assert text.startswith(f"✘ まだです: c1 はまだ {lab.outside.ip} に届きません"), text
        assert "ヒント: エコー要求" in text and "not yet" not in text
        lab.host.exec_run("sysctl -w net.ipv4.ip_forward=1")
        assert str(ex.check(lab, c1)).startswith("✔ 直りました (転送がオフ): c1 はまた")
