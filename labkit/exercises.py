"""Break-and-fix exercises: each breaks a lab in one way a real Docker host breaks, and checks it.

```python
from labkit import Lab, exercises
lab = Lab(seed=1)
c1 = lab.run("c1")
ex = exercises.fault(1)     # the first story; its name stays hidden until it is fixed
ex.breaks(lab, c1)          # (net.ipv4.ip_forward = 0 on the host)
ex.check(lab, c1)           # ✘ not yet — with a hint on how to look, not on what is wrong
lab.host.exec_run("sysctl -w net.ipv4.ip_forward=1")
ex.check(lab, c1)           # ✔ fixed (forwarding is off) — now the fault is named
```

A check that is not passed yet names no fault and shows no fix: it says what the traffic did
and where to look. Only a passed check names the fault (the exercise's ``title``) and lists the
kernel state it read.

Every check first tries the real thing (a ping from the container, answered or not) and then
reads the specific state the exercise broke (a sysctl, a rule, a route) to say precisely what
is still wrong. Nothing here bypasses the kernel: breaking and checking both go through the
same commands a learner types (``sysctl``, ``iptables``, ``ip route``), inside the lab.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from labkit.core import firewall

if TYPE_CHECKING:
    from labkit.client.lab import Lab
    from labkit.client.models import Container

__all__ = [
    "EXERCISES",
    "Check",
    "Exercise",
    "check",
    "fault",
    "get",
    "breaks",
]

PING_TIMEOUT = 0.5  # a lab's round trip takes well under a millisecond


@dataclass(frozen=True)
class Check:
    """The outcome of an exercise check: ``✔ fixed`` or ``✘ not yet`` with a hint.

    Truthy when the exercise is fixed. ``facts`` are the observations the verdict rests on
    (what the traffic did, what the kernel state is), in the order they were checked. Until
    the exercise is fixed only the first fact (the traffic) is shown, and the fault's
    ``title`` is not: naming the broken state would give the diagnosis away.
    """

    exercise: str
    ok: bool
    message: str
    hint: str = ""
    facts: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    title: str = ""

    def __bool__(self) -> bool:
        return self.ok

    @property
    def headline(self) -> str:
        if self.ok:
            named = f" ({self.title})" if self.title else ""
            return f"✔ fixed{named}: {self.message}"
        return f"✘ not yet: {self.message}"

    @property
    def shown_facts(self) -> tuple[tuple[str, str], ...]:
        """The facts a learner sees: all once fixed, else only what the traffic did."""
        return self.facts if self.ok else self.facts[:1]

    def __str__(self) -> str:
        lines = [self.headline]
        lines += [f"    {what}: {value}" for what, value in self.shown_facts]
        if not self.ok and self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle) -> None:  # type: ignore[no-untyped-def]
        p.text(str(self))

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.ok else "#cf222e"
        facts = "".join(
            f"<tr><td>{html.escape(w)}</td><td><code>{html.escape(v)}</code></td></tr>"
            for w, v in self.shown_facts
        )
        hint = (
            f"<p style='margin:4px 0'><b>hint:</b> {html.escape(self.hint)}</p>"
            if not self.ok and self.hint
            else ""
        )
        return (
            f"<div style='border-left:4px solid {color}; padding:2px 10px'>"
            f"<p style='margin:4px 0; color:{color}'><b>{html.escape(self.headline)}</b></p>"
            f"<table style='font-size:12px'>{facts}</table>{hint}</div>"
        )


Breaker = Callable[["Lab", "Container"], None]
Checker = Callable[["Lab", "Container"], Check]


@dataclass(frozen=True)
class Exercise:
    """One way to break a Docker host, the story a learner hears, and the check.

    ``diagnosis`` lists real commands that show the cause (``node: command``); ``fix`` is the
    documented repair, as a real command.
    """

    name: str
    title: str
    story: str
    diagnosis: tuple[str, ...]
    fix: str
    _breaks: Breaker = field(repr=False)
    _check: Checker = field(repr=False)

    def breaks(self, lab: Lab, container: Container) -> None:
        """Break ``lab`` in this exercise's way, as seen from ``container``."""
        self._breaks(lab, container)

    def check(self, lab: Lab, container: Container) -> Check:
        """Is it fixed? Real traffic first, then the state this exercise broke."""
        result = self._check(lab, container)
        return replace(result, title=self.title)

    def __repr__(self) -> str:
        return f"<Exercise {self.name}: {self.title}>"


# ------------------------------------------------------------------ helpers
def _network(lab: Lab, c: Container) -> tuple[str, str, str, str]:
    """The container's first network: (interface, bridge, subnet, gateway)."""
    name, ep = next(iter(c.networks.items()))
    net = lab.networks.get(name)
    return str(ep["ifname"]), net.bridge, net.subnet, str(ep["gateway"])


def _rule_present(lab: Lab, table: str, rule: str) -> bool:
    """``iptables -t TABLE -C RULE`` on the host: is this exact rule there?"""
    return lab.host.exec_run(f"iptables -t {table} -C {rule}").exit_code == 0


def _rule_number(lab: Lab, rule: str) -> int | None:
    """The position of ``-A CHAIN …`` in its chain of the filter table (1-based), or None."""
    chain = rule.split()[0]
    lines = lab.host.exec_run(f"iptables -S {chain}").output.splitlines()
    appended = [ln for ln in lines if ln.startswith(f"-A {chain} ")]
    for i, ln in enumerate(appended, 1):
        if ln == f"-A {rule}":
            return i
    return None


def _forward_rule(bridge: str) -> str:
    return f"FORWARD -i {bridge} ! -o {bridge} -j ACCEPT"


def _masquerade_rule(bridge: str, subnet: str) -> str:
    return " ".join(firewall.masquerade_rule(bridge, subnet))


def _icc_rule(bridge: str, verdict: str) -> str:
    return f"FORWARD -i {bridge} -o {bridge} -j {verdict}"


def _ping_out(lab: Lab, c: Container) -> tuple[bool, tuple[str, str]]:
    r = c.ping(lab.outside.ip, timeout=PING_TIMEOUT)
    return r.ok, ("traffic", str(r))


def _peer(lab: Lab, c: Container) -> Container:
    """Another container on ``c``'s first network: the first one there, or a new ``peer``."""
    net = next(iter(c.networks))
    for other in lab.containers.list():
        if other.name != c.name and net in other.networks:
            return other
    return lab.run("peer", network=net)


def _outward(
    name: str,
    lab: Lab,
    c: Container,
    state_ok: bool,
    state: tuple[str, str],
    hint: str,
) -> Check:
    """The common verdict of the "cannot reach the world" exercises."""
    pong, traffic = _ping_out(lab, c)
    facts = (traffic, state)
    if pong and state_ok:
        return Check(name, True, f"{c.name} reaches {lab.outside.ip} again", facts=facts)
    if pong:
        return Check(name, False, f"{c.name} gets out, but not the way Docker does it", hint, facts)
    return Check(name, False, f"{c.name} still cannot reach {lab.outside.ip}", hint, facts)


# ------------------------------------------------------------------ 1. forwarding off
def break_forwarding(lab: Lab, c: Container) -> None:
    """``sysctl -w net.ipv4.ip_forward=0`` on the host: it stops routing between interfaces."""
    lab.host.exec_run("sysctl -w net.ipv4.ip_forward=0")


def check_forwarding(lab: Lab, c: Container) -> Check:
    value = lab.host.sysctl("net.ipv4.ip_forward")
    return _outward(
        "forwarding",
        lab,
        c,
        value == "1",
        ("host net.ipv4.ip_forward", value),
        "find where the echo request stops: capture on docker0 and on the host's uplink while "
        f"{c.name} pings, and ask what the host does between the two",
    )


# ------------------------------------------------------------------ 2. MASQUERADE missing
def break_masquerade(lab: Lab, c: Container) -> None:
    """Delete the bridge's MASQUERADE rule (nat POSTROUTING)."""
    _, bridge, subnet, _ = _network(lab, c)
    lab.host.exec_run(f"iptables -t nat -D {_masquerade_rule(bridge, subnet)}")


def check_masquerade(lab: Lab, c: Container) -> Check:
    _, bridge, subnet, _ = _network(lab, c)
    rule = _masquerade_rule(bridge, subnet)
    present = _rule_present(lab, "nat", rule)
    return _outward(
        "masquerade",
        lab,
        c,
        present,
        (f"nat rule -A {rule}", "present" if present else "missing"),
        "capture on the host's uplink and in the outside world while the container pings, "
        "and read each packet's source address: could the server's reply find its way back?",
    )


# ------------------------------------------------------------------ 3. FORWARD ACCEPT missing
def break_forward_accept(lab: Lab, c: Container) -> None:
    """Delete ``-A FORWARD -i BRIDGE ! -o BRIDGE -j ACCEPT``: the policy DROP takes over."""
    _, bridge, _, _ = _network(lab, c)
    lab.host.exec_run(f"iptables -D {_forward_rule(bridge)}")


def check_forward_accept(lab: Lab, c: Container) -> Check:
    _, bridge, _, _ = _network(lab, c)
    rule = _forward_rule(bridge)
    present = _rule_present(lab, "filter", rule)
    return _outward(
        "forward-accept",
        lab,
        c,
        present,
        (f"filter rule -A {rule}", "present" if present else "missing"),
        "nothing reaches the uplink: zero the counters of the host's FORWARD chain "
        "(iptables -Z FORWARD), ping once, and see which rule or policy counted the packet "
        "(iptables -L FORWARD -v -n --line-numbers)",
    )


# ------------------------------------------------------------------ 4. icc with br_netfilter
def break_icc(lab: Lab, c: Container) -> None:
    """Turn the bridge's container-to-container ACCEPT into DROP, as ``--icc=false`` writes it.

    With br_netfilter (``bridge-nf-call-iptables = 1``) bridged frames pass through
    iptables' FORWARD chain and meet the DROP. Without it, labkit's icc=False isolates the
    bridge ports instead, so this exercise does the same.
    """
    _, bridge, _, _ = _network(lab, c)
    peer = _peer(lab, c)
    accept, drop = _icc_rule(bridge, "ACCEPT"), _icc_rule(bridge, "DROP")
    n = _rule_number(lab, accept)
    if n is not None:  # in place, where --icc=false would have written it
        lab.host.exec_run(f"iptables -R FORWARD {n} {drop.removeprefix('FORWARD ')}")
    elif not _rule_present(lab, "filter", drop):
        lab.host.exec_run(f"iptables -A {drop}")
    if not lab.info.get("br_netfilter", True):
        for node in (c, peer):
            veth = next(iter(node.networks.values()))["veth"]
            lab.host.exec_run(f"bridge link set dev {veth} isolated on")


def check_icc(lab: Lab, c: Container) -> Check:
    _, bridge, _, _ = _network(lab, c)
    peer = _peer(lab, c)
    r = c.ping(peer.ip, timeout=PING_TIMEOUT)
    nf = lab.host.sysctl("net.bridge.bridge-nf-call-iptables")
    drop = _rule_present(lab, "filter", _icc_rule(bridge, "DROP"))
    accept = _rule_present(lab, "filter", _icc_rule(bridge, "ACCEPT"))
    facts: tuple[tuple[str, str], ...] = (
        ("traffic", str(r)),
        ("host net.bridge.bridge-nf-call-iptables", nf),
        (f"filter rule -A {_icc_rule(bridge, 'DROP')}", "present" if drop else "missing"),
        (f"filter rule -A {_icc_rule(bridge, 'ACCEPT')}", "present" if accept else "missing"),
    )
    if not lab.info.get("br_netfilter", True):
        # no br_netfilter here: isolated bridge ports stand in for the DROP rule
        veth = next(iter(c.networks.values()))["veth"]
        flags = lab.host.exec_run(f"bridge -d link show dev {veth}").output
        isolated = "isolated on" in flags
        facts += ((f"bridge port {veth}", "isolated on" if isolated else "isolated off"),)
        if isolated:
            r = c.ping(peer.ip, timeout=PING_TIMEOUT)
    if r.ok and accept and not drop:
        return Check("icc", True, f"{c.name} and {peer.name} talk across {bridge}", facts=facts)
    if r.ok and nf == "0":
        return Check(
            "icc",
            False,
            f"{c.name} reaches {peer.name}, but only because bridged frames skip iptables now",
            "with bridge-nf-call-iptables = 0 no iptables rule sees traffic inside a bridge: "
            "Docker's icc=false would stop working too. Set it back to 1 and fix the rule "
            "instead",
            facts,
        )
    if r.ok:
        return Check(
            "icc",
            False,
            f"{c.name} reaches {peer.name}, but the rules are not Docker's",
            f"Docker with icc on has exactly '-A {_icc_rule(bridge, 'ACCEPT')}' "
            "and no DROP rule for the same pair of interfaces",
            facts,
        )
    return Check(
        "icc",
        False,
        f"{c.name} still cannot reach {peer.name} on the same bridge",
        "the two containers share one bridge, yet something stops them: zero the FORWARD "
        "chain's counters (iptables -Z FORWARD), ping once, and see what counted the packet",
        facts,
    )


# ------------------------------------------------------------------ 5. no default route
def break_default_route(lab: Lab, c: Container) -> None:
    """``ip route del default`` inside the container."""
    c.exec_run("ip route del default")


def check_default_route(lab: Lab, c: Container) -> Check:
    routes = c.exec_run("ip route show default").output.strip()
    _, _, _, gateway = _network(lab, c)
    state_ok = f"default via {gateway} " in routes + " "
    return _outward(
        "default-route",
        lab,
        c,
        state_ok,
        (f"{c.name}: ip route show default", routes or "(none)"),
        f"does the packet even leave {c.name}? Ask its kernel how it would reach the outside "
        f"server (ip route get {lab.outside.ip} inside {c.name})",
    )


# ------------------------------------------------------------------ registry
EXERCISES: dict[str, Exercise] = {
    ex.name: ex
    for ex in (
        Exercise(
            "forwarding",
            "forwarding is off",
            "After a reboot the container cannot reach the world any more. The host itself "
            "can, and the container can still reach docker0.",
            (
                "c1: ping -c1 -W1 203.0.113.10",
                "c1: ping -c1 172.17.0.1",
                "host: sysctl net.ipv4.ip_forward",
            ),
            "host: sysctl -w net.ipv4.ip_forward=1",
            break_forwarding,
            check_forwarding,
        ),
        Exercise(
            "masquerade",
            "the MASQUERADE rule is missing",
            "Someone 'cleaned up' the nat table. Packets from the container go out — a capture "
            "on the uplink shows them — but no answer ever comes back.",
            ("host: iptables -t nat -S POSTROUTING", "capture host:eth0 while c1 pings"),
            "host: iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
            break_masquerade,
            check_masquerade,
        ),
        Exercise(
            "forward-accept",
            "FORWARD policy DROP without Docker's ACCEPT rule",
            "A firewall script deleted one rule it did not recognise. The container cannot "
            "reach the world, and on the uplink nothing from it appears at all.",
            ("host: iptables -S FORWARD", "host: iptables -L FORWARD -v -n"),
            "host: iptables -I FORWARD 5 -i docker0 ! -o docker0 -j ACCEPT",
            break_forward_accept,
            check_forward_accept,
        ),
        Exercise(
            "icc",
            "containers on one bridge cannot talk (br_netfilter and a DROP rule)",
            "Two containers on the same bridge cannot reach each other, yet both reach the "
            "world. The bridge is a switch: why would a switch care about iptables?",
            (
                "host: sysctl net.bridge.bridge-nf-call-iptables",
                "host: iptables -S FORWARD",
                "host: iptables -L FORWARD -v -n",
            ),
            "host: iptables -R FORWARD N -i docker0 -o docker0 -j ACCEPT (N: the DROP rule's "
            "position)",
            break_icc,
            check_icc,
        ),
        Exercise(
            "default-route",
            "the container has no default route",
            "A container reaches the other containers and docker0, but nothing beyond. The "
            "host is fine and other containers reach the world.",
            ("c1: ip route", "c1: ip route get 203.0.113.10"),
            "c1: ip route add default via 172.17.0.1",
            break_default_route,
            check_default_route,
        ),
    )
}


def fault(number: int) -> Exercise:
    """The exercise told as story ``number`` (1–5, in :data:`EXERCISES`' order).

    Notebook 11 uses numbers, not names, so that a fault is named only once its check passes.
    """
    stories = list(EXERCISES.values())
    if not 1 <= number <= len(stories):
        raise KeyError(f"no fault {number}; there are faults 1 to {len(stories)}")
    return stories[number - 1]


def get(name: str) -> Exercise:
    """The exercise called ``name`` (see :data:`EXERCISES`)."""
    try:
        return EXERCISES[name]
    except KeyError:
        known = ", ".join(EXERCISES)
        raise KeyError(f"no exercise {name!r}; there are: {known}") from None


def breaks(name: str, lab: Lab, container: Container) -> None:
    """Break ``lab`` the way exercise ``name`` does."""
    get(name).breaks(lab, container)


def check(name: str, lab: Lab, container: Container) -> Check:
    """Check exercise ``name``: ✔ fixed, or ✘ not yet with a hint."""
    return get(name).check(lab, container)
