"""One packet's trip through a lab, sent while a capture watches every point on its way.

What the live panel (:mod:`labkit.widgets`) does when you press *send*, without widgets::

    from labkit.client.trip import OUTSIDE, send
    r = send(lab, "c1", OUTSIDE)              # ping the outside world from c1
    r.answered, r.detail, r.capture           # ✔/✘, what came back, the capture

The points are the source's ``eth0``, its host-side veth and its bridge, then the host's
uplink and the outside's ``eth0`` (for :data:`OUTSIDE`), or the target's veth and
interface (for a container); the gateway (:data:`GATEWAY`) ends at the bridge.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labkit.errors import InvalidArgument, LabkitError

if TYPE_CHECKING:
    from labkit.client.lab import Lab
    from labkit.client.models import Container

__all__ = ["OUTSIDE", "GATEWAY", "UDP_PORT", "TIMEOUT", "SendResult", "send", "capture_points"]

OUTSIDE = "outside"
"""Target value for the outside world's server (``lab.outside.ip``)."""
GATEWAY = "gateway"
"""Target value for the source container's gateway: its bridge's own address (docker0's,
``lab.gateway``, on the default network)."""

#: The UDP port a trip sends to. Nothing listens there: the answer is the target
#: kernel's ICMP "port unreachable", which proves the datagram arrived.
UDP_PORT = 9999
#: Seconds to wait for an answer; short, so a broken path fails fast in the notebook.
TIMEOUT = 1.0


@dataclass
class SendResult:
    """What :func:`send` did: the path, the verdict and the capture it took."""

    source: str
    target: str
    """The target as given: a container name, :data:`OUTSIDE` or :data:`GATEWAY`."""
    dst: str
    """The destination IP address the packet was sent to."""
    proto: str
    """``"ping"`` or ``"udp"``."""
    answered: bool
    """An answer came back (echo reply; for UDP any reply, e.g. ICMP port unreachable)."""
    detail: str
    """One line saying what came back, or that nothing did."""
    capture: Any
    """The ``lab.capture(...)`` taken while sending (a :class:`labkit.packets.Capture`)."""

    def __bool__(self) -> bool:
        return self.answered


def default_bridge(lab: Lab) -> str:
    """The default network's bridge (``docker0``), as the lab names it."""
    try:
        return lab.networks.get("bridge").bridge
    except LabkitError:
        return "docker0"


def endpoint(c: Container, network: str | None = None) -> tuple[str, dict[str, Any]]:
    """``c``'s endpoint on ``network`` (default: its first network): (network, endpoint)."""
    nets = c.networks
    if network is not None and network in nets:
        return network, nets[network]
    name = next(iter(nets))
    return name, nets[name]


def gateway_of(lab: Lab, src: str | None) -> tuple[str, str]:
    """(bridge, gateway address) of container ``src``'s first network, or docker0's."""
    if src:
        try:
            net, ep = endpoint(lab.containers.get(src))
            return lab.networks.get(net).bridge, str(ep["gateway"])
        except (LabkitError, KeyError, StopIteration):
            pass
    return default_bridge(lab), lab.gateway


def target_ip(lab: Lab, target: str, src: str | None = None) -> str:
    """The address ``target`` is reached at from ``src``: on a network they share, if any."""
    if target == OUTSIDE:
        return lab.outside.ip
    if target == GATEWAY:
        return gateway_of(lab, src)[1]
    other = lab.containers.get(target)
    if src:
        net, _ = endpoint(lab.containers.get(src))
        if net in other.networks:
            return str(other.networks[net]["ip"])
    return other.ip


def target_label(lab: Lab, target: str, src: str | None = None) -> str:
    """How a target reads in a list: ``outside (203.0.113.10)``, ``docker0 gateway (…)``."""
    if target == OUTSIDE:
        return f"outside ({lab.outside.ip})"
    if target == GATEWAY:
        bridge, ip = gateway_of(lab, src)
        return f"{bridge} gateway ({ip})"
    return target


def uplink(lab: Lab) -> str:
    """The Docker host's uplink interface (``eth0``), read from a snapshot."""
    from labkit.views.diagram import find_uplink

    host = lab.snapshot().data["nodes"]["host"]
    return find_uplink(host) or "eth0"


def capture_points(lab: Lab, src: str, target: str) -> list[str]:
    """The capture points on the way from container ``src`` to ``target``.

    Always the source's interface on its first network (``eth0``), its host-side veth and
    that network's bridge (``docker0`` on the default network); then the host's uplink and
    the outside's ``eth0`` for :data:`OUTSIDE`, or the target's veth and interface for a
    container (on the same network when they share one, else on the target's first
    network, behind its own bridge). The gateway ends at the bridge.
    """
    source = lab.containers.get(src)
    net, ep = endpoint(source)
    bridge = lab.networks.get(net).bridge
    points = [f"{src}:{ep['ifname']}", f"host:{ep['veth']}", f"host:{bridge}"]
    if target == OUTSIDE:
        points += [f"host:{uplink(lab)}", "outside:eth0"]
    elif target != GATEWAY:
        other = lab.containers.get(target)
        tnet, tep = endpoint(other, net)
        if tnet != net:
            points.append(f"host:{lab.networks.get(tnet).bridge}")
        points += [f"host:{tep['veth']}", f"{target}:{tep['ifname']}"]
    return points


def send(lab: Lab, src: str, target: str, proto: str = "ping") -> SendResult:
    """Send from container ``src`` to ``target`` inside ``lab.capture(...)`` at every point.

    ``target`` is another container's name, :data:`OUTSIDE` or :data:`GATEWAY`; ``proto``
    is ``"ping"`` (one ICMP echo) or ``"udp"`` (a datagram to port 9999, answered by the
    target kernel's ICMP port unreachable). Bad input raises
    :class:`~labkit.errors.InvalidArgument` (or ``NotFound`` for an unknown container).
    """
    proto = str(proto).lower()
    if proto not in ("ping", "udp"):
        raise InvalidArgument(f"protocol must be 'ping' or 'udp', not {proto!r}")
    if not src:
        raise InvalidArgument("no source container: start one first")
    if target == src:
        raise InvalidArgument(f"pick a target other than the source {src!r}")
    source = lab.containers.get(src)
    dst = target_ip(lab, target, src)
    points = capture_points(lab, src, target)
    with lab.capture(*points) as cap:
        if proto == "ping":
            answer = source.ping(dst, count=1, timeout=TIMEOUT)
            answered = bool(answer)
            rtt = answer.replies[0].get("rtt_ms") if answer.replies else None
            detail = (
                f"echo reply from {answer.replies[0].get('reply_from')} in {rtt:.2f} ms"
                if answered and rtt is not None
                else f"no echo reply within {TIMEOUT:g} s"
            )
        else:
            from scapy.layers.inet import IP, UDP

            # a fresh source port each time: an old conntrack entry (NATed before the rule
            # went) must not carry this datagram
            sport = random.randint(20000, 60999)
            pkt = IP(dst=dst) / UDP(sport=sport, dport=UDP_PORT) / b"hello from labkit"
            reply = source.sr1(pkt, timeout=TIMEOUT)
            answered = reply is not None
            if reply is None:
                detail = f"no answer within {TIMEOUT:g} s"
            else:
                detail = f"answer: {reply.summary()}"
                if "port-unreachable" in detail:
                    detail += f" (nobody listens on {UDP_PORT}: the datagram arrived)"
    return SendResult(src, target, dst, proto, answered, detail, cap)
