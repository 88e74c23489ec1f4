"""``labkit doctor``: what this machine can do, and the exact fix for what it cannot."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass

from labkit import sandbox
from labkit.errors import LabkitError


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
    try:
        sandbox.settings()
    except LabkitError as exc:
        out.append(Check("LABKIT_* settings", False, str(exc), "fix or unset the variable"))
        return out
    out.extend(sandbox_checks())
    if not all(c.ok for c in out if c.required):
        return out
    if try_lab:
        out.extend(_lab_checks())
    return out


def sandbox_checks() -> list[Check]:
    """The sandbox: the mode labkit will use, or each mode's first refused step and its fix.

    The line for a working sandbox is the same for root and for an unprivileged user (a
    notebook's stored output must not depend on who ran it).
    """
    from labkit.core.diagnosis import MODES, obstacle, plan

    facts = sandbox.facts(("rootless",))
    chosen = plan(facts, "rootless")
    if chosen is None and facts.euid == 0:
        facts = sandbox.facts(MODES)
        chosen = plan(facts, "root")
    if chosen is not None:
        detail = "works: user, net, mount, uts, pid namespaces and a fresh /proc"
        if chosen.mode == "root":
            detail = "works in root mode only (the fallback: no user namespace)"
        res = [Check("sandbox", True, detail)]
        if chosen.sysfs != "rw":
            res.append(Check("sysfs", True, chosen.notes[0]))
        return res
    res = [Check("where", True, facts.place)]
    for mode in MODES:
        if mode == "root" and facts.euid != 0:
            continue
        obs = obstacle(mode, facts)
        if obs is None:
            res.append(Check(f"sandbox {mode}", False, "an earlier step failed"))
            continue
        res.append(Check(f"sandbox {mode}", False, f"{obs.step}: {obs.cause}", obs.fix))
    return res


def _lab_checks() -> list[Check]:
    from labkit.client.lab import Lab

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
    if not can_run and any(c.name.startswith("sandbox") and not c.ok for c in items):
        from labkit.core.diagnosis import LIVE_PATHS

        lines.append(f"Where labs run live: {LIVE_PATHS}.")
    return "\n".join(lines), can_run
