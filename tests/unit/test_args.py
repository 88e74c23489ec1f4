"""Bad input becomes a clear labkit.errors error (no lab needed)."""

from __future__ import annotations

import pytest

from labkit.core.args import check_environment, check_timeout, split_command
from labkit.core.ipam import check_overlap, reserved_ranges
from labkit.core.ports import parse_ports
from labkit.core.profiles import get_profile
from labkit.errors import InvalidArgument, InvalidSubnet


@pytest.mark.parametrize(
    ("cmd", "words"),
    [
        ("echo 'unbalanced", "No closing quotation"),
        (["echo", "a\0b"], "NUL byte"),
        ("", "cmd is empty"),
        (42, "string or a list of strings"),
        (["ls", 3], "string or a list of strings"),
    ],
)
def test_bad_commands(cmd: object, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        split_command(cmd)


def test_good_commands() -> None:
    assert split_command("sh -c 'echo hi'") == ["sh", "-c", "echo hi"]
    assert split_command(("ip", "a")) == ["ip", "a"]


@pytest.mark.parametrize("t", ["x", -1, -0.5, float("nan"), True, [1]])
def test_bad_timeouts(t: object) -> None:
    with pytest.raises(InvalidArgument, match="timeout"):
        check_timeout(t)


def test_good_timeouts() -> None:
    assert check_timeout(None) is None and check_timeout(0) == 0.0 and check_timeout(2.5) == 2.5


@pytest.mark.parametrize(
    "env", [{"A": 1}, {"A": None}, {1: "x"}, {"A=B": "x"}, {"": "x"}, {"A": "x\0y"}, ["A=1"]]
)
def test_bad_environments(env: object) -> None:
    with pytest.raises(InvalidArgument, match="environment"):
        check_environment(env)


def test_good_environment() -> None:
    assert check_environment({"LANG": "C"}) == {"LANG": "C"} and check_environment(None) == {}


@pytest.mark.parametrize(
    "ports", [{"80/tcp": 8080.9}, {"80/tcp": True}, {8080.9: 80}, {True: 80}, {"80/sctp": 1}]
)
def test_bad_ports(ports: dict[object, object]) -> None:
    with pytest.raises(InvalidArgument):
        parse_ports(ports)


def test_good_ports() -> None:
    specs = parse_ports({"80/tcp": 8080, 53: "5353", "443": None})
    assert [(s.container_port, s.host_port) for s in specs] == [(80, 8080), (53, 5353), (443, None)]


@pytest.mark.parametrize(
    ("subnet", "named"),
    [
        ("198.51.100.0/24", "198.51.100.0/24 (the lab's uplink)"),
        ("198.51.0.0/16", "198.51.100.0/24 (the lab's uplink)"),
        ("203.0.113.128/25", "203.0.113.0/24 (the lab's outside world)"),
    ],
)
def test_subnets_overlapping_the_labs_own_ranges(subnet: str, named: str) -> None:
    with pytest.raises(InvalidSubnet, match="overlaps") as info:
        check_overlap(subnet, reserved_ranges(get_profile("modern")))
    assert subnet.split("/")[0] in str(info.value) and named in str(info.value)


def test_subnets_overlapping_each_other() -> None:
    taken = {**reserved_ranges(get_profile("article")), "network 'bridge'": "172.17.0.0/16"}
    with pytest.raises(InvalidSubnet, match="172.17.0.0/16 \\(network 'bridge'\\)"):
        check_overlap("172.17.5.0/24", taken)
    assert str(check_overlap("10.99.0.0/24", taken)) == "10.99.0.0/24"
