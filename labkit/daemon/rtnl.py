"""A lean rtnetlink socket for the hot path of ``docker run``: one request, one ack.

pyroute2's ``IPRoute`` costs ~5 ms to create and ~1 ms per call (an asyncio loop inside);
creating a container needs a socket in a brand-new namespace and half a dozen requests.
This class encodes the same messages with pyroute2's own message classes (``ifinfmsg``,
``ifaddrmsg``, ``rtmsg``) and sends them on a plain netlink socket, so the kernel's cost
(~0.1 ms a request) is what remains. Dumps and everything else use ``IPRoute``.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Any

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST
from pyroute2.netlink.rtnl import (
    RTM_DELLINK,
    RTM_GETLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
)
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

NLMSG_ERROR = 2
IFF_UP = 1
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3  # what `ip route add` records
RTN_UNICAST = 1
_HDR = struct.Struct("=IHHII")


class NetlinkRequestError(OSError):
    """The kernel answered a request with an error (errno in ``.errno``)."""


class RawRtnl:
    """A NETLINK_ROUTE socket in the namespace of the thread that created it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, msg: Any, msg_type: int, flags: int, ack: bool = True) -> bytes | None:
        """Send one pyroute2 message (``ifinfmsg``, ``ndmsg``, …) as ``msg_type`` with
        ``flags`` and wait for its answer: None for an acknowledgement, the reply's bytes
        when ``ack`` is False; a kernel error raises :class:`NetlinkRequestError`."""
        self._seq += 1
        msg["header"]["type"] = msg_type
        msg["header"]["flags"] = flags | NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
        msg["header"]["sequence_number"] = self._seq
        msg.encode()
        self.sock.send(msg.data)
        while True:
            data = self.sock.recv(65536)
            _, typ, _, seq, _ = _HDR.unpack_from(data, 0)
            if seq != self._seq:
                continue  # a late answer to an earlier request
            if typ == NLMSG_ERROR:
                (err,) = struct.unpack_from("=i", data, _HDR.size)
                if err:
                    raise NetlinkRequestError(-err, os.strerror(-err))
                return None
            return data

    def link_index(self, ifname: str) -> int:
        """``ip link show IFNAME`` → its ifindex (ENODEV if there is none)."""
        m = ifinfmsg()
        m["attrs"] = [("IFLA_IFNAME", ifname)]
        data = self.request(m, RTM_GETLINK, 0, ack=False)
        assert data is not None
        return int(struct.unpack_from("=i", data, _HDR.size + 4)[0])

    def link_up(self, index: int) -> None:
        """``ip link set dev INDEX up``."""
        m = ifinfmsg()
        m["index"] = index
        m["flags"] = IFF_UP
        m["change"] = IFF_UP
        self.request(m, RTM_NEWLINK, 0)

    def link_del(self, index: int) -> None:
        """``ip link del dev INDEX`` (a veth takes its peer with it)."""
        m = ifinfmsg()
        m["index"] = index
        self.request(m, RTM_DELLINK, 0)

    def addr_add(
        self, index: int, address: str, prefixlen: int, broadcast: str | None = None
    ) -> None:
        """``ip addr add ADDRESS/PREFIXLEN [broadcast BRD] dev INDEX``."""
        m = ifaddrmsg()
        m["family"] = socket.AF_INET
        m["prefixlen"] = prefixlen
        m["index"] = index
        m["attrs"] = [("IFA_LOCAL", address), ("IFA_ADDRESS", address)]
        if broadcast:
            m["attrs"].append(("IFA_BROADCAST", broadcast))
        self.request(m, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL)

    def default_route(self, gateway: str) -> None:
        """``ip route add default via GATEWAY``."""
        m = rtmsg()
        m["family"] = socket.AF_INET
        m["table"] = RT_TABLE_MAIN
        m["proto"] = RTPROT_BOOT
        m["type"] = RTN_UNICAST
        m["attrs"] = [("RTA_GATEWAY", gateway)]
        self.request(m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL)

    def veth_add(
        self,
        ifname: str,
        peer: str,
        peer_netns_fd: int,
        peer_mac: str,
        master: int,
        mac: str | None = None,
    ) -> None:
        """``ip link add IFNAME [address MAC] txqueuelen 0 master BR up type veth peer name
        PEER netns NS address PEER_MAC txqueuelen 0`` (dockerd creates both ends with
        txqueuelen 0: ``ip link`` shows no ``qlen``)."""
        m = ifinfmsg()
        m["flags"] = IFF_UP
        m["change"] = IFF_UP
        peer_attrs = {
            "attrs": [
                ("IFLA_IFNAME", peer),
                ("IFLA_NET_NS_FD", peer_netns_fd),
                ("IFLA_ADDRESS", peer_mac),
                ("IFLA_TXQLEN", 0),
            ]
        }
        m["attrs"] = [
            ("IFLA_IFNAME", ifname),
            *([("IFLA_ADDRESS", mac)] if mac else []),
            ("IFLA_MASTER", master),
            ("IFLA_TXQLEN", 0),
            (
                "IFLA_LINKINFO",
                {
                    "attrs": [
                        ("IFLA_INFO_KIND", "veth"),
                        ("IFLA_INFO_DATA", {"attrs": [("VETH_INFO_PEER", peer_attrs)]}),
                    ]
                },
            ),
        ]
        self.request(m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL)
