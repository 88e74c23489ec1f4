"""``labkit doctor``: what this machine can do, and the exact fix for what it cannot."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass

from labkit import sandbox


@dataclass
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def checks(try_lab: bool = True) -> list[Check]:
    """Run every check; the last ones start and close a real lab."""
    out = [
        Check("python", sys.version_info >= (3, 10), platform.python_version(), "Python ≥ 3.10"),
        Check("kernel", True, platform.release()),
    ]
    for tool, pkg in sandbox.TOOLS.items():
        path = sandbox.which(tool)
        out.append(Check(f"tool {tool}", bool(path), path or "missing", f"apt-get install {pkg}"))
    for tool, pkg in sandbox.LEARNER_TOOLS.items():
        path = sandbox.which(tool)
        out.append(
            Check(f"tool {tool}", bool(path), path or "missing", f"apt-get install {pkg}", False)
        )
    modes = {}
    for mode in ("rootless", "root"):
        ok, err = sandbox.mode_works(mode)
        modes[mode] = ok
        out.append(
            Check(
                f"sandbox {mode}",
                ok,
                "works" if ok else (err or "refused"),
                sandbox.USERNS_FIX if mode == "rootless" else "run as root",
                required=False,
            )
        )
    if not any(modes.values()):
        out.append(Check("sandbox", False, "no sandbox mode works", sandbox.USERNS_FIX))
        return out
    if try_lab:
        out.extend(_lab_checks())
    return out


def _lab_checks() -> list[Check]:
    from labkit.client.lab import Lab
    from labkit.errors import LabkitError

    try:
        lab = Lab()
    except LabkitError as exc:
        return [Check("lab", False, str(exc).splitlines()[0], "see the message above")]
    try:
        res = [Check("lab", True, f"started in {lab.start_ms:.0f} ms ({lab.mode} sandbox)")]
        c = lab.run("doctor1")
        r = c.exec_run(["ping", "-n", "-c1", "-W2", lab.outside.ip])
        res.append(
            Check(
                "NAT to the outside world",
                r.exit_code == 0,
                "ping through MASQUERADE answered" if r.exit_code == 0 else r.output.strip(),
                "iptables' nat table must work inside a network namespace",
            )
        )
        brnf = lab.host.exec_run("sysctl -n net.bridge.bridge-nf-call-iptables")
        have = brnf.exit_code == 0
        res.append(
            Check(
                "br_netfilter",
                have,
                "bridged traffic meets iptables (icc=False uses a DROP rule)"
                if have
                else "missing: icc=False falls back to the bridge port flag 'isolated'",
                "sudo modprobe br_netfilter (a rootless lab cannot load modules)",
                required=False,
            )
        )
        return res
    finally:
        lab.close()


def report(items: list[Check]) -> tuple[str, bool]:
    """The report as text, and whether labs can run."""
    lines = []
    can_run = True
    for c in items:
        mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
        lines.append(f"[{mark}] {c.name:<28} {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"       fix: {c.fix}")
        if c.required and not c.ok:
            can_run = False
    who = "root" if os.geteuid() == 0 else f"uid {os.geteuid()}"
    lines.append(
        f"labs can run here (as {who})." if can_run else "labs cannot run here yet: see FAIL lines."
    )
    return "\n".join(lines), can_run
