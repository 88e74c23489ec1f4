"""The control panel follows the lab's own names: a user-defined network's bridge, its
gateway and a subnet other than 172.17 (issue #8: no hard-coded docker0, eth0, 172.17)."""

from __future__ import annotations

import pytest

from labkit import Lab
from labkit.widgets import GATEWAY, Panel

pytestmark = pytest.mark.lab


def test_panel_on_a_user_defined_network(can_lab: None) -> None:
    with Lab(profile="modern", seed=5, subnet="10.99.0.0/24") as lab:
        app = lab.networks.create("appnet")
        a = lab.run("ca", network="appnet")
        lab.run("cb", network="appnet")
        p = Panel(lab)
        assert p.capture_points("ca", "cb") == [
            "ca:eth0", f"host:{a.veth}", f"host:{app.bridge}",
            f"host:{lab.containers.get('cb').veth}", "cb:eth0",
        ]  # fmt: skip
        assert p._target_label(GATEWAY, "ca") == f"{app.bridge} gateway ({app.gateway})"
        sent = p.send("ca", GATEWAY)
        assert sent is not None and sent.answered and sent.dst == app.gateway
        assert p.send("ca", "cb").answered
        p.set_masquerade(False)
        assert "10.99.0.0/24" in p.message.value and "172.17" not in p.message.value
        assert "docker0 10.99.0.1" in p.widget.children[0].value.replace("</span>", "").replace(
            '<span style="font-family: var(--jp-code-font-family, ui-monospace, monospace);">', ""
        )
