"""The pieces every HTML view of labkit is built from, written once: escaping, tables,
monospace values, headings, and the inline styles they use.

Styles are theme-neutral: text inherits JupyterLab's colour (light or dark theme) and
fills are translucent, so both themes read well. Every value is escaped here.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from labkit.i18n import tr

# Styles: theme-neutral (inherit text colour, translucent fills) so both themes read well.
WRAP = (
    "font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 13px; "
    "color: inherit; line-height: 1.35;"
)
TABLE = "border-collapse: collapse; margin: 4px 0 10px 0; font-size: 12px; color: inherit;"
TH = (
    "text-align: left; padding: 3px 8px; border-bottom: 1px solid rgba(127,127,127,0.55); "
    "background: rgba(127,127,127,0.14); font-weight: 600; white-space: nowrap;"
)
TD = (
    "text-align: left; padding: 3px 8px; border-bottom: 1px solid rgba(127,127,127,0.25); "
    "vertical-align: top;"
)
MONO = "font-family: var(--jp-code-font-family, ui-monospace, monospace); font-size: 12px;"
H_NODE = "font-size: 15px; font-weight: 700; margin: 14px 0 4px 0;"
H_SECTION = "font-size: 12px; font-weight: 600; margin: 8px 0 2px 0; opacity: 0.8;"
MUTED = "opacity: 0.65;"
HILITE = "background: rgba(255,146,43,0.30); border-radius: 3px; padding: 0 3px; font-weight: 600;"
OK = "color: #2f9e44;"
BAD = "color: #e03131;"
PRE = (
    MONO + "margin: 2px 0 8px 0; padding: 6px 8px; background: rgba(127,127,127,0.10); "
    "border-radius: 4px; white-space: pre; overflow-x: auto; color: inherit;"
)


def escape(value: Any) -> str:
    """HTML-escape any value (``None`` becomes an empty string)."""
    return "" if value is None else html.escape(str(value), quote=True)


def table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A table; ``headers`` are escaped here, cells must already be HTML."""
    head = "".join(f'<th style="{TH}">{escape(tr(h))}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="{TD}">{c}</td>' for c in row) + "</tr>" for row in rows
    )
    return f'<table style="{TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def mono(value: Any) -> str:
    """A value, escaped, in the notebook's code font."""
    return f'<span style="{MONO}">{escape(value)}</span>'


def none(text: str = "none") -> str:
    """A muted line saying there is nothing to show (translated)."""
    return f'<div style="{MUTED} font-size: 12px; margin: 2px 0 8px 0;">{escape(tr(text))}</div>'


def section(title: str) -> str:
    """A small section heading (translated)."""
    return f'<div style="{H_SECTION}">{escape(tr(title))}</div>'
