"""LabConfig: the lab's settings, checked once and carried over the pipe as plain data."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest

from labkit import protocol
from labkit.core.config import LabConfig
from labkit.errors import InvalidArgument, InvalidSubnet


def test_the_settings_cross_the_pipe_as_plain_data() -> None:
    config = LabConfig("article", "10.99.0.0/24", seed=7, icc=False, mode="root", ipv6=True)
    wire = protocol.read_frame(io.BytesIO(protocol.encode(config.to_wire())))
    assert wire == {"profile": "article", "subnet": "10.99.0.0/24", "seed": 7, "icc": False,
                    "mode": "root", "hosts": 1, "ipv6": True}  # fmt: skip
    assert LabConfig.from_wire(wire) == config


def test_the_class_itself_is_refused_by_the_protocol() -> None:
    with pytest.raises(protocol.UnsafeFrame):
        protocol.read_frame(io.BytesIO(protocol.encode(LabConfig())))


def test_unknown_settings_are_named() -> None:
    with pytest.raises(InvalidArgument, match="unknown lab setting.*bridge"):
        LabConfig.from_wire({**LabConfig().to_wire(), "bridge": "br0"})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"profile": "ancient"}, InvalidArgument, "unknown profile 'ancient'"),
        ({"hosts": 0}, InvalidArgument, "at least one Docker host"),
        ({"hosts": 2, "ipv6": True}, InvalidArgument, "not built together"),
        ({"subnet": "fd00::/64"}, InvalidSubnet, "is IPv6"),
        ({"subnet": "198.51.100.0/24"}, InvalidSubnet, "overlaps"),
        ({"seed": "7"}, InvalidArgument, "seed must be an int"),
    ],
)
def test_bad_settings_are_refused_on_both_sides(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        LabConfig(**kwargs)
    with pytest.raises(error, match=match):  # the daemon checks what crossed the pipe again
        LabConfig.from_wire({**LabConfig().to_wire(), **kwargs})


def test_the_chosen_mode_replaces_auto() -> None:
    config = dataclasses.replace(LabConfig(seed=1), mode="rootless")
    assert (config.mode, config.seed, config.profile_facts.gateway) == ("rootless", 1, "172.17.0.1")
