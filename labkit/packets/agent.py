"""The probe agent: captures, pings and crafted packets *inside* one network namespace,
driven over a pipe.

In a lab, one agent per node is forked already inside the node's namespaces and calls
:func:`serve` on a socket; run by hand, ``nsenter -t PID -n -m -u -- python -m
labkit.packets.agent`` serves stdin/stdout.

Captures and pings need no scapy: the capture reads ``AF_PACKET`` sockets and filters
with :mod:`labkit.packets.rawmatch`, the ping writes ICMP echoes on raw sockets
(:mod:`labkit.packets.rawping`). Only the ops that build arbitrary scapy packets
(``send``, ``send_many``, ``sr1``) import scapy, in this process, on their first use;
scapy's route and interface caches are then read in this namespace (and re-read when it
changed), so a packet's source address is chosen by the container's routes, not the
notebook's. This module itself imports no scapy (a fork server pre-imports it).

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
  ``scapy`` is scapy's version once this agent imported it, else None.
* ``sniff_start(iface, promisc=True, bpf=None, match=None, limit=100000)`` → sniff id (int),
  returned only once the capture sockets are open. ``iface`` may be a name or a list of
  names. ``bpf`` is refused (it needs libpcap or tcpdump, which a sandbox lacks);
  ``match`` is a Python-side filter: ``{"proto": "icmp"|"udp"|"tcp"|"arp"|"ip"|"ip6"|
  "icmp6", "host": ip, "port": int}`` (all given keys must hold;
  :mod:`labkit.packets.rawmatch`).
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
  ``{"seq", "rtt_ms", "reply_from", "ttl"}`` (``rtt_ms`` None when lost); ``dst`` is an
  IPv4 or IPv6 address or a name (resolved here, IPv4).
"""

from __future__ import annotations

import os
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

# Imported here, not on first use: a fork server that pre-imports this module then shares
# them with every agent (importing them in a forked agent costs it ~1.3 MB of copied pages).
from labkit.packets import rawmatch, rawping
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


SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_STATISTICS = 6
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
ETH_P_ALL = 0x0003
ETH_P_8021Q = 0x8100
SO_TIMESTAMPNS = 35
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6
#: the most one frame can be (scapy's MTU, what its capture read)
SNAPLEN = 65536
#: receive buffer asked for each capture socket (the kernel's default, ~200 KB, drops
#: most of a burst of thousands of packets before the capture thread reads them)
CAPTURE_RCVBUF = 32 * 1024 * 1024
#: frames read from one socket before the others get their turn
_BATCH = 256


def _packet_stats(sock: Any) -> tuple[int, int]:
    """The kernel's (packets, drops) of one AF_PACKET socket, (0, 0) when unavailable."""
    try:
        raw = sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        packets, drops = struct.unpack("II", raw)
        return int(packets), int(drops)
    except (OSError, AttributeError, struct.error):
        return 0, 0


def _grow_buffer(sock: Any, size: int = CAPTURE_RCVBUF) -> None:
    """Raise a capture socket's receive buffer (SO_RCVBUFFORCE as the lab's root, else as
    far as ``net.core.rmem_max`` allows)."""
    import socket

    for opt in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, size)
            return
        except (OSError, AttributeError):
            continue


def _default_iface() -> str:
    """The interface of this namespace's IPv4 default route, else the first one not lo
    (scapy's ``conf.iface``)."""
    import socket

    try:
        with open("/proc/self/net/route") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if len(fields) > 2 and fields[1] == "00000000":
                    return fields[0]
    except OSError:
        pass
    names = [name for _, name in socket.if_nameindex() if name != "lo"]
    return names[0] if names else "lo"


def _open_capture(name: str, promisc: bool) -> Any:
    """An ``AF_PACKET`` socket that receives every frame crossing interface ``name`` (both
    directions; on ``lo`` the capture drops the outgoing copy), non-blocking."""
    import socket

    # protocol 0 until bound: a socket created with ETH_P_ALL would queue frames of every
    # interface until bind() narrows it to this one
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        if promisc:
            ifindex = socket.if_nametoindex(name)
            mreq = struct.pack("iHH8s", ifindex, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        _grow_buffer(sock)
        try:  # VLAN tags the NIC stripped come back in auxiliary data, as scapy reads them
            sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        except OSError:
            pass
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.bind((name, ETH_P_ALL))
        sock.setblocking(False)
        _packet_stats(sock)  # reset the kernel's counters: count from here on
    except BaseException:
        sock.close()
        raise
    return sock


def _frame(data: bytes, ancdata: list[tuple[int, int, bytes]]) -> tuple[bytes, float]:
    """The frame with its VLAN tag put back, and its kernel timestamp."""
    import socket

    stamp = None
    for level, kind, value in ancdata:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(value) >= 20:
            status, _len, _snap, _mac, _net, tci, tpid = struct.unpack("IIIHHHH", value[:20])
            if tci != 0 or status & TP_STATUS_VLAN_VALID:
                if not status & TP_STATUS_VLAN_TPID_VALID:
                    tpid = ETH_P_8021Q
                data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
        elif level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
            sec, nsec = struct.unpack("qq", value[:16])
            stamp = sec + nsec * 1e-9
    return data, stamp if stamp is not None else time.time()


class _Capture:
    """One running capture: its sockets (one per interface) and the thread reading them.

    Frames are stored as ``(raw, time, linktype)``; the thread stops at ``limit`` kept
    frames, or when :meth:`stop` writes to its self-pipe.
    """

    def __init__(
        self,
        socks: list[tuple[Any, str]],
        keep: Callable[[bytes, int], bool] | None,
        limit: int,
    ) -> None:
        import socket

        self.socks = socks
        self.keep = keep
        self.limit = limit
        self.frames: list[tuple[bytes, float, int]] = []
        self._stats = [0, 0]
        self._ancsize = socket.CMSG_SPACE(20) + socket.CMSG_SPACE(16)
        self._wake_r, self._wake_w = os.pipe()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="labkit-capture")
        self.thread.start()

    def full(self) -> bool:
        return bool(self.limit) and len(self.frames) >= self.limit

    def _read(self, sock: Any, name: str, most: int) -> int:
        """Read up to ``most`` queued frames of one socket; how many were read, -1 if the
        socket failed (its interface went away: what it had is kept)."""
        linktype = rawmatch.linktype
        n = 0
        while n < most and not self.full():
            try:
                data, ancdata, _flags, addr = sock.recvmsg(SNAPLEN, self._ancsize)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self.error = exc
                return -1
            n += 1
            if not data or (name == "lo" and addr[2] == PACKET_OUTGOING):
                continue
            data, stamp = _frame(data, ancdata)
            lt = linktype(addr[3], data)
            if self.keep is not None and not self.keep(data, lt):
                continue
            self.frames.append((data, stamp, lt))
        return n

    def _run(self) -> None:
        import select

        poller = select.poll()
        by_fd = {sock.fileno(): (sock, name) for sock, name in self.socks}
        for fd in by_fd:
            poller.register(fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        try:
            while not self.full():
                events = poller.poll()
                if any(fd == self._wake_r for fd, _ in events):
                    return
                for fd, _ in events:
                    sock, name = by_fd[fd]
                    if self._read(sock, name, _BATCH) < 0:
                        poller.unregister(fd)  # failed: no busy loop on its error
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc

    def kernel_stats(self) -> tuple[int, int]:
        """(packets, drops) the kernel counted on our sockets since they opened
        (``getsockopt(PACKET_STATISTICS)``; each read resets the kernel's counters)."""
        for sock, _ in self.socks:
            packets, drops = _packet_stats(sock)
            self._stats[0] += packets
            self._stats[1] += drops
        return self._stats[0], self._stats[1]

    def _halt(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self.thread.join()

    def stop(self) -> list[tuple[bytes, float, int]]:
        """Stop the thread, then read what is still queued in the sockets, then close them;
        the frames sorted by time."""
        try:
            self._halt()
            for sock, name in self.socks:
                while not self.full() and self._read(sock, name, _BATCH) > 0:
                    pass
        finally:
            self.close()
        self.frames.sort(key=lambda f: f[1])
        return self.frames

    def close(self) -> None:
        """Stop without reading (agent shutdown); idempotent."""
        if self.thread.is_alive():
            self._halt()
        for sock, _ in self.socks:
            sock.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1


_SCAPY = {"imported": False}


class Agent:
    """Serves requests; one instance per agent process. ``send``, ``send_many`` and ``sr1``
    import scapy on first use; the other ops never do."""

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
        self._scapy_lock = threading.Lock()
        # scapy imported before this agent started (by its forker, which re-read scapy's
        # caches in this namespace): the fingerprint is of the namespace scapy saw
        self._scapy_ready = _SCAPY["imported"]
        self._fingerprint = fingerprint

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

    def _ensure_scapy(self) -> None:
        """Import scapy in this agent (first ``send``/``send_many``/``sr1``), after the
        process entered its namespace, so scapy's caches describe this namespace."""
        with self._scapy_lock:
            if self._scapy_ready:
                return
            elsewhere = "scapy.config" in sys.modules  # imported, maybe in another namespace
            fingerprint = net_fingerprint()
            ms = import_scapy()
            if elsewhere:
                reload_scapy_caches()
            with self._refresh_lock:
                self._fingerprint = fingerprint
            if not self._import_ms:
                self._import_ms = ms
            self._scapy_ready = True

    def refresh(self) -> None:
        """Reload scapy's interface and route caches if the namespace changed since.

        scapy reads them once, at import; the daemon may add eth0, addresses and the
        default route after the agent started. Re-reading them costs ~30 ms, so it is done
        only when a cheap fingerprint (``/proc/self/net`` route tables, interfaces) differs.
        """
        self._ensure_scapy()
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
        """This agent's pid, interfaces, and scapy's version if it imported scapy (None
        until a ``send``, ``send_many`` or ``sr1``)."""
        import socket

        scapy = sys.modules.get("scapy")
        return {
            "pid": os.getpid(),
            "import_ms": self._import_ms,
            "ifaces": [name for _, name in socket.if_nameindex()],
            "scapy": getattr(scapy, "VERSION", None) if scapy is not None else None,
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
        what the capture thread had not read yet, so nothing queued is lost at the end.
        ``start_timeout`` is kept for callers; opening the sockets does not wait.
        """
        names: list[str] = (
            [iface] if isinstance(iface, str) else (list(iface or []) or [_default_iface()])
        )
        if bpf:
            raise RuntimeError(
                f"cannot capture on {names!r} with bpf={bpf!r}: a BPF filter needs libpcap "
                "or tcpdump, which the sandbox lacks; capture everything, or use match={...} "
                "(proto, host, port)"
            )
        keep = rawmatch.matcher(match) if match else None  # bad keys: before any socket
        socks: list[tuple[Any, str]] = []
        try:
            for name in names:
                socks.append((_open_capture(str(name), promisc), str(name)))
        except Exception as exc:
            for sock, _ in socks:
                sock.close()
            raise RuntimeError(f"cannot capture on {names!r}: {exc}") from None
        cap = _Capture(socks, keep, limit)
        with self._sniff_lock:
            sid = self._next_sid
            self._next_sid += 1
            self._sniffers[sid] = cap
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
        frames = cap.stop()
        return {
            "frames": frames,
            "kernel_packets": kernel[0],
            "kernel_drops": kernel[1],
            "limit_reached": bool(cap.limit and len(frames) >= cap.limit),
        }

    def op_send(self, spec: Any, iface: str | None = None) -> str:
        """Send once (layer 2 if the first layer is Ether, else layer 3); a summary back."""
        self._ensure_scapy()  # before any scapy import: the agent's lean, configured scapy
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
        self._ensure_scapy()
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
        self._ensure_scapy()
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
        """ICMP echo (ICMPv6 for an IPv6 ``dst``), ``count`` times, one at a time, with the
        kernel's raw sockets (:mod:`labkit.packets.rawping`)."""
        with self._sniff_lock:  # distinct ids for concurrent pings of one agent
            ident = self._ping_ident
            self._ping_ident = (self._ping_ident + 1) & 0xFFFF
        return rawping.ping(
            dst, ident, count=count, timeout=timeout, interval=interval, size=size
        )


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
    _SCAPY["imported"] = True
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
    """Run the agent on stdin/stdout (started already inside its namespace); scapy is
    imported only if a ``send``, ``send_many`` or ``sr1`` comes."""
    serve(0.0, net_fingerprint())


if __name__ == "__main__":
    main()
