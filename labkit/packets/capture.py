"""What capture points saw, for the notebook: scapy PacketLists, pcaps, HTML, hops.

A capture point is named ``"node:ifname"`` (``"c1:eth0"``, ``"host:docker0"``). The daemon
hands the raw frames of each point, ``(raw_bytes, time, linktype)``, to :class:`Capture`;
nothing here needs privileges or touches the network.

The same packet usually crosses several points: it leaves ``c1:eth0``, crosses
``host:docker0`` and leaves ``host:eth0`` after NAT rewrote its source. :class:`Capture`
lines those copies up (see :meth:`Capture.matches`) using what NAT does not change: the IP
id, the protocol, the length and the transport payload (plus TCP sequence numbers, ICMP
type/code/seq; not the ICMP id, which NAT may rewrite). The n-th copy of a key at one point
matches the n-th copy at another, so repeated identical packets still line up in order.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping
from typing import Any

import scapy.layers.dns  # noqa: F401 - so DNS payloads decode
import scapy.layers.inet6  # noqa: F401 - so IPv6 frames decode
from scapy.config import conf
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw
from scapy.plist import PacketList

__all__ = ["Capture", "Frame", "match_key"]

#: One captured frame as the agent returns it: raw bytes, capture time, pcap linktype.
Frame = tuple[bytes, float, int]

_ICMP_ERRORS = {3, 4, 5, 11, 12}
_PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp"}
_MAX_HTML_ROWS = 200
_MATCHED = (
    "(matched by IP id, protocol and payload; highlighted: rewritten on the way, e.g. by NAT)"
)


def _decode(raw: bytes, t: float, linktype: int, point: str) -> Packet:
    """Decode one frame like a capture tool would (Ether for linktype 1)."""
    cls = Ether if linktype == 1 else conf.l2types.num2layer.get(linktype, Raw)
    try:
        pkt = cls(raw)
    except Exception:  # noqa: BLE001 - undecodable frames stay visible as Raw
        pkt = Raw(raw)
    pkt.time = float(t)
    pkt.sniffed_on = point
    return pkt


def match_key(pkt: Packet) -> tuple[Any, ...] | None:
    """What identifies an IP packet across NAT (None for packets without IP).

    IPv6 has no identification field: its payload length, next header, flow label and the
    bytes after the addresses' checksum-free part identify it (NAT rewrites addresses,
    and with them the checksums; ICMPv6 echoes keep their id, sequence and data).

    A VXLAN packet (an overlay network's frame between two hosts) is identified by the
    frame it carries, so the same ping matches inside the containers and on the uplinks."""
    if pkt.haslayer(VXLAN):
        return match_key(pkt[VXLAN].payload)
    ip = pkt.getlayer(IP)
    if ip is None:
        ip6 = pkt.getlayer("IPv6")
        if ip6 is None:
            return None
        l4 = ip6.payload
        for field in ("id", "seq", "data"):
            if not hasattr(l4, field):
                break
        else:
            return (6, ip6.plen, ip6.nh, ip6.fl, l4.type, l4.id, l4.seq, bytes(l4.data))
        return (6, ip6.plen, ip6.nh, ip6.fl, bytes(l4.payload))
    base: tuple[Any, ...] = (ip.id, ip.proto, ip.len)
    l4 = ip.payload
    if isinstance(l4, UDP):
        return (*base, bytes(l4.payload))
    if isinstance(l4, TCP):
        return (*base, l4.seq, l4.ack, int(l4.flags), bytes(l4.payload))
    if isinstance(l4, ICMP):
        if l4.type in _ICMP_ERRORS:
            inner = l4.getlayer(IP, 2)  # the quoted packet: its addresses are NATed too
            quoted = (inner.id, inner.proto) if inner is not None else ()
            return (*base, l4.type, l4.code, *quoted)
        return (*base, l4.type, l4.code, l4.seq, bytes(l4.payload))
    return (*base, bytes(l4))


def _split_point(point: str) -> tuple[str, str | None]:
    node, sep, ifname = point.rpartition(":")
    return (node, ifname) if sep else (point, None)


def _addresses(pkt: Packet) -> dict[str, Any]:
    """src, dst, proto, sport, dport of a packet (IP first, then ARP / Ether)."""
    ip = pkt.getlayer(IP)
    out: dict[str, Any] = {"src": None, "dst": None, "proto": None, "sport": None, "dport": None}
    if ip is not None:
        out["src"], out["dst"] = ip.src, ip.dst
        out["proto"] = _PROTO_NAMES.get(ip.proto, str(ip.proto))
        l4 = ip.payload
        if isinstance(l4, (TCP, UDP)):
            out["sport"], out["dport"] = int(l4.sport), int(l4.dport)
        return out
    for layer_name, src, dst in (("ARP", "psrc", "pdst"), ("IPv6", "src", "dst")):
        layer = pkt.getlayer(layer_name)
        if layer is not None:
            out["src"], out["dst"] = getattr(layer, src), getattr(layer, dst)
            out["proto"] = layer_name.lower()
            return out
    if isinstance(pkt, Ether):
        out["src"], out["dst"], out["proto"] = pkt.src, pkt.dst, f"ether 0x{pkt.type:04x}"
    return out


def _cell(a: dict[str, Any], ref: dict[str, Any], field: str, port: str) -> str:
    """One endpoint in HTML, highlighted when it differs from the first copy's (NAT)."""
    text = html.escape(_endpoint(a[field], a[port]))
    changed = (a[field], a[port]) != (ref[field], ref[port])
    return f'<span class="chg">{text}</span>' if changed else text


def _endpoint(addr: Any, port: Any) -> str:
    if addr is None:
        return "?"
    return f"{addr}:{port}" if port is not None else str(addr)


class Capture(Mapping[str, PacketList]):
    """Frames seen at named capture points, decoded with scapy.

    ``Capture`` is a read-only mapping: ``cap["c1:eth0"]`` is a scapy ``PacketList``,
    iterating yields point names (in the order given), ``len(cap)`` is the number of points.

    :param points: ``{"node:ifname": [(raw_bytes, time, linktype), ...]}``, as the probe
        agent's ``sniff_stop`` returns them. Linktype 1 is decoded with ``Ether``, others
        with scapy's ``conf.l2types``.
    :param failed: ``{point: why}`` for points whose capture failed (their agent died);
        they are in the mapping with no packets.
    :param drops: ``{point: {"kernel": n, "limit_reached": bool}}``: frames the kernel
        dropped (the socket buffer was full) and whether the capture's limit cut it short.
    """

    def __init__(
        self,
        points: Mapping[str, list[Frame]],
        failed: Mapping[str, str] | None = None,
        drops: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        #: points whose capture failed, and why
        self.failed: dict[str, str] = dict(failed or {})
        #: per point: ``kernel`` drops and ``limit_reached``
        self.drops: dict[str, dict[str, Any]] = {p: dict(d) for p, d in (drops or {}).items()}
        self._frames: dict[str, list[Frame]] = {}
        self._lists: dict[str, PacketList] = {}
        for point, frames in points.items():
            frames = [(bytes(raw), float(t), int(lt)) for raw, t, lt in frames]
            self._frames[point] = frames
            self._lists[point] = PacketList(
                [_decode(raw, t, lt, point) for raw, t, lt in frames], name=point
            )
        self._linktypes = {
            id(pkt): frame[2]
            for point, pl in self._lists.items()
            for pkt, frame in zip(pl, self._frames[point], strict=True)
        }
        self._matches: list[dict[str, int]] | None = None

    # --- mapping --------------------------------------------------------------------------
    def __getitem__(self, point: str) -> PacketList:
        try:
            return self._lists[point]
        except KeyError:
            known = ", ".join(self._lists) or "none"
            raise KeyError(f"no capture point {point!r} (points: {known})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._lists)

    def __len__(self) -> int:
        return len(self._lists)

    @property
    def points(self) -> list[str]:
        """The capture point names, in the order given."""
        return list(self._lists)

    def frames(self, point: str) -> list[Frame]:
        """The raw frames of one point, exactly as captured."""
        self[point]  # noqa: B018 - raises a helpful KeyError
        return list(self._frames[point])

    @property
    def start_time(self) -> float | None:
        """Time of the earliest packet over all points (None when nothing was captured)."""
        times = [p.time for pl in self._lists.values() for p in pl]
        return float(min(times)) if times else None

    def merged(self) -> list[tuple[str, Packet]]:
        """Every packet of every point as ``(point, packet)``, sorted by capture time."""
        rank = {name: i for i, name in enumerate(self._lists)}
        allp = [(name, p) for name, pl in self._lists.items() for p in pl]
        allp.sort(key=lambda item: (float(item[1].time), rank[item[0]]))
        return allp

    # --- saving ---------------------------------------------------------------------------
    def save(self, path: str, point: str | None = None) -> None:
        """Write a capture file readable by Wireshark / tcpdump / ``rdpcap``.

        With ``point``, only that point's packets. Without, *all points merged by capture
        time* into one file: a packet that crossed three points appears three times. A
        classic ``.pcap`` cannot say which point a packet came from and needs one linktype;
        give a path ending in ``.pcapng`` to keep it: each point becomes a pcapng interface
        named after it (``rdpcap`` sets ``pkt.sniffed_on``), and each packet carries the
        point as a comment.
        """
        from scapy.utils import PcapNgWriter, PcapWriter

        items = [(point, p) for p in self[point]] if point is not None else self.merged()
        if str(path).endswith(".pcapng"):
            with PcapNgWriter(str(path)) as writer:
                for name, pkt in items:
                    pkt.sniffed_on = name
                    pkt.comments = [name.encode()]
                    writer.write(pkt)
            return
        linktypes = {self._linktype_of(name, pkt) for name, pkt in items}
        if len(linktypes) > 1:
            raise ValueError(
                f"the points have different link types {sorted(linktypes)}; a .pcap holds "
                "one. Save one point (point=...) or use a .pcapng path."
            )
        linktype = linktypes.pop() if linktypes else 1
        with PcapWriter(str(path), linktype=linktype, sync=False) as writer:
            if not items:
                writer.write_header(None)
            for _, pkt in items:
                writer.write(pkt)

    def _linktype_of(self, point: str, pkt: Packet) -> int:
        return self._linktypes.get(id(pkt), 1)

    # --- matching -------------------------------------------------------------------------
    def matches(self) -> list[dict[str, int]]:
        """Packets seen at two points or more, as ``{point: index in cap[point]}``.

        Ordered by the time the packet was first seen. With a single point, every IPv4
        packet of it is its own match.
        """
        if self._matches is None:
            groups: dict[tuple[Any, ...], dict[str, int]] = {}
            for point, pl in self._lists.items():
                seen: dict[tuple[Any, ...], int] = {}
                for idx, pkt in enumerate(pl):
                    key = match_key(pkt)
                    if key is None:
                        continue
                    n = seen.get(key, 0)
                    seen[key] = n + 1
                    groups.setdefault((key, n), {})[point] = idx
            needed = 2 if len(self._lists) > 1 else 1
            found = [g for g in groups.values() if len(g) >= needed]
            found.sort(key=lambda g: min(float(self._lists[p][i].time) for p, i in g.items()))
            self._matches = found
        return [dict(g) for g in self._matches]

    def hops(self, index: int = 0, order: str = "points") -> list[dict[str, Any]]:
        """The ``index``-th matched packet, one dict per point that saw it.

        Each dict has ``point, node, ifname, src, dst, proto, sport, dport, summary, time``
        (``node``/``ifname`` split from ``"node:ifname"``). ``order="points"`` keeps the
        order the points were given; ``order="time"`` follows the packet (a reply crosses
        the points in reverse).
        """
        found = self.matches()
        if not found:
            raise IndexError("no packet was seen at two capture points")
        if not -len(found) <= index < len(found):
            raise IndexError(f"hop index {index} out of range: {len(found)} matched packets")
        group = found[index]
        hops = []
        for point in self._lists:
            if point not in group:
                continue
            pkt = self._lists[point][group[point]]
            node, ifname = _split_point(point)
            hop: dict[str, Any] = {"point": point, "node": node, "ifname": ifname}
            hop.update(_addresses(pkt))
            if pkt.haslayer(VXLAN):  # the outer header's addresses, and what it carries
                hop["vni"] = int(pkt[VXLAN].vni)
                hop["inner"] = _addresses(pkt[VXLAN].payload)
            hop["summary"] = pkt.summary()
            hop["time"] = float(pkt.time)
            hops.append(hop)
        if order == "time":
            hops.sort(key=lambda h: h["time"])
        elif order != "points":
            raise ValueError("order is 'points' or 'time'")
        return hops

    @property
    def dropped(self) -> int:
        """Frames lost at all points: dropped by the kernel (full socket buffer)."""
        return sum(int(d.get("kernel", 0)) for d in self.drops.values())

    def _losses(self, point: str) -> str:
        """What was lost at one point, in words ('' when nothing)."""
        if point in self.failed:
            return f"FAILED: {self.failed[point]}"
        d = self.drops.get(point, {})
        words = []
        if d.get("kernel"):
            words.append(f"{d['kernel']} dropped by the kernel")
        if d.get("limit_reached"):
            words.append("stopped at its packet limit")
        if d.get("not_returned"):
            words.append(f"{d['not_returned']} not returned (too much for one reply)")
        return "; ".join(words)

    # --- display --------------------------------------------------------------------------
    def __repr__(self) -> str:
        counts = (
            ", ".join(
                f"{p}: {len(pl)}" + (f" ({self._losses(p)})" if self._losses(p) else "")
                for p, pl in self._lists.items()
            )
            or "no points"
        )
        return f"<Capture {counts}; {len(self.matches())} packets matched across points>"

    def _repr_html_(self) -> str:
        from labkit.i18n import tr  # the words follow labkit.set_language; the packets don't

        esc = html.escape
        t0 = self.start_time or 0.0
        style = (
            "<style>.labkit-cap td,.labkit-cap th{padding:2px 8px;text-align:left;"
            "font-family:monospace;font-size:12px}.labkit-cap .chg{background:#ffe9a8;"
            "font-weight:bold}</style>"
        )
        parts = [style, '<div class="labkit-cap">']
        counts = tr("{n} points, {m} packets seen at several points").format(
            n=len(self), m=len(self.matches())
        )
        parts.append(f"<p><b>{esc(tr('Capture'))}</b>: {esc(counts)}</p>")
        merged = self._html_alignment(t0)
        parts.append(merged)
        # The merged table is the story; the per-point lists are there to dig into, so they
        # start collapsed when the merged table is shown.
        fold = "<details>" if merged else "<details open>"
        for point, pl in self._lists.items():
            lost = self._losses(point)
            lost_html = f" <b style='color:#e03131'>({esc(lost)})</b>" if lost else ""
            parts.append(
                f"{fold}<summary><b>{esc(point)}</b> — "
                f"{esc(tr('{n} packets').format(n=len(pl)))}{lost_html}</summary><table><tr>"
                f"<th>#</th><th>t (ms)</th><th>{esc(tr('src → dst'))}</th>"
                f"<th>{esc(tr('summary'))}</th></tr>"
            )
            for i, pkt in enumerate(pl[:_MAX_HTML_ROWS]):
                a = _addresses(pkt)
                flow = f"{_endpoint(a['src'], a['sport'])} → {_endpoint(a['dst'], a['dport'])}"
                parts.append(
                    f"<tr><td>{i}</td><td>{(float(pkt.time) - t0) * 1000:.3f}</td>"
                    f"<td>{esc(flow)}</td><td>{esc(pkt.summary())}</td></tr>"
                )
            if len(pl) > _MAX_HTML_ROWS:
                more = tr("… {n} more").format(n=len(pl) - _MAX_HTML_ROWS)
                parts.append(f"<tr><td colspan=4>{esc(more)}</td></tr>")
            parts.append("</table></details>")
        parts.append("</div>")
        return "".join(parts)

    def _html_alignment(self, t0: float) -> str:
        """The 'same packet across points' table; rewritten fields are highlighted."""
        from labkit.i18n import tr

        esc = html.escape
        found = self.matches()
        if len(self._lists) < 2 or not found:
            return ""
        points = list(self._lists)
        rows = [
            f"<details open><summary><b>{esc(tr('Same packet across points'))}</b> "
            f"{esc(tr(_MATCHED))}</summary>"
            "<table><tr><th>#</th><th>proto</th>"
            + "".join(f"<th>{esc(p)}</th>" for p in points)
            + "</tr>"
        ]
        for n, group in enumerate(found[:_MAX_HTML_ROWS]):
            first_point = min(group, key=lambda p: float(self._lists[p][group[p]].time))
            ref = _addresses(self._lists[first_point][group[first_point]])
            cells = []
            for point in points:
                if point not in group:
                    cells.append("<td>—</td>")
                    continue
                pkt = self._lists[point][group[point]]
                a = _addresses(pkt)

                when = (float(pkt.time) - t0) * 1000
                cells.append(
                    f"<td>{_cell(a, ref, 'src', 'sport')} → {_cell(a, ref, 'dst', 'dport')}"
                    f"<br><small>+{when:.3f} ms</small></td>"
                )
            rows.append(f"<tr><td>{n}</td><td>{esc(str(ref['proto']))}</td>{''.join(cells)}</tr>")
        rows.append("</table></details>")
        return "".join(rows)
