"""The capture filter ``match={...}`` on raw frames: scapy's answer, without scapy.

A probe agent keeps the frames a capture point sees when they match ``{"proto", "host",
"port"}``. The agent used to decode every frame with scapy and ask ``pkt.haslayer(...)``;
this module walks the same headers over the bytes, with the same rules, so that an agent
that only captures never imports scapy. What "the same" means is scapy's (2.8) dissection
with the layers an agent loads (``scapy.layers.l2/inet/inet6/dns/vxlan``):

* ``proto`` names one layer *class* anywhere in the decoded frame: ``ip`` is an ``IP``
  header (an IPv4 header quoted inside an ICMP error is scapy's ``IPerror`` and does not
  count, nor do the TCP/UDP/ICMP headers it quotes), ``ip6`` an ``IPv6`` header, and so on.
  Frames inside VXLAN (UDP ports 4789, 4790, 6633, 8472, 48879, as scapy binds them),
  802.1Q/802.1ad tags, IP-in-IP, 6in4, GRE and IPv6 extension headers (hop-by-hop,
  routing, fragment, destination options) are looked into, as scapy does.
* ``icmp6``: an ``IPv6`` header whose first one's next header is 58 (ICMPv6, NDP, MLD).
* ``host``: the first ``IP`` header's src/dst if there is one, else the first ``IPv6``
  header's, else the ARP psrc/pdst; no such header, no match.
* ``port``: the first ``TCP`` header's sport/dport, else the first ``UDP`` header's.

A layer scapy could not decode (a truncated header) becomes raw bytes there, and so
does everything after it: the same happens here, and no frame makes :func:`matcher`'s
function raise. Known gaps (frames no lab produces): headers inside ESP/AH, the IPv6
mobility header, GRE with the PPTP or routing variants, IPv4 headers
whose ``ihl`` is below 5, and link types other than Ethernet and raw IPv4/IPv6.

Pure functions, standard library only (``socket`` for address formatting).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

__all__ = ["PROTOS", "Decoded", "decode", "matcher", "linktype", "validate"]

#: the ``proto`` values a match may name
PROTOS = ("arp", "icmp", "icmp6", "ip", "ip6", "tcp", "udp")
_KEYS = ("proto", "host", "port")

DLT_EN10MB = 1
DLT_RAW_IPV4 = 228
DLT_RAW_IPV6 = 229


class _Fail(Exception):
    """This layer cannot be decoded (scapy would make it, and what follows, raw bytes)."""


class Decoded:
    """The headers :func:`decode` found, in scapy's order (outermost first)."""

    __slots__ = ("names", "ip", "ip6", "arp", "l4")

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.ip: tuple[str, str] | None = None
        self.ip6: tuple[str, str, int] | None = None
        self.arp: tuple[Any, Any] | None = None
        #: first TCP and first UDP (sport, dport)
        self.l4: dict[str, tuple[int, int]] = {}

    def add(self, name: str, value: Any = None) -> None:
        self.names.add(name)
        if name == "ip" and self.ip is None:
            self.ip = value
        elif name == "ip6" and self.ip6 is None:
            self.ip6 = value
        elif name == "arp" and self.arp is None:
            self.arp = value
        elif name in ("tcp", "udp") and name not in self.l4:
            self.l4[name] = value


def _u16(s: bytes, i: int) -> int:
    if len(s) < i + 2:
        raise _Fail
    return (s[i] << 8) | s[i + 1]


def _need(s: bytes, n: int) -> None:
    if len(s) < n:
        raise _Fail


def _addr4(b: bytes) -> str:
    return socket.inet_ntoa(b)


def _addr6(b: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, b)


# --- one function per scapy class: decode the header (raise _Fail as scapy would raise),
# record it, then hand its payload to the class scapy would guess. A payload that fails
# is simply not recorded (scapy: Raw). ----------------------------------------------------


def _child(out: Decoded, cls: str | None, s: bytes, err6: bool = False) -> None:
    if not s or cls is None:
        return
    try:
        _LAYERS[cls](out, s, err6)
    except (_Fail, IndexError, ValueError, OSError):
        pass


def _ether(out: Decoded, s: bytes, err6: bool) -> None:
    if len(s) >= 14 and _u16(s, 12) <= 1500:  # Ether.dispatch_hook: 802.3
        _dot3(out, s, err6)
        return
    _need(s, 14)
    etype = _u16(s, 12)
    out.add("ether")
    _child(out, _ETHER_TYPES.get(etype), s[14:], err6)


def _dot3(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 14)
    length = _u16(s, 12)
    _child(out, "llc", s[14:][:length], err6)


def _llc(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 3)
    if s[0] == 0xAA and s[1] == 0xAA and s[2] == 3:
        _child(out, "snap", s[3:], err6)


def _snap(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 5)
    code = _u16(s, 3)
    cls = {0x8100: "dot1q", 1: "ether", 0x0806: "arp", 0x0800: "ip", 0x86DD: "ip6"}.get(code)
    _child(out, cls, s[5:], err6)


def _dot1q(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 4)
    etype = _u16(s, 2)
    pay = s[4:][:etype] if etype <= 1500 else s[4:]
    cls = _ETHER_TYPES.get(etype)
    if cls is None and etype <= 1500:
        cls = "llc"
    _child(out, cls, pay, err6)


def _dot1ah(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 4)
    _child(out, "ether", s[4:], err6)


def _arp(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 8)
    hwtype, ptype, hwlen, plen = _u16(s, 0), _u16(s, 2), s[4], s[5]
    i = 8
    addrs: list[Any] = []
    for kind in ("hw", "p", "hw", "p"):
        if kind == "hw":
            if hwtype == 1 and hwlen == 6:
                _need(s, i + 6)
            i += hwlen
            continue
        if ptype == 0x0800 and plen == 4:
            _need(s, i + 4)
            addrs.append(_addr4(s[i : i + 4]))
        elif ptype == 0x86DD and plen == 16:
            _need(s, i + 16)
            addrs.append(_addr6(s[i : i + 16]))
        else:
            addrs.append(s[i : i + plen])  # raw bytes: never equal to a host string
        i += plen
    out.add("arp", (addrs[0], addrs[1]))


def _ip_fields(s: bytes) -> tuple[int, int, int, bytes]:
    """(proto, frag, header end, payload) of an IPv4 header, as scapy's IP slices it."""
    _need(s, 20)
    ihl = s[0] & 0x0F
    total = _u16(s, 2)
    frag = _u16(s, 6) & 0x1FFF
    proto = s[9]
    opts = ihl * 4 - 20
    rest = s[20:][opts:]
    tmp = total - (ihl << 2)
    pay = rest if tmp < 0 else rest[:tmp]
    return proto, frag, ihl, pay


def _ip(out: Decoded, s: bytes, err6: bool) -> None:
    proto, frag, _ihl, pay = _ip_fields(s)
    out.add("ip", (_addr4(s[12:16]), _addr4(s[16:20])))
    cls = None
    if proto == 41:
        cls = "ip6"
    elif frag == 0:
        cls = {4: "ip", 1: "icmp", 6: "tcp", 17: "udp", 47: "gre"}.get(proto)
    _child(out, cls, pay, err6)


def _iperror(out: Decoded, s: bytes, err6: bool) -> None:
    proto, frag, _ihl, pay = _ip_fields(s)
    cls = None
    if proto == 41:
        cls = "ip6"
    elif frag == 0:
        cls = {4: "iperror", 1: "icmperror", 6: "tcperror", 17: "udperror", 47: "gre"}.get(proto)
    _child(out, cls, pay, err6)


#: bytes an ICMP header of each type needs (scapy's conditional fields)
_ICMP_LEN = {13: 20, 14: 20, 17: 12, 18: 12, 37: 12, 38: 12}


def _icmp_any(out: Decoded, s: bytes, err6: bool, name: str | None) -> None:
    itype = s[0]
    need = _ICMP_LEN.get(itype, 8)
    _need(s, need)
    pay = s[need:]
    if itype in (3, 11, 12) and len(s) >= 144:  # RFC 4884 extensions from octet 136
        pay = pay[: 136 - need]
    if name:
        out.add(name)
    if itype in (3, 4, 5, 11, 12):
        _child(out, "iperror", pay, err6)


def _icmp(out: Decoded, s: bytes, err6: bool) -> None:
    _icmp_any(out, s, err6, "icmp")


def _icmperror(out: Decoded, s: bytes, err6: bool) -> None:
    _icmp_any(out, s, err6, None)


_UDP_PORTS = ((4754, None, "gre"), (5353, None, "dns"), (None, 5353, "dns"), (53, None, "dns"),
              (None, 53, "dns"), (4789, None, "vxlan"), (4790, None, "vxlan"),
              (6633, None, "vxlan"), (8472, None, "vxlan"), (48879, None, "vxlan"),
              (None, 4789, "vxlan"), (None, 4790, "vxlan"), (None, 6633, "vxlan"),
              (None, 8472, "vxlan"))  # fmt: skip


def _udp_any(out: Decoded, s: bytes, err6: bool, name: str | None) -> None:
    _need(s, 8)
    sport, dport, length = _u16(s, 0), _u16(s, 2), _u16(s, 4)
    pay = s[8:][: length - 8]
    if name:
        out.add(name, (sport, dport))
    cls = None
    for dp, sp, c in _UDP_PORTS:
        if (dp is None or dp == dport) and (sp is None or sp == sport):
            cls = c
            break
    _child(out, cls, pay, err6)


def _udp(out: Decoded, s: bytes, err6: bool) -> None:
    _udp_any(out, s, err6, "udp")


def _udperror(out: Decoded, s: bytes, err6: bool) -> None:
    _udp_any(out, s, err6, None)


def _tcp_options(x: bytes) -> None:
    while x:
        onum = x[0]
        if onum == 0:
            return
        if onum == 1:
            x = x[1:]
            continue
        olen = x[1] if len(x) > 1 else 0
        olen = max(olen, 2)
        if onum == 29 and len(x[2:olen]) == 1:  # scapy decodes TCP-AO's two key ids
            raise _Fail
        x = x[olen:]


def _tcp(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 20)
    dataofs = s[12] >> 4
    _tcp_options(s[20:][: max(0, (dataofs - 5) * 4)])
    out.add("tcp", (_u16(s, 0), _u16(s, 2)))


def _tcperror(out: Decoded, s: bytes, err6: bool) -> None:
    if len(s) == 8:  # scapy's TCPerror may end after the sequence number
        return
    _need(s, 20)
    _tcp_options(s[20:][: max(0, (s[12] >> 4) - 5) * 4])


def _leaf(out: Decoded, s: bytes, err6: bool) -> None:
    """A layer under which no matched header can be (DNS, NDP, ESP, ...)."""


def _vxlan(out: Decoded, s: bytes, err6: bool) -> None:
    flags = s[0]
    nextproto_flag, g_flag = flags & 0x04, flags & 0x80
    n = 1 + (3 if nextproto_flag else 0) + (3 if not g_flag and not nextproto_flag else 0)
    n += (3 if g_flag else 0) + 4
    _need(s, n)
    nextproto = s[3] if nextproto_flag else 0
    cls = {0: "ether", 1: "ip", 2: "ip6", 3: "ether"}.get(nextproto)
    _child(out, cls, s[n:], err6)


def _gre(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 4)
    proto = _u16(s, 2)
    if proto == 0x880B:  # GRE_PPTP: not looked into
        return
    flags = s[0]
    n = 4 + (4 if flags & 0xC0 else 0) + (4 if flags & 0x20 else 0) + (4 if flags & 0x10 else 0)
    _need(s, n)
    cls = {122: "llc", 0x8100: "dot1q", 0x6558: "ether", 0x0806: "arp"}.get(proto)
    if cls is None and flags & 0x40:
        return  # GRErouting
    if cls is None:
        cls = {0x0800: "ip", 0x86DD: "ip6"}.get(proto)
    _child(out, cls, s[n:], err6)


#: ICMPv6 message types' least length before scapy decodes them as that message
_ICMP6_MIN = {1: 8, 2: 8, 3: 8, 4: 8, 128: 8, 129: 8, 130: 24, 131: 24, 132: 24, 133: 8,
              134: 16, 135: 24, 136: 24, 137: 40, 141: 8, 142: 8, 143: 8, 144: 8, 145: 8,
              146: 8, 147: 8, 151: 8, 152: 4, 153: 4, 155: 4}  # fmt: skip
_NH = {0: "hbh", 4: "ip", 6: "tcp", 17: "udp", 43: "routing", 44: "fragment", 60: "hbh"}


def _ip6_next(nh: int, p: bytes, err6: bool) -> str | None:
    """scapy's choice of the class after an IPv6 header or extension header."""
    if err6 and nh == 6:
        return "tcperror"
    if err6 and nh == 17:
        return "udperror"
    bound = {6: "tcp", 17: "udp", 41: "ip6", 4: "ip", 47: "gre"}.get(nh)
    if bound is not None:
        return bound
    if nh == 58:
        t = p[0]
        if len(p) > 2 and t in (139, 140):
            return None
        if t in _ICMP6_MIN and len(p) >= _ICMP6_MIN[t]:
            return "icmp6error" if t in (1, 2, 3, 4) else None
        return None
    if nh == 135 and len(p) > 3:
        return None  # mobility header
    if nh == 43 and p[2] == 4:
        return "srh"
    return _NH.get(nh)


def _ip6_payload(s: bytes) -> bytes:
    plen, nh = _u16(s, 4), s[6]
    data = s[40:]
    if plen == 0 and nh == 0 and len(data) >= 8:  # scapy's jumbogram rule, as it is
        hbh_len = 8 + data[1] * 8
        jumbo_len = None
        idx = 0
        offset = 4 * idx + 2
        while offset <= len(data):
            if data[offset] == 0xC2:
                jumbo = data[offset + 2 : offset + 6]
                if len(jumbo) != 4:
                    raise _Fail
                jumbo_len = int.from_bytes(jumbo, "little")
                break
            offset = 4 * idx + 2
            idx += 1
        return data[: hbh_len + (jumbo_len or 0)]
    return data[:plen]


def _ip6(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 40)
    nh = s[6]
    pay = _ip6_payload(s)
    cls = _ip6_next(nh, pay, False) if pay else None  # may fail: before recording
    out.add("ip6", (_addr6(s[8:24]), _addr6(s[24:40]), nh))
    _child(out, cls, pay, err6)


def _iperror6(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 40)
    pay = _ip6_payload(s)
    cls = _ip6_next(s[6], pay, True) if pay else None
    _child(out, cls, pay, True)


_HBH_FIXED = {0x05: 4, 0xC2: 6, 0xC9: 18}


def _hbh(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 2)
    nh, length = s[0], s[1]
    region, pay = s[2:][: 8 * (length + 1) - 2], s[2:][8 * (length + 1) - 2 :]
    count = 0
    while region:  # scapy's option list: at most 100 options
        count += 1
        if count > 100:
            raise _Fail
        otype = region[0]
        if otype == 0:
            region = region[1:]
        elif otype in _HBH_FIXED:
            if len(region) < _HBH_FIXED[otype]:
                break
            region = region[_HBH_FIXED[otype] :]
        else:
            if len(region) < 2:
                break
            region = region[2 + region[1] :]
    cls = _ip6_next(nh, pay, err6) if pay else None
    _child(out, cls, pay, err6)


def _routing(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 8)
    nh, length = s[0], s[1]
    addrs = s[8:][: 8 * length]
    whole = len(addrs) // 16 * 16  # a partial address is left to the payload
    pay = addrs[whole:] + s[8:][8 * length :]
    cls = _ip6_next(nh, pay, err6) if pay else None
    _child(out, cls, pay, err6)


def _srh(out: Decoded, s: bytes, err6: bool) -> None:
    """IPv6 segment routing header (a routing header of type 4)."""
    _need(s, 8)
    nh, length, last = s[0], s[1], s[4]
    rest = s[8:]
    for _ in range(last + 1):
        if len(rest) < 16:
            break
        rest = rest[16:]
    n = 8 * length - 16 * (last + 1)
    tlvs, pay = rest[:n], rest[n:]
    count = 0
    while tlvs:  # scapy's TLV list: at most 100
        count += 1
        if count > 100:
            raise _Fail
        if tlvs[0] == 0 or len(tlvs) < 2:
            tlvs = tlvs[1:] if tlvs[0] == 0 else b""
        else:
            tlvs = tlvs[2 + tlvs[1] :]
    cls = _ip6_next(nh, pay, err6) if pay else None
    _child(out, cls, pay, err6)


def _fragment(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 8)
    nh, offset = s[0], _u16(s, 2) >> 3
    pay = s[8:]
    cls = None if offset > 0 or not pay else _ip6_next(nh, pay, err6)
    _child(out, cls, pay, err6)


def _icmp6error(out: Decoded, s: bytes, err6: bool) -> None:
    _need(s, 8)
    pay = s[8:]
    if s[0] in (1, 3) and len(s) >= 144:  # RFC 4884 extensions from octet 136
        pay = pay[:128]
    _child(out, "iperror6", pay, True)


_LAYERS: dict[str, Callable[[Decoded, bytes, bool], None]] = {
    "ether": _ether, "llc": _llc, "snap": _snap, "dot1q": _dot1q, "dot1ah": _dot1ah,
    "arp": _arp, "ip": _ip, "iperror": _iperror, "icmp": _icmp, "icmperror": _icmperror,
    "udp": _udp, "udperror": _udperror, "tcp": _tcp, "tcperror": _tcperror, "dns": _leaf,
    "vxlan": _vxlan, "gre": _gre, "ip6": _ip6, "iperror6": _iperror6, "hbh": _hbh,
    "routing": _routing, "srh": _srh, "fragment": _fragment, "icmp6error": _icmp6error,
}  # fmt: skip
_ETHER_TYPES = {122: "llc", 0x8870: "llc", 0x8100: "dot1q", 0x88A8: "dot1q", 0x88E7: "dot1ah",
                1: "ether", 0x0806: "arp", 0x0800: "ip", 0x86DD: "ip6"}  # fmt: skip


def _first_class(raw: bytes, lt: int) -> str | None:
    if lt == DLT_EN10MB:
        return "ether"
    if lt == DLT_RAW_IPV4:
        return "ip"
    if lt == DLT_RAW_IPV6:
        return "ip6"
    if lt in (12, 101):  # scapy's IPv46
        return "ip6" if raw and raw[0] >> 4 == 6 else "ip"
    return None


def decode(raw: bytes, lt: int = DLT_EN10MB) -> Decoded:
    """The headers of one frame of link type ``lt`` that the match looks at."""
    out = Decoded()
    _child(out, _first_class(raw, lt), bytes(raw))
    return out


def validate(match: dict[str, Any]) -> None:
    """Raise ValueError for unknown keys or an unknown ``proto`` (the agent's messages)."""
    unknown = set(match) - set(_KEYS)
    if unknown:
        raise ValueError(f"unknown match keys {sorted(unknown)}; use proto, host, port")
    proto = match.get("proto")
    if proto is not None and proto not in PROTOS:
        raise ValueError(f"match proto {proto!r}: use one of {sorted(PROTOS)}")


def matcher(match: dict[str, Any]) -> Callable[[bytes, int], bool]:
    """A function ``keep(raw, linktype)``: does the frame match ``{"proto", "host", "port"}``
    (every key given), as scapy's ``haslayer`` would have decided."""
    validate(match)
    proto = match.get("proto")
    layer = {"icmp6": "ip6"}.get(proto, proto) if proto is not None else None
    host = match.get("host")
    port = match.get("port")

    def keep(raw: bytes, lt: int = DLT_EN10MB) -> bool:
        d = decode(raw, lt)
        if layer is not None and layer not in d.names:
            return False
        if proto == "icmp6" and (d.ip6 is None or d.ip6[2] != 58):
            return False
        if host is not None:
            if d.ip is not None:
                pair: tuple[Any, Any] = d.ip
            elif d.ip6 is not None:
                pair = (d.ip6[0], d.ip6[1])
            elif d.arp is not None:
                pair = d.arp
            else:
                return False
            if host not in pair:
                return False
        if port is not None:
            l4 = d.l4.get("tcp") or d.l4.get("udp")
            if l4 is None or port not in l4:
                return False
        return True

    return keep


#: scapy's link-layer class per ARPHRD type (``conf.l2types``), as a DLT; None: scapy's
#: IPv4/IPv6 by the first nibble (``conf.l3types[ETH_P_ALL]``)
_HATYPE_DLT = {0: 0, 1: 1, 12: None, 23: 1, 31: DLT_RAW_IPV6, 101: None, 108: 108,
               113: 113, 144: 113, 228: DLT_RAW_IPV4, 229: DLT_RAW_IPV6, 274: 274,
               276: 276, 772: 1}  # fmt: skip


#: the header length below which scapy could not decode a frame of these link types
_DLT_MIN = {0: 4, 108: 4, 113: 16, 274: 12, 276: 12}


def linktype(hatype: int, raw: bytes) -> int:
    """The pcap link type the scapy-based capture reported for a frame from an interface of
    ARPHRD type ``hatype`` (Ethernet and loopback: 1; a layer-3 device such as a tun or an
    IP tunnel: 228 or 229 by the IP version, or 1 if scapy could not decode it)."""
    dlt = _HATYPE_DLT.get(hatype)
    if dlt is not None and dlt not in (DLT_RAW_IPV4, DLT_RAW_IPV6):
        # shorter than that link layer's header: scapy fell back to Raw (link type 1)
        return dlt if len(raw) >= _DLT_MIN.get(dlt, 0) else 1
    if dlt is None:
        dlt = DLT_RAW_IPV6 if raw and raw[0] >> 4 == 6 else DLT_RAW_IPV4
    try:
        (_ip6 if dlt == DLT_RAW_IPV6 else _ip)(Decoded(), bytes(raw), False)
    except (_Fail, IndexError, ValueError, OSError):
        return 1  # scapy fell back to Raw, whose link type is 1
    return dlt
