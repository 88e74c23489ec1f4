"""The probe agent: scapy running *inside* one network namespace, driven over a pipe.

In a lab, the agents' zygote (:mod:`labkit.packets.zygote`) forks one agent per node,
already inside the node's namespaces, and calls :func:`serve` on a socket; run by hand,
``nsenter -t PID -n -m -u -- python -m labkit.packets.agent`` serves stdin/stdout.

scapy's route and interface caches are read after the process entered the namespace (the
zygote reloads them in each forked agent), so they describe that namespace: a packet's
source address is chosen by the container's routes, not the notebook's.

Protocol (stdin → agent, agent → stdout): :mod:`labkit.protocol`'s frames (a 4-byte
big-endian length, a pickle of plain data, one size limit), each holding a dict.
Requests are ``{"id": int, "op": str, **args}``; replies are ``{"id": int, "ok": True,
"value": ...}`` or ``{"id": int, "ok": False, "error": str}``.
Values are plain data only (bytes, float, int, str, list, dict, None), so the daemon never
needs scapy to read them. Every request runs in its own thread (an ``sr1`` can be waiting
while a ``sniff_stop`` arrives); replies are written under one lock. The agent exits when
stdin reaches end of file (its daemon closed the pipe or died).

Ops (keyword arguments):

* ``ready()`` → ``{"pid", "import_ms", "ifaces", "scapy"}``; sent first by the client.
* ``sniff_start(iface, promisc=True, bpf=None, match=None, limit=100000)`` → sniff id (int),
  returned only once the capture socket is open (scapy's ``started_callback``). ``iface``
  may be a name or a list of names. ``bpf`` needs tcpdump, which a sandbox usually lacks;
  ``match`` is a Python-side filter: ``{"proto": "icmp"|"udp"|"tcp"|"arp", "host": ip,
  "port": int}`` (all given keys must hold).
* ``sniff_stop(sid)`` → ``[(raw_bytes, time_float, linktype), ...]``.
* ``sniff_finish(sid)`` → ``{"frames": [...], "kernel_packets", "kernel_drops",
  "limit_reached"}``: the frames, and what the kernel (full socket buffer) and the capture
  limit dropped.
* ``send_many(specs, count=1)`` → a summary; every packet, ``count`` times, one socket.
* ``send(spec, iface=None)`` → summary string of the built packet(s); layer 2 (``sendp``)
  when the first layer is Ether, else layer 3 (``send``).
* ``sr1(spec, timeout=2.0, iface=None)`` → ``{"sent", "sent_linktype", "sent_summary",
  "reply", "reply_linktype", "reply_summary", "rtt_ms"}``; ``reply`` and friends are None
  when nothing answered within ``timeout``.
* ``ping(dst, count=1, timeout=2.0, interval=0.0, size=32)`` → one dict per echo:
  ``{"seq", "rtt_ms", "reply_from", "ttl"}`` (``rtt_ms`` None when lost).
"""

from __future__ import annotations

import os
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from labkit.protocol import MAX_FRAME, ProtocolEOF, encode
from labkit.protocol import read_frame as _read_plain

__all__ = ["read_frame", "write_frame", "main", "MAX_FRAME"]

#: Largest frame either side accepts (a long capture can be big, but not unbounded).
def write_frame(stream: IO[bytes], obj: Any) -> None:
    """Write one frame (:func:`labkit.protocol.encode`: the pipe's one framing and limit).
    Caller holds any lock."""
    stream.write(encode(obj))
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any | None:
    """Read one frame of plain data; None at end of file (also when it stops in the middle
    of a frame). A frame that names a class is refused (:class:`labkit.protocol.UnsafeFrame`)."""
    try:
        return _read_plain(stream)
    except ProtocolEOF:
        return None


def net_fingerprint() -> tuple[Any, ...]:
    """A cheap summary of this namespace's interfaces, addresses and routes."""
    import socket

    parts = []
    for name in ("route", "fib_trie", "ipv6_route", "if_inet6"):
        try:
            with open(f"/proc/self/net/{name}", "rb") as f:
                parts.append(f.read())
        except OSError:
            parts.append(b"")
    return (tuple(socket.if_nameindex()), tuple(parts))


def _to_float(t: Any) -> float:
    return float(t) if t is not None else 0.0


def _matcher(match: dict[str, Any]) -> Callable[[Any], bool]:
    """A Python-side capture filter (BPF needs tcpdump, absent in the sandbox)."""
    import scapy.layers.vxlan  # noqa: F401 - so an overlay's tunnelled frames decode
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import ARP

    unknown = set(match) - {"proto", "host", "port"}
    if unknown:
        raise ValueError(f"unknown match keys {sorted(unknown)}; use proto, host, port")
    proto = match.get("proto")
    layers = {"icmp": ICMP, "udp": UDP, "tcp": TCP, "arp": ARP, "ip": IP, "ip6": IPv6,
              "icmp6": IPv6}  # fmt: skip
    if proto is not None and proto not in layers:
        raise ValueError(f"match proto {proto!r}: use one of {sorted(layers)}")
    host = match.get("host")
    port = match.get("port")

    def keep(pkt: Any) -> bool:
        if proto is not None and not pkt.haslayer(layers[proto]):
            return False
        if proto == "icmp6" and pkt[IPv6].nh != 58:  # ICMPv6, NDP included
            return False
        if host is not None:
            if IP in pkt:
                if host not in (pkt[IP].src, pkt[IP].dst):
                    return False
            elif IPv6 in pkt:
                if host not in (pkt[IPv6].src, pkt[IPv6].dst):
                    return False
            elif ARP in pkt:
                if host not in (pkt[ARP].psrc, pkt[ARP].pdst):
                    return False
            else:
                return False
        if port is not None:
            l4 = pkt.getlayer(TCP) or pkt.getlayer(UDP)
            if l4 is None or port not in (l4.sport, l4.dport):
                return False
        return True

    return keep


SOL_PACKET = 263
PACKET_STATISTICS = 6
#: receive buffer asked for each capture socket (the kernel's default, ~200 KB, drops
#: most of a burst of thousands of packets before scapy's thread reads them)
CAPTURE_RCVBUF = 32 * 1024 * 1024


def _raw_socket(sock: Any) -> Any:
    return getattr(sock, "ins", sock)


def _packet_stats(sock: Any) -> tuple[int, int]:
    """The kernel's (packets, drops) of one AF_PACKET socket, (0, 0) when unavailable."""
    try:
        raw = _raw_socket(sock).getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("II", raw)
        return int(packets), int(drops)
    except (OSError, AttributeError, struct.error):
        return 0, 0


def _grow_buffer(sock: Any, size: int = CAPTURE_RCVBUF) -> None:
    """Raise a capture socket's receive buffer (SO_RCVBUFFORCE as the lab's root, else as
    far as ``net.core.rmem_max`` allows)."""
    import socket

    raw = _raw_socket(sock)
    for opt in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
        try:
            raw.setsockopt(socket.SOL_SOCKET, opt, size)
            return
        except (OSError, AttributeError):
            continue


class _Capture:
    """One running capture: scapy's sniffer thread plus the sockets we opened for it."""

    def __init__(
        self, sniffer: Any, socks: dict[Any, str], lfilter: Callable[[Any], bool] | None, limit: int
    ) -> None:
        self.sniffer = sniffer
        self.socks = socks
        self.lfilter = lfilter
        self.limit = limit
        self._stats = [0, 0]

    def kernel_stats(self) -> tuple[int, int]:
        """(packets, drops) the kernel counted on our sockets since they opened
        (``getsockopt(PACKET_STATISTICS)``; each read resets the kernel's counters)."""
        for sock in self.socks:
            packets, drops = _packet_stats(sock)
            self._stats[0] += packets
            self._stats[1] += drops
        return self._stats[0], self._stats[1]

    def stop(self) -> list[Any]:
        """Stop the thread, then read what is still queued in the sockets, then close them."""
        import select

        try:
            if self.sniffer.running:
                packets = list(self.sniffer.stop() or [])
            else:  # reached its limit, or failed
                self.sniffer.join()
                packets = list(self.sniffer.results or [])
            for sock, name in self.socks.items():
                while not self.limit or len(packets) < self.limit:
                    readable, _, _ = select.select([sock], [], [], 0)
                    if not readable:
                        break
                    pkt = sock.recv()
                    if pkt is None or (self.lfilter is not None and not self.lfilter(pkt)):
                        continue
                    pkt.sniffed_on = name
                    packets.append(pkt)
        finally:
            for sock in self.socks:
                sock.close()
        packets.sort(key=lambda p: float(p.time))
        return packets

    def close(self) -> None:
        """Stop without reading (agent shutdown)."""
        try:
            if self.sniffer.running:
                self.sniffer.stop(join=False)
        finally:
            for sock in self.socks:
                sock.close()


class Agent:
    """Serves requests; one instance per agent process. Needs scapy importable."""

    def __init__(
        self, out: IO[bytes], import_ms: float, fingerprint: tuple[Any, ...] | None = None
    ) -> None:
        self._out = out
        self._out_lock = threading.Lock()
        self._import_ms = import_ms
        self._sniffers: dict[int, _Capture] = {}
        self._sniff_lock = threading.Lock()
        self._next_sid = 1
        self._ping_ident = os.getpid() & 0xFFFF
        self._refresh_lock = threading.Lock()
        self._fingerprint = fingerprint  # of the namespace scapy saw at import

    # --- plumbing -----------------------------------------------------------------------
    def reply(self, msg: dict[str, Any]) -> None:
        """Write one reply frame (thread-safe); a dead reader is ignored.

        A value that cannot be pickled becomes an error reply.
        """
        try:
            data = encode(msg)
        except Exception as exc:  # noqa: BLE001 - unpicklable or above the pipe's limit
            error = f"reply cannot be sent: {type(exc).__name__}: {exc}"
            data = encode({"id": msg.get("id"), "ok": False, "error": error})
        with self._out_lock:
            try:
                self._out.write(data)
                self._out.flush()
            except (BrokenPipeError, OSError):
                pass

    def handle(self, request: dict[str, Any]) -> None:
        """Run one request and write its reply. Never raises."""
        rid = request.get("id")
        try:
            args = dict(request)
            args.pop("id", None)
            op = args.pop("op", None)
            method = getattr(self, f"op_{op}", None) if isinstance(op, str) else None
            if method is None:
                raise ValueError(f"unknown op {op!r}")
            value = method(**args)
            msg = {"id": rid, "ok": True, "value": value}
        except Exception as exc:  # noqa: BLE001 - every error goes back to the caller
            text = str(exc) or type(exc).__name__
            msg = {"id": rid, "ok": False, "error": f"{type(exc).__name__}: {text}"}
        self.reply(msg)

    def shutdown(self) -> None:
        """Stop the sniffers (best effort), at end of input."""
        with self._sniff_lock:
            sniffers = list(self._sniffers.values())
            self._sniffers.clear()
        for cap in sniffers:
            try:
                cap.close()
            except Exception:  # noqa: BLE001, S110
                pass

    # --- helpers ------------------------------------------------------------------------
    @staticmethod
    def _linktype(pkt: Any) -> int:
        from scapy.config import conf

        return int(conf.l2types.layer2num.get(type(pkt), 1))

    def refresh(self) -> None:
        """Reload scapy's interface and route caches if the namespace changed since.

        scapy reads them once, at import; the daemon may add eth0, addresses and the
        default route after the agent started. Re-reading them costs ~30 ms, so it is done
        only when a cheap fingerprint (``/proc/self/net`` route tables, interfaces) differs.
        """
        from scapy.config import conf

        fingerprint = net_fingerprint()
        with self._refresh_lock:
            if fingerprint == self._fingerprint:
                return
            if self._fingerprint is not None:
                conf.ifaces.reload()
                conf.route.resync()
                if conf.route6 is not None:
                    conf.route6.resync()
            self._fingerprint = fingerprint

    def _freeze(self, spec: Any, limit: int = 4096) -> list[Any]:
        """Rebuild ``spec`` here and build it once: defaults are filled in this namespace."""
        from labkit.packets.wire import rebuild

        self.refresh()
        pkt = rebuild(spec)
        frozen = []
        for one in pkt:  # a packet with a list/Net field stands for several packets
            frozen.append(type(one)(bytes(one)))
            if len(frozen) > limit:
                raise ValueError(f"the packet expands to more than {limit} packets")
        return frozen

    @staticmethod
    def _is_l2(pkt: Any) -> bool:
        from scapy.layers.l2 import CookedLinux, Dot3, Ether

        return isinstance(pkt, (Ether, Dot3, CookedLinux))

    # --- ops ----------------------------------------------------------------------------
    def op_ready(self) -> dict[str, Any]:
        """Answer once scapy is imported."""
        import socket

        import scapy

        return {
            "pid": os.getpid(),
            "import_ms": self._import_ms,
            "ifaces": [name for _, name in socket.if_nameindex()],
            "scapy": scapy.VERSION,
        }

    def op_sniff_start(
        self,
        iface: str | list[str] | None,
        promisc: bool = True,
        bpf: str | None = None,
        match: dict[str, Any] | None = None,
        limit: int = 100_000,
        start_timeout: float = 10.0,
    ) -> int:
        """Open a capture socket per interface; return the capture id once they are open.

        The sockets are opened here, before the reply, so every frame that crosses the
        interface after this call returns is queued for the capture. ``sniff_stop`` drains
        what the sniffer thread had not read yet, so nothing queued is lost at the end.
        """
        from scapy.config import conf
        from scapy.data import ETH_P_ALL
        from scapy.interfaces import resolve_iface
        from scapy.sendrecv import AsyncSniffer

        self.refresh()
        names: list[Any] = (
            [iface] if isinstance(iface, str) else (list(iface or []) or [conf.iface])
        )
        socks: dict[Any, str] = {}
        try:
            for name in names:
                # on lo each packet passes twice (sent, then received): a plain L2Socket
                # drops the outgoing copy, as tcpdump shows it once; elsewhere listen to both
                iface_ = resolve_iface(name)
                opener = iface_.l2socket() if name == "lo" else iface_.l2listen()
                sock = opener(type=ETH_P_ALL, iface=name, promisc=promisc, filter=bpf)
                _grow_buffer(sock)
                _packet_stats(sock)  # reset the kernel's counters: count from here on
                socks[sock] = str(name)
        except Exception as exc:
            for sock in socks:
                sock.close()
            hint = ""
            if bpf:
                hint = (
                    " (a BPF filter needs libpcap or tcpdump, which the sandbox lacks; capture "
                    "everything, or use match={...})"
                )
            raise RuntimeError(f"cannot capture on {names!r}: {exc}{hint}") from None
        lfilter = _matcher(match) if match else None
        started = threading.Event()
        kwargs: dict[str, Any] = {
            "opened_socket": socks,
            "store": True,
            "started_callback": started.set,
        }
        if limit:
            kwargs["count"] = limit
        if lfilter is not None:
            kwargs["lfilter"] = lfilter
        sniffer = AsyncSniffer(**kwargs)
        sniffer.start()
        deadline = time.monotonic() + start_timeout
        while not started.wait(0.02):
            thread = sniffer.thread
            if (thread is not None and not thread.is_alive()) or time.monotonic() > deadline:
                if sniffer.running:
                    sniffer.stop(join=False)
                for sock in socks:
                    sock.close()
                raise RuntimeError(f"capture on {names!r} did not start: {sniffer.exception}")
        with self._sniff_lock:
            sid = self._next_sid
            self._next_sid += 1
            self._sniffers[sid] = _Capture(sniffer, socks, lfilter, limit)
        return sid

    def _sniffer(self, sid: int, pop: bool = False) -> _Capture:
        with self._sniff_lock:
            cap = self._sniffers.pop(sid, None) if pop else self._sniffers.get(sid)
        if cap is None:
            raise KeyError(f"no capture with id {sid}")
        return cap

    def op_sniff_stop(self, sid: int) -> list[tuple[bytes, float, int]]:
        """Stop the capture; return its frames as ``(raw, time, linktype)``, oldest first."""
        return list(self.op_sniff_finish(sid)["frames"])

    def op_sniff_finish(self, sid: int) -> dict[str, Any]:
        """Stop the capture: its frames, and what was lost on the way.

        ``kernel_drops``: frames the kernel dropped because the socket's buffer was full
        (``PACKET_STATISTICS``); ``limit_drops``: frames not kept because the capture
        reached its ``limit``.
        """
        cap = self._sniffer(sid, pop=True)
        kernel = cap.kernel_stats()
        packets = cap.stop()
        frames = [(bytes(p), _to_float(p.time), self._linktype(p)) for p in packets]
        return {
            "frames": frames,
            "kernel_packets": kernel[0],
            "kernel_drops": kernel[1],
            "limit_reached": bool(cap.limit and len(frames) >= cap.limit),
        }

    def op_send(self, spec: Any, iface: str | None = None) -> str:
        """Send once (layer 2 if the first layer is Ether, else layer 3); a summary back."""
        from scapy.sendrecv import send, sendp

        pkts = self._freeze(spec)
        if self._is_l2(pkts[0]):
            sendp(pkts, iface=iface, verbose=0)
        else:
            send(pkts, iface=iface, verbose=0)
        if len(pkts) == 1:
            return str(pkts[0].summary())
        return f"{len(pkts)} packets, first: {pkts[0].summary()}"

    def op_send_many(self, specs: list[Any], count: int = 1, iface: str | None = None) -> str:
        """Send every packet of ``specs``, ``count`` times over, through one socket (like
        scapy's ``send(pkts, count=N)``); a summary back."""
        from scapy.sendrecv import send, sendp

        if not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be 1 or more, not {count!r}")
        pkts = [p for spec in specs for p in self._freeze(spec)]
        if not pkts:
            raise ValueError("nothing to send")
        if len(pkts) * count > 1_000_000:
            raise ValueError(f"{len(pkts) * count} packets is more than one call may send (1e6)")
        l2 = {self._is_l2(p) for p in pkts}
        if len(l2) != 1:
            raise ValueError("send Ether(...) frames and IP(...) packets in separate calls")
        (send if l2 == {False} else sendp)(pkts, iface=iface, count=count, verbose=0)
        total = len(pkts) * count
        return f"{total} packet{'s' if total != 1 else ''}, first: {pkts[0].summary()}"

    def op_sr1(self, spec: Any, timeout: float = 2.0, iface: str | None = None) -> dict[str, Any]:
        """Send one packet and wait for its answer."""
        from scapy.sendrecv import sr, srp

        pkts = self._freeze(spec)
        if len(pkts) != 1:
            raise ValueError(f"sr1 sends one packet; this one expands to {len(pkts)}")
        pkt = pkts[0]
        fn = srp if self._is_l2(pkt) else sr
        ans, _unans = fn(pkt, timeout=timeout, iface=iface, verbose=0)
        out: dict[str, Any] = {
            "sent": bytes(pkt),
            "sent_linktype": self._linktype(pkt),
            "sent_summary": pkt.summary(),
            "reply": None,
            "reply_linktype": None,
            "reply_summary": None,
            "rtt_ms": None,
        }
        if ans:
            query, answer = ans[0]
            out["reply"] = bytes(answer)
            out["reply_linktype"] = self._linktype(answer)
            out["reply_summary"] = answer.summary()
            sent_time = getattr(query, "sent_time", None)
            if sent_time is not None:
                out["rtt_ms"] = (float(answer.time) - float(sent_time)) * 1000.0
        return out

    def op_ping(
        self,
        dst: str,
        count: int = 1,
        timeout: float = 2.0,
        interval: float = 0.0,
        size: int = 32,
    ) -> list[dict[str, Any]]:
        """ICMP echo, ``count`` times, with scapy's ``sr`` (one at a time)."""
        import random

        from scapy.layers.inet import ICMP, IP
        from scapy.sendrecv import sr

        self.refresh()
        with self._sniff_lock:  # distinct ids for concurrent pings of one agent
            ident = self._ping_ident
            self._ping_ident = (self._ping_ident + 1) & 0xFFFF
        results = []
        for seq in range(count):
            if seq and interval:
                time.sleep(interval)
            head = b"labkit %d %d " % (ident, seq)
            payload = (head + b"." * max(0, size - len(head)))[: max(size, len(head))]
            pkt = IP(dst=dst, id=random.getrandbits(16)) / ICMP(type=8, id=ident, seq=seq) / payload
            ans, _unans = sr(pkt, timeout=timeout, verbose=0)
            entry: dict[str, Any] = {"seq": seq, "rtt_ms": None, "reply_from": None, "ttl": None}
            if ans:
                query, answer = ans[0]
                entry["rtt_ms"] = (float(answer.time) - float(query.sent_time)) * 1000.0
                entry["reply_from"] = answer[IP].src
                entry["ttl"] = int(answer[IP].ttl)
            results.append(entry)
        return results


def _lean_scapy() -> None:
    """Keep scapy's import to what an agent uses, before anything of scapy is imported.

    An agent never names a MAC's vendor, a Bluetooth company or a cryptographic layer, yet
    ``scapy.data`` builds Wireshark's vendor table (~50 000 entries) and the Bluetooth ids at
    import, and ``scapy.config`` imports ``cryptography`` to see whether it is there: ~15 MB
    and ~0.1 s together. Empty tables stand in for the two data modules (only in this
    process: the notebook's own scapy, which rebuilds the packets, keeps them), and scapy's
    on-disk cache is off here, so the empty tables are never written where the notebook's
    scapy would read them.
    """
    import types

    import scapy.main

    scapy.main.SCAPY_CACHE_FOLDER = None
    for name, data in (("scapy.libs.manuf", ""), ("scapy.libs.bluetoothids", {})):
        stub = types.ModuleType(name)
        stub.DATA = data  # type: ignore[attr-defined]
        sys.modules.setdefault(name, stub)
    # scapy then sees no cryptography (conf.crypto_valid False): no layer an agent uses needs it
    sys.modules.setdefault("cryptography", None)  # type: ignore[arg-type]


def import_scapy() -> float:
    """Import the scapy layers an agent uses; returns the milliseconds it took."""
    t0 = time.perf_counter()
    _lean_scapy()
    # Not scapy.all (twice as slow to import, and it loads every layer in conf.load_layers):
    # the layers captures decode and probes send; rebuild() imports any other layer module a
    # packet description names.
    import scapy.layers.dns  # noqa: F401
    import scapy.layers.inet  # noqa: F401
    import scapy.layers.inet6  # noqa: F401
    import scapy.layers.l2  # noqa: F401
    import scapy.layers.vxlan  # noqa: F401 - so an overlay's tunnelled frames decode
    import scapy.sendrecv  # noqa: F401
    from scapy.config import conf
    from scapy.supersocket import L3RawSocket

    conf.verb = 0
    # Layer-3 packets go through the kernel's own raw socket: its routing table and its
    # ARP cache, exactly as a program in the container would (so `ip neigh` fills in).
    conf.L3socket = L3RawSocket
    return (time.perf_counter() - t0) * 1000.0


def reload_scapy_caches() -> None:
    """Re-read interfaces and routes: for an agent that entered its namespace after scapy
    was imported (the forked agents of :mod:`labkit.packets.zygote`)."""
    from scapy.config import conf
    from scapy.interfaces import get_working_if

    conf.ifaces.reload()
    conf.route.resync()
    if conf.route6 is not None:
        conf.route6.resync()
    conf.iface = get_working_if()  # type: ignore[assignment]


def serve(import_ms: float, fingerprint: tuple[Any, ...] | None = None) -> None:
    """Answer requests on stdin/stdout until stdin reaches end of file, then exit."""
    # Keep the protocol stream private: anything printed (scapy, C libraries) goes to stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    inp = os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    agent = Agent(out, import_ms, fingerprint if fingerprint is not None else net_fingerprint())
    while True:
        try:
            request = read_frame(inp)
        except Exception as exc:  # noqa: BLE001 - a broken stream ends the agent
            print(f"labkit agent: bad frame: {exc}", file=sys.stderr)
            break
        if request is None:
            break
        if not isinstance(request, dict):
            print(f"labkit agent: ignored a non-dict request {request!r}", file=sys.stderr)
            continue
        threading.Thread(target=agent.handle, args=(request,), daemon=True).start()
    agent.shutdown()
    sys.stderr.flush()
    os._exit(0)


def main() -> None:
    """Run the agent on stdin/stdout (started already inside its namespace)."""
    fingerprint = net_fingerprint()
    serve(import_scapy(), fingerprint)


if __name__ == "__main__":
    main()
