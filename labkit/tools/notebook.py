"""Small helpers the tutorial notebooks import: environment check, ✔/✘ checks, side by side.

They print plain text (stable, readable in a stored notebook and on GitHub) and keep the
notebook cells short. None of them changes a lab.
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass

__all__ = ["Verdict", "check_environment", "side_by_side", "verdict"]


def check_environment() -> bool:
    """Say plainly whether labs can run here; if not, print the real reason and stop.

    Runs the quick checks of ``labkit doctor`` (tools, and each step of a sandbox tried
    separately; no lab is started). When labs can run it prints one line, the same for root
    and for an unprivileged learner. When they cannot, it prints the obstacle the kernel
    actually met, the fix for this place (``docker run`` flags, a Kubernetes
    ``securityContext``, a sysctl) and where the labs run live (GitHub Codespaces, the dev
    container, a Linux VM), then raises ``RuntimeError`` so the notebook stops at its first
    cell; the stored outputs of the other cells stay readable.
    """
    from labkit.core.diagnosis import LIVE_PATHS
    from labkit.doctor import checks, report

    items = checks(try_lab=False)
    text, ok = report(items)
    if ok:
        # the same text for root and for a learner (the modes differ: `labkit doctor` has them)
        from labkit.i18n import tr

        print(f"✔ {tr('labs can run here')}")
        return True
    print("✘ labs cannot run in this environment. Why, step by step (`labkit doctor`):\n")
    print("\n".join(line for line in text.splitlines() if not line.startswith("[ok  ]")))
    print(
        "\nThe stored outputs below come from a real run: you can read the whole tutorial"
        f" here. To run the labs live, use {LIVE_PATHS}."
    )
    raise RuntimeError("labs cannot run in this environment (see the reason above)")


@dataclass
class Verdict:
    """The outcome of an exercise check: prints as ``✔ …`` or ``✘ … — hint: …``."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return ""

    def _repr_pretty_(self, p, cycle) -> None:  # type: ignore[no-untyped-def]
        pass


def verdict(ok: bool, good: str, hint: str) -> Verdict:
    """Print ``✔ good`` when ``ok``, else ``✘ not yet — hint: …``; return the verdict.

    The sentences are written in labkit's language (:func:`labkit.set_language`): a
    Japanese notebook reads ``✘ まだです — ヒント: …`` from the same code.

    The returned :class:`Verdict` is truthy when the check passed; its repr is empty so a
    check called as a cell's last line does not print twice.
    """
    from labkit.i18n import tr, tr_message

    if ok:
        v = Verdict(True, f"✔ {tr_message(good)}")
    else:
        v = Verdict(False, f"✘ {tr('not yet')} — {tr('hint')}: {tr_message(hint)}")
    print(v.message)
    sys.stdout.flush()
    return v


class SideBySide:
    """Two texts in two columns (HTML in a notebook, plain text elsewhere)."""

    def __init__(self, left: str, right: str, left_title: str, right_title: str) -> None:
        self.left, self.right = left.rstrip("\n"), right.rstrip("\n")
        self.titles = (left_title, right_title)

    def __repr__(self) -> str:
        return f"── {self.titles[0]} ──\n{self.left}\n\n── {self.titles[1]} ──\n{self.right}"

    def _repr_html_(self) -> str:
        cells = "".join(
            "<td style='vertical-align:top; text-align:left; padding:4px 12px 4px 0'>"
            f"<b>{html.escape(t)}</b><pre style='margin:4px 0'>{html.escape(body)}</pre></td>"
            for t, body in zip(self.titles, (self.left, self.right), strict=True)
        )
        return f"<table><tr>{cells}</tr></table>"


def side_by_side(
    left: str, right: str, left_title: str | None = None, right_title: str | None = None
) -> SideBySide:
    """Show two outputs next to each other, e.g. the article's ``brctl show`` and the lab's.

    The titles default to "the article" and "your lab", in labkit's language
    (:func:`labkit.set_language`).
    """
    from labkit.i18n import tr

    return SideBySide(
        left,
        right,
        tr("the article") if left_title is None else left_title,
        tr("your lab") if right_title is None else right_title,
    )
