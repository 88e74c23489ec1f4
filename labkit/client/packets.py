"""Packets from the notebook: captures at several points, and ping/send/sr1 from a node.

Learners build packets with plain scapy (``IP(dst=...)/ICMP()``); labkit ships only the
fields they set (:func:`labkit.packets.describe`) to the node's probe agent, which builds
and sends the packet inside the node, so every default (the source address!) comes from
the node's own routes. Captures come back as real scapy ``PacketList`` objects.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from labkit.errors import LabkitError
from labkit.packets.capture import Capture

if TYPE_CHECKING:
    from labkit.client.lab import Lab


class LabCapture(Capture):
    """A capture running in a lab: a context manager that becomes a :class:`Capture`.

    ``with lab.capture("c1:eth0", "host:eth0") as cap: ...`` starts a sniffer at every
    point (confirmed running before the block starts) and stops them all when it ends;
    then ``cap["host:eth0"]`` is a scapy ``PacketList``, ``cap`` shows itself as tables,
    ``cap.save("trip.pcap")`` writes a pcap and ``lab.diagram(flow=cap)`` draws the path.
    """

    def __init__(
        self, lab: Lab, points: tuple[str, ...], match: dict[str, Any] | None = None
    ) -> None:
        super().__init__({p: [] for p in points})
        self._lab = lab
        self._match = match
        self._requested = points
        self._handle: int | None = None
        self.running = False

    def start(self) -> LabCapture:
        if self.running:
            raise LabkitError("this capture is already running")
        self._handle = self._lab.api.capture_start(list(self._requested), self._match)
        self.running = True
        return self

    def stop(self) -> LabCapture:
        """Stop the sniffers and take in what they saw (harmless when already stopped)."""
        if self.running and self._handle is not None:
            self.running = False
            got = self._lab.api.capture_stop(self._handle)
            frames, failed = got["frames"], got["failed"]
            super().__init__(
                {p: frames.get(p, []) for p in self._requested}, failed=failed, drops=got["drops"]
            )
        return self

    def __enter__(self) -> LabCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self.running:
            return f"<LabCapture running at {', '.join(self._requested)}>"
        return super().__repr__()


@dataclass
class PingResult:
    """The answers to a ping sent by a node's probe agent (scapy's ICMP echo)."""

    source: str
    target: str
    replies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every echo request was answered."""
        return bool(self.replies) and all(r.get("rtt_ms") is not None for r in self.replies)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        got = sum(r.get("rtt_ms") is not None for r in self.replies)
        return f"{self.source} → {self.target}: {got}/{len(self.replies)} answered"

    def _repr_html_(self) -> str:
        mark = "✔" if self.ok else "✘"
        return f"<p>{mark} {html.escape(str(self))}</p>"


def decode_ip(raw: bytes | None, linktype: int | None = None) -> Any:
    """Raw bytes from an agent → a scapy packet (IP unless the link type says Ethernet)."""
    if raw is None:
        return None
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether

    return Ether(raw) if linktype == 1 else IP(raw)
