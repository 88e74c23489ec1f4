"""Pure rules of multi-host networking: names, VNIs, pools, host names (no lab needed)."""

from __future__ import annotations

import pytest

from labkit.core import overlay
from labkit.errors import InvalidArgument, NotFound


def test_names_as_libnetwork_makes_them() -> None:
    nid = "f3a9c51e7d20" + "0" * 52
    assert overlay.vxlan_name(4097, nid) == "vx-001001-f3a9c"
    assert overlay.bridge_name(4097, nid) == "ov-001001-f3a9c"
    assert overlay.sandbox_key(nid) == "1-f3a9c51e7d"
    assert overlay.MTU == 1450


def test_swarm_pool_skips_ingress() -> None:
    subnets = overlay.overlay_subnets()
    assert [str(next(subnets)) for _ in range(2)] == ["10.0.1.0/24", "10.0.2.0/24"]


def test_host_names_and_addresses() -> None:
    assert overlay.host_names(3) == ["host", "host2", "host3"]
    assert overlay.uplink_ip("198.51.100.73", 1) == "198.51.100.74"
    with pytest.raises(InvalidArgument, match="at least one"):
        overlay.check_count(0)
    with pytest.raises(InvalidArgument, match="too many"):
        overlay.check_count(overlay.MAX_HOSTS + 1)
    with pytest.raises(NotFound, match="hosts: host, host2"):
        overlay.check_host("host9", ["host", "host2"])
