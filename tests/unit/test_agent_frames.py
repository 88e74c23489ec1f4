"""The agent's capture helpers, without a socket."""

from __future__ import annotations


def test_capture_frame_puts_the_vlan_tag_back_and_reads_the_kernel_time() -> None:
    """The agent's capture reads PACKET_AUXDATA as scapy's L2Socket did."""
    import socket
    import struct

    from labkit.packets import agent

    frame = bytes.fromhex("0242ac1100030242ac1100020800") + b"\x45" * 20
    stamp = struct.pack("qq", 1_700_000_000, 250_000_000)
    aux = struct.pack("IIIHHHH", agent.TP_STATUS_VLAN_VALID, 34, 34, 0, 14, 10, 0)
    anc = [
        (agent.SOL_PACKET, agent.PACKET_AUXDATA, aux),
        (socket.SOL_SOCKET, agent.SO_TIMESTAMPNS, stamp),
    ]
    data, t = agent._frame(frame, anc)
    assert data == frame[:12] + b"\x81\x00\x00\x0a" + frame[12:]
    assert t == 1_700_000_000.25
    qinq = struct.pack(
        "IIIHHHH",
        agent.TP_STATUS_VLAN_VALID | agent.TP_STATUS_VLAN_TPID_VALID, 34, 34, 0, 14, 5, 0x88A8,
    )  # fmt: skip
    data, _ = agent._frame(frame, [(agent.SOL_PACKET, agent.PACKET_AUXDATA, qinq)])
    assert data[12:16] == b"\x88\xa8\x00\x05"
    untagged = struct.pack("IIIHHHH", 0, 34, 34, 0, 14, 0, 0)
    data, t = agent._frame(frame, [(agent.SOL_PACKET, agent.PACKET_AUXDATA, untagged)])
    assert data == frame and t > 1.7e9  # no timestamp: the time now
