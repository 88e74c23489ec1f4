"""Pieces of graphviz's HTML-like labels, shared by every picture of :mod:`labkit.views`:
escaped text, wrapped text, and the framed table a box is drawn as."""

from __future__ import annotations

import html
import textwrap
from typing import Any

__all__ = ["CABLE", "esc", "table", "wrap"]

#: the colour of cables and of a box's frame
CABLE = "#495057"


def esc(value: Any) -> str:
    """Escape text for a graphviz HTML-like label."""
    return html.escape(str(value), quote=True)


def wrap(text: str, width: int = 42) -> str:
    """Escaped text broken into lines of about ``width`` characters (HTML-like ``<br/>``)."""
    return "<br/>".join(esc(line) for line in textwrap.wrap(text, width, break_on_hyphens=False))


def table(rows: list[str], *, color: str = CABLE) -> str:
    """A whole label: a framed table of ``rows`` (each the ``<td>`` cells of one row)."""
    return (
        f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4" color="{color}">'
        + "".join(f"<tr>{r}</tr>" for r in rows)
        + "</table>>"
    )
