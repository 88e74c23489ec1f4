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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar

from labkit.core import firewall
from labkit.i18n import tr, tr_message

if TYPE_CHECKING:
    from labkit.client.lab import Lab
    from labkit.client.models import Container

__all__ = [
    "EXERCISES",
    "Check",
    "DefaultRoute",
    "Exercise",
    "ForwardAccept",
    "Forwarding",
    "Icc",
    "Masquerade",
    "breaks",
    "check",
    "fault",
    "get",
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
        """``✔ fixed (title): …`` or ``✘ not yet: …``, in labkit's language."""
        message = tr_message(self.message)
        if self.ok:
            named = f" ({tr_message(self.title)})" if self.title else ""
            return f"✔ {tr('fixed')}{named}: {message}"
        return f"✘ {tr('not yet')}: {message}"

    @property
    def shown_facts(self) -> tuple[tuple[str, str], ...]:
        """The facts a learner sees: all once fixed, else only what the traffic did."""
        return self.facts if self.ok else self.facts[:1]

    def __str__(self) -> str:
        lines = [self.headline]
        lines += [f"    {tr_message(w)}: {tr_message(v)}" for w, v in self.shown_facts]
        if not self.ok and self.hint:
            lines.append(f"  {tr('hint')}: {tr_message(self.hint)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle) -> None:  # type: ignore[no-untyped-def]
        p.text(str(self))

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.ok else "#cf222e"
        facts = "".join(
            f"<tr><td>{html.escape(tr_message(w))}</td>"
            f"<td><code>{html.escape(tr_message(v))}</code></td></tr>"
            for w, v in self.shown_facts
        )
        hint = (
            f"<p style='margin:4px 0'><b>{html.escape(tr('hint'))}:</b> "
            f"{html.escape(tr_message(self.hint))}</p>"
            if not self.ok and self.hint
            else ""
        )
        return (
            f"<div style='border-left:4px solid {color}; padding:2px 10px'>"
            f"<p style='margin:4px 0; color:{color}'><b>{html.escape(self.headline)}</b></p>"
            f"<table style='font-size:12px'>{facts}</table>{hint}</div>"
        )


class Exercise:
    """One way to break a Docker host, the story a learner hears, and its check.

    One subclass per exercise. :meth:`breaks` does the damage with the commands a learner
    would type; :meth:`verdict` checks real traffic first, then the state it broke.
    :meth:`diagnosis` lists real commands that show the cause (``node: command``) and
    :meth:`fix` the documented repair, both for this lab's own addresses and bridge: nothing
    is hard-coded, so they hold for the ``article`` profile (172.17.42.1) as for ``modern``.
    The rules are Docker's own, from :mod:`labkit.core.firewall`.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    story: ClassVar[str]

    def breaks(self, lab: Lab, container: Container) -> None:
        """Break ``lab`` in this exercise's way, as seen from ``container``."""
        raise NotImplementedError

    def verdict(self, lab: Lab, container: Container) -> Check:
        """The check's verdict, before the fault's title is attached."""
        raise NotImplementedError

    def diagnosis(self, lab: Lab, container: Container) -> tuple[str, ...]:
        """Real commands that show the cause, as ``node: command``."""
        raise NotImplementedError

    def fix(self, lab: Lab, container: Container) -> str:
        """The documented repair, as a real command (``node: command``)."""
        raise NotImplementedError

    def check(self, lab: Lab, container: Container) -> Check:
        """Is it fixed? Real traffic first, then the state this exercise broke."""
        return replace(self.verdict(lab, container), title=self.title)

    def __repr__(self) -> str:
        return f"<Exercise {self.name}: {self.title}>"


# ------------------------------------------------------------------ helpers
def _network(lab: Lab, c: Container) -> tuple[str, str, str, str]:
    """The container's first network: (interface, bridge, subnet, gateway)."""
    name, ep = next(iter(c.networks.items()))
    net = lab.networks.get(name)
    return str(ep["ifname"]), net.bridge, net.subnet, str(ep["gateway"])


def _rule(args: list[str]) -> str:
    return " ".join(args)


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


def _present(flag: bool) -> str:
    return "present" if flag else "missing"


def _peer(lab: Lab, c: Container) -> Container:
    """Another container on ``c``'s first network: the first one there, or a new ``peer``."""
    net = next(iter(c.networks))
    for other in lab.containers.list():
        if other.name != c.name and net in other.networks:
            return other
    return lab.run("peer", network=net)


class _Outward(Exercise):
    """An exercise whose symptom is "the container cannot reach the outside world"."""

    def state(self, lab: Lab, c: Container) -> tuple[bool, tuple[str, str]]:
        """Is the broken state repaired, and the fact that says so."""
        raise NotImplementedError

    def hint(self, lab: Lab, c: Container) -> str:
        raise NotImplementedError

    def verdict(self, lab: Lab, container: Container) -> Check:
        c = container
        r = c.ping(lab.outside.ip, timeout=PING_TIMEOUT)
        state_ok, state = self.state(lab, c)
        facts = (("traffic", str(r)), state)
        hint = self.hint(lab, c)
        if r.ok and state_ok:
            return Check(self.name, True, f"{c.name} reaches {lab.outside.ip} again", facts=facts)
        if r.ok:
            msg = f"{c.name} gets out, but not the way Docker does it"
            return Check(self.name, False, msg, hint, facts)
        msg = f"{c.name} still cannot reach {lab.outside.ip}"
        return Check(self.name, False, msg, hint, facts)


# ------------------------------------------------------------------ 1. forwarding off
class Forwarding(_Outward):
    """``sysctl -w net.ipv4.ip_forward=0`` on the host: it stops routing between interfaces."""

    name = "forwarding"
    title = "forwarding is off"
    story = (
        "After a reboot the container cannot reach the world any more. The host itself "
        "can, and the container can still reach docker0."
    )

    def breaks(self, lab: Lab, container: Container) -> None:
        lab.host.exec_run("sysctl -w net.ipv4.ip_forward=0")

    def state(self, lab: Lab, c: Container) -> tuple[bool, tuple[str, str]]:
        value = lab.host.sysctl("net.ipv4.ip_forward")
        return value == "1", ("host net.ipv4.ip_forward", value)

    def hint(self, lab: Lab, c: Container) -> str:
        return (
            "find where the echo request stops: capture on docker0 and on the host's uplink "
            f"while {c.name} pings, and ask what the host does between the two"
        )

    def diagnosis(self, lab: Lab, container: Container) -> tuple[str, ...]:
        c, gateway = container, _network(lab, container)[3]
        return (
            f"{c.name}: ping -c1 -W1 {lab.outside.ip}",
            f"{c.name}: ping -c1 {gateway}",
            "host: sysctl net.ipv4.ip_forward",
        )

    def fix(self, lab: Lab, container: Container) -> str:
        return "host: sysctl -w net.ipv4.ip_forward=1"


# ------------------------------------------------------------------ 2. MASQUERADE missing
class Masquerade(_Outward):
    """Delete the bridge's MASQUERADE rule (nat POSTROUTING)."""

    name = "masquerade"
    title = "the MASQUERADE rule is missing"
    story = (
        "Someone 'cleaned up' the nat table. Packets from the container go out — a capture "
        "on the uplink shows them — but no answer ever comes back."
    )

    @staticmethod
    def rule(lab: Lab, c: Container) -> str:
        _, bridge, subnet, _ = _network(lab, c)
        return _rule(firewall.masquerade_rule(bridge, subnet))

    def breaks(self, lab: Lab, container: Container) -> None:
        lab.host.exec_run(f"iptables -t nat -D {self.rule(lab, container)}")

    def state(self, lab: Lab, c: Container) -> tuple[bool, tuple[str, str]]:
        rule = self.rule(lab, c)
        present = _rule_present(lab, "nat", rule)
        return present, (f"nat rule -A {rule}", _present(present))

    def hint(self, lab: Lab, c: Container) -> str:
        return (
            "capture on the host's uplink and in the outside world while the container pings, "
            "and read each packet's source address: could the server's reply find its way back?"
        )

    def diagnosis(self, lab: Lab, container: Container) -> tuple[str, ...]:
        return (
            "host: iptables -t nat -S POSTROUTING",
            f"host: tcpdump -ni eth0 icmp  (while {container.name} pings)",
        )

    def fix(self, lab: Lab, container: Container) -> str:
        return f"host: iptables -t nat -A {self.rule(lab, container)}"


# ------------------------------------------------------------------ 3. FORWARD ACCEPT missing
class ForwardAccept(_Outward):
    """Delete ``-A FORWARD -i BRIDGE ! -o BRIDGE -j ACCEPT``: the policy DROP takes over."""

    name = "forward-accept"
    title = "FORWARD policy DROP without Docker's ACCEPT rule"
    story = (
        "A firewall script deleted one rule it did not recognise. The container cannot "
        "reach the world, and on the uplink nothing from it appears at all."
    )

    @staticmethod
    def rule(lab: Lab, c: Container) -> str:
        return _rule(firewall.outbound_rule(_network(lab, c)[1]))

    def breaks(self, lab: Lab, container: Container) -> None:
        lab.host.exec_run(f"iptables -D {self.rule(lab, container)}")

    def state(self, lab: Lab, c: Container) -> tuple[bool, tuple[str, str]]:
        rule = self.rule(lab, c)
        present = _rule_present(lab, "filter", rule)
        return present, (f"filter rule -A {rule}", _present(present))

    def hint(self, lab: Lab, c: Container) -> str:
        return (
            "nothing reaches the uplink: zero the counters of the host's FORWARD chain "
            "(iptables -Z FORWARD), ping once, and see which rule or policy counted the packet "
            "(iptables -L FORWARD -v -n --line-numbers)"
        )

    def diagnosis(self, lab: Lab, container: Container) -> tuple[str, ...]:
        return ("host: iptables -S FORWARD", "host: iptables -L FORWARD -v -n")

    def fix(self, lab: Lab, container: Container) -> str:
        # dockerd inserts it as the fifth FORWARD rule (firewall.bridge_inserts)
        return f"host: iptables -I FORWARD 5 {self.rule(lab, container).removeprefix('FORWARD ')}"


# ------------------------------------------------------------------ 4. icc with br_netfilter
class Icc(Exercise):
    """Turn the bridge's container-to-container ACCEPT into DROP, as ``--icc=false`` writes it.

    With br_netfilter (``bridge-nf-call-iptables = 1``) bridged frames pass through
    iptables' FORWARD chain and meet the DROP. Without it, labkit's icc=False isolates the
    bridge ports instead, so this exercise does the same.
    """

    name = "icc"
    title = "containers on one bridge cannot talk (br_netfilter and a DROP rule)"
    story = (
        "Two containers on the same bridge cannot reach each other, yet both reach the "
        "world. The bridge is a switch: why would a switch care about iptables?"
    )

    @staticmethod
    def rule(lab: Lab, c: Container, icc: bool) -> str:
        return _rule(firewall.icc_rule(_network(lab, c)[1], icc))

    def breaks(self, lab: Lab, container: Container) -> None:
        c = container
        peer = _peer(lab, c)
        accept, drop = self.rule(lab, c, True), self.rule(lab, c, False)
        n = _rule_number(lab, accept)
        if n is not None:  # in place, where --icc=false would have written it
            lab.host.exec_run(f"iptables -R FORWARD {n} {drop.removeprefix('FORWARD ')}")
        elif not _rule_present(lab, "filter", drop):
            lab.host.exec_run(f"iptables -A {drop}")
        if not lab.info.get("br_netfilter", True):
            for node in (c, peer):
                veth = next(iter(node.networks.values()))["veth"]
                lab.host.exec_run(f"bridge link set dev {veth} isolated on")

    def verdict(self, lab: Lab, container: Container) -> Check:
        c = container
        _, bridge, _, _ = _network(lab, c)
        peer = _peer(lab, c)
        r = c.ping(peer.ip, timeout=PING_TIMEOUT)
        nf = lab.host.sysctl("net.bridge.bridge-nf-call-iptables")
        accept_rule, drop_rule = self.rule(lab, c, True), self.rule(lab, c, False)
        drop = _rule_present(lab, "filter", drop_rule)
        accept = _rule_present(lab, "filter", accept_rule)
        facts: tuple[tuple[str, str], ...] = (
            ("traffic", str(r)),
            ("host net.bridge.bridge-nf-call-iptables", nf),
            (f"filter rule -A {drop_rule}", _present(drop)),
            (f"filter rule -A {accept_rule}", _present(accept)),
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
            msg = f"{c.name} and {peer.name} talk across {bridge}"
            return Check(self.name, True, msg, facts=facts)
        if r.ok and nf == "0":
            return Check(
                self.name,
                False,
                f"{c.name} reaches {peer.name}, but only because bridged frames skip iptables now",
                "with bridge-nf-call-iptables = 0 no iptables rule sees traffic inside a bridge: "
                "Docker's icc=false would stop working too. Set it back to 1 and fix the rule "
                "instead",
                facts,
            )
        if r.ok:
            return Check(
                self.name,
                False,
                f"{c.name} reaches {peer.name}, but the rules are not Docker's",
                f"Docker with icc on has exactly '-A {accept_rule}' "
                "and no DROP rule for the same pair of interfaces",
                facts,
            )
        return Check(
            self.name,
            False,
            f"{c.name} still cannot reach {peer.name} on the same bridge",
            "the two containers share one bridge, yet something stops them: zero the FORWARD "
            "chain's counters (iptables -Z FORWARD), ping once, and see what counted the packet",
            facts,
        )

    def diagnosis(self, lab: Lab, container: Container) -> tuple[str, ...]:
        return (
            "host: sysctl net.bridge.bridge-nf-call-iptables",
            "host: iptables -S FORWARD",
            "host: iptables -L FORWARD -v -n",
        )

    def fix(self, lab: Lab, container: Container) -> str:
        accept = self.rule(lab, container, True).removeprefix("FORWARD ")
        return f"host: iptables -R FORWARD N {accept} (N: the DROP rule's position)"


# ------------------------------------------------------------------ 5. no default route
class DefaultRoute(_Outward):
    """``ip route del default`` inside the container."""

    name = "default-route"
    title = "the container has no default route"
    story = (
        "A container reaches the other containers and docker0, but nothing beyond. The "
        "host is fine and other containers reach the world."
    )

    def breaks(self, lab: Lab, container: Container) -> None:
        container.exec_run("ip route del default")

    def state(self, lab: Lab, c: Container) -> tuple[bool, tuple[str, str]]:
        routes = c.exec_run("ip route show default").output.strip()
        gateway = _network(lab, c)[3]
        return f"default via {gateway} " in routes + " ", (
            f"{c.name}: ip route show default",
            routes or "(none)",
        )

    def hint(self, lab: Lab, c: Container) -> str:
        return (
            f"does the packet even leave {c.name}? Ask its kernel how it would reach the "
            f"outside server (ip route get {lab.outside.ip} inside {c.name})"
        )

    def diagnosis(self, lab: Lab, container: Container) -> tuple[str, ...]:
        c = container
        return (f"{c.name}: ip route", f"{c.name}: ip route get {lab.outside.ip}")

    def fix(self, lab: Lab, container: Container) -> str:
        return f"{container.name}: ip route add default via {_network(lab, container)[3]}"


# ------------------------------------------------------------------ registry
EXERCISES: dict[str, Exercise] = {
    ex.name: ex for ex in (Forwarding(), Masquerade(), ForwardAccept(), Icc(), DefaultRoute())
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
