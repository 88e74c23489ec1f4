"""The ``labkit`` command: doctor, demo, shell, ls, bench."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from labkit import sandbox
from labkit.client import registry
from labkit.errors import LabkitError


def cmd_doctor(args: argparse.Namespace) -> int:
    from labkit.doctor import checks, report

    text, ok = report(checks(try_lab=not args.quick))
    print(text)
    return 0 if ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from labkit.demo import run_demo

    return run_demo(profile=args.profile)


def cmd_bench(args: argparse.Namespace) -> int:
    from labkit.bench import run_bench

    sizes = tuple(int(s) for s in args.sizes.split(","))
    run_bench(sizes)
    return 0


def _user(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def cmd_ls(args: argparse.Namespace) -> int:
    """``labkit ls`` (like ``docker ps``): this user's labs; ``--all``: every user's (root)."""
    labs = registry.all_labs() if args.all else registry.running_labs()
    if not labs:
        print("no labs running" + ("" if args.all else " for this user"))
        return 0
    user = f"{'USER':<12} " if args.all else ""
    print(
        f"{user}{'SANDBOX PID':<12} {'OWNER PID':<10} {'PROFILE':<8} {'SUBNET':<16} {'MODE':<9} UP"
    )
    for r in labs:
        up = time.time() - r.get("started", time.time())
        user = f"{_user(r['uid']):<12} " if args.all else ""
        print(
            f"{user}{r['sandbox_pid']:<12} {r['owner_pid']:<10} {r['profile']:<8} "
            f"{r['subnet']:<16} {r['mode']:<9} {up:.0f}s"
        )
    return 0


def shell_argv(record: dict[str, Any], node: str, command: list[str]) -> list[str]:
    """The nsenter command line that puts a shell (or command) inside a lab's node."""
    enter = [
        sandbox.which("nsenter") or "nsenter",
        "-t",
        str(record["sandbox_pid"]),
        "-m",
        "-n",
        "-u",
    ]
    if record["mode"] == "rootless":
        # an ordinary user keeps their uid, which the lab maps to its root; root becomes the
        # lab's root (a subordinate uid: labkit.daemon.launch), which owns the nodes
        enter[1:1] = ["-U"] if os.getuid() == 0 else ["--preserve-credentials", "-U"]
    inner = command or ["bash", "-i"]
    if node == "host":
        return [*enter, "--", *inner]
    script = (
        'f=/run/labkit/nodes/"$1"/pid; shift; '
        '[ -r "$f" ] || { echo "labkit: no node named $0 in this lab" >&2; exit 1; }; '
        'exec nsenter -t "$(cat "$f")" -n -m -u -- "$@"'
    )
    return [*enter, "--", "sh", "-c", script, node, node, *inner]


def cmd_shell(args: argparse.Namespace) -> int:
    labs = registry.running_labs()
    if args.lab:
        labs = [r for r in labs if str(r["sandbox_pid"]) == str(args.lab)]
    if not labs:
        print(
            "labkit: no running lab found; start one (Lab() in a notebook, or `labkit demo`)",
            file=sys.stderr,
        )
        return 1
    record = labs[-1]
    argv = shell_argv(record, args.node, args.command)
    env = dict(
        os.environ,
        PS1=f"[lab:{args.node}] \\w# ",
        PATH=os.environ.get("PATH", "") + ":" + sandbox.SBIN_PATH,
    )
    os.execvpe(argv[0], argv, env)
    return 1  # not reached


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="labkit",
        description="A tiny Docker daemon in a sandbox: learn how Docker networks containers.",
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("doctor", help="what this machine can do, and how to fix what it cannot")
    d.add_argument("--quick", action="store_true", help="do not start a test lab")
    d.set_defaults(func=cmd_doctor)
    m = sub.add_parser("demo", help="build the article's topology step by step, with evidence")
    m.add_argument("--profile", default="article", choices=["article", "modern"])
    m.set_defaults(func=cmd_demo)
    s = sub.add_parser("shell", help="a shell inside a running lab (the host, or a container)")
    s.add_argument("node", nargs="?", default="host", help="host, outside or a container name")
    s.add_argument("--lab", help="sandbox PID of the lab (from `labkit ls`); default: newest")
    s.add_argument("command", nargs=argparse.REMAINDER, help="a command instead of a shell")
    s.set_defaults(func=cmd_shell)
    ls = sub.add_parser("ls", help="labs running for this user")
    ls.add_argument("--all", action="store_true", help="every user's labs (root only)")
    ls.set_defaults(func=cmd_ls)
    b = sub.add_parser("bench", help="measure labs against one `ip` command per step")
    b.add_argument("--sizes", default="1,10,100", help="comma-separated container counts")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "command", None) and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    try:
        return int(args.func(args))
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
