"""A lab's settings: what ``dockerd`` is started with (``--bip``, ``--icc``, ``"ipv6"`` in
``daemon.json``), which Docker it imitates, and how many Docker hosts it has.

:class:`LabConfig` is checked once, here, on both sides of the pipe: ``Lab(...)`` makes one
from its arguments, and the daemon rebuilds it from the plain dict that crossed the pipe
(:meth:`LabConfig.to_wire` / :meth:`LabConfig.from_wire`: the protocol carries plain data,
never a class).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labkit.core.ipam import check_overlap, reserved_ranges
from labkit.core.overlay import check_count
from labkit.core.profiles import Profile, get_profile
from labkit.errors import InvalidArgument, InvalidSubnet


@dataclass(frozen=True)
class LabConfig:
    """The settings of one lab (see :class:`labkit.Lab` for each one's meaning).

    ``mode`` is the sandbox's: ``"auto"`` until :mod:`labkit.sandbox` has chosen
    ``"rootless"`` or ``"root"``. Raises a :mod:`labkit.errors` error for any bad value.
    """

    profile: str = "modern"
    subnet: str | None = None
    seed: int | None = None
    icc: bool = True
    mode: str = "auto"
    hosts: int = 1
    ipv6: bool = False

    def __post_init__(self) -> None:
        prof = get_profile(self.profile)
        check_count(self.hosts)
        if self.hosts != 1 and self.ipv6:
            raise InvalidArgument(
                "Lab(hosts=N) and ipv6=True are not built together yet: use one or the other"
            )
        if isinstance(self.subnet, str) and ":" in self.subnet:
            raise InvalidSubnet(
                f"subnet {self.subnet!r} is IPv6, but docker0's subnet is its IPv4 one: use "
                "Lab(ipv6=True), which gives docker0 a ULA /64 as Docker 27 does"
            )
        if self.subnet is not None:
            check_overlap(self.subnet, reserved_ranges(prof))
        if self.seed is not None and not isinstance(self.seed, int):
            raise InvalidArgument(f"seed must be an int, not {self.seed!r}")

    @property
    def profile_facts(self) -> Profile:
        """The :class:`~labkit.core.profiles.Profile` named by ``profile``."""
        return get_profile(self.profile)

    def to_wire(self) -> dict[str, Any]:
        """The settings as plain data, for the pipe to the lab's daemon."""
        return dataclasses.asdict(self)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> LabConfig:
        """The settings back from :meth:`to_wire`'s dict (checked again)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgument(
                f"unknown lab setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)
