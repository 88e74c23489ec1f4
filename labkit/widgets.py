"""A live control panel for a lab, made of ipywidgets: run containers, send, watch.

```python
from labkit import Lab
from labkit.widgets import Panel

lab = Lab(profile="article", seed=1)
lab.run("c1"); lab.run("c2")
Panel(lab)          # or: labkit.widgets.panel(lab) for the bare ipywidgets VBox
```

The panel has four sections:

* **containers**: ``docker run`` a new container by name, ``docker rm`` one;
* **traffic**: pick a source container, a target (another container, the outside world,
  docker0's address) and ping or UDP, then *send*: the packet is sent inside
  ``lab.capture(...)`` at the points on its way, and the panel shows whether it was
  answered, the capture's tables and the diagram with the packet's path drawn on it;
* **switches**: the MASQUERADE rule and ``net.ipv4.ip_forward`` of the host, read from the
  kernel and bound to ``lab.host.masquerade()`` / ``lab.host.ip_forward()``;
* **conntrack**: the host's connection-tracking table after each send.

Every button calls a plain method (:meth:`Panel.run_container`, :meth:`Panel.send`, ...)
that a script or a test may call directly; the trip itself (points, send, verdict) is
:mod:`labkit.client.trip`, with no widget in it. Errors from labkit (an invalid name, a name in
use, a closed lab) are shown in the panel's message line in red, never raised into the
notebook. Everything runs synchronously: no threads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from labkit.client import trip
from labkit.client.trip import GATEWAY, OUTSIDE, UDP_PORT, SendResult
from labkit.core.firewall import masquerade_rule
from labkit.errors import LabkitError
from labkit.i18n import tr, tr_message
from labkit.views.html import conntrack_html
from labkit.views.markup import escape

if TYPE_CHECKING:
    from labkit.client.lab import Lab
    from labkit.client.models import Container

__all__ = ["OUTSIDE", "GATEWAY", "Panel", "SendResult", "panel"]

_WRAP = "font-family: var(--jp-ui-font-family, system-ui, sans-serif); font-size: 13px;"
_H = "font-size: 14px; font-weight: 700; margin: 10px 0 2px 0;"
_HINT = "opacity: 0.7; font-size: 12px;"
_OK = "color: #2f9e44;"
_BAD = "color: #e03131;"
_MONO = "font-family: var(--jp-code-font-family, ui-monospace, monospace);"


def _heading(title: str, hint: str = "") -> W.HTML:
    """A section heading and its hint, in labkit's language (:func:`labkit.set_language`)."""
    sub = f' <span style="{_HINT} font-weight: 400;">{escape(tr(hint))}</span>' if hint else ""
    return W.HTML(f'<div style="{_WRAP}{_H}">{escape(tr(title))}{sub}</div>')


def _muted(text: str) -> str:
    return f'<div style="{_WRAP}{_HINT}">{escape(tr_message(text))}</div>'


class Panel:
    """A live control panel for ``lab``: containers, traffic with captures, NAT switches.

    Show it in a notebook by making it the cell's last expression (or ``panel.widget``, the
    ``ipywidgets.VBox``). The widgets are attributes, so tests and scripts can read them:
    ``message``, ``name_text``, ``rm_dropdown``, ``src_dropdown``, ``target_dropdown``,
    ``proto_toggle``, ``masquerade_box``, ``ip_forward_box``, ``result_html``,
    ``capture_html``, ``diagram_html``, ``conntrack_area``. After a send, ``last_send`` is
    its :class:`SendResult`; ``last_diagram`` is the ``graphviz.Digraph`` shown.
    """

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.last_send: SendResult | None = None
        self.last_diagram: Any = None
        self._syncing = False  # set while the panel itself updates widgets

        # containers
        self.name_text = W.Text(placeholder=tr("name, e.g. c3"), layout=W.Layout(width="160px"))
        self.run_button = W.Button(description="docker run", icon="play", button_style="success")
        self.rm_dropdown = W.Dropdown(options=[], layout=W.Layout(width="220px"))
        self.rm_button = W.Button(description="docker rm", icon="trash", button_style="danger")
        self.message = W.HTML()

        # traffic
        self.src_dropdown = W.Dropdown(
            options=[], description=tr("from"), layout=W.Layout(width="260px")
        )
        self.target_dropdown = W.Dropdown(
            options=[], description=tr("to"), layout=W.Layout(width="320px")
        )
        self.proto_toggle = W.ToggleButtons(
            options=[("ping", "ping"), ("UDP", "udp")],
            value="ping",
            tooltips=["ICMP echo request", f"UDP datagram to port {UDP_PORT}"],
            style={"button_width": "70px"},
        )
        self.send_button = W.Button(
            description=tr("send"), icon="paper-plane", button_style="primary"
        )
        self.result_html = W.HTML(_muted("nothing sent yet"))
        self.capture_html = W.HTML()
        self.diagram_html = W.HTML()

        # switches
        self.masquerade_box = W.Checkbox(description=tr("MASQUERADE rule"), indent=False)
        self.ip_forward_box = W.Checkbox(description="ip_forward", indent=False)

        # conntrack
        self.conntrack_area = W.HTML()

        self.run_button.on_click(lambda _b: self._guard(self.run_container, self.name_text.value))
        self.rm_button.on_click(
            lambda _b: self._guard(self.remove_container, self.rm_dropdown.value)
        )
        self.send_button.on_click(lambda _b: self._on_send())
        self.src_dropdown.observe(self._on_source, names="value")
        self.masquerade_box.observe(self._on_switch(self.set_masquerade), names="value")
        self.ip_forward_box.observe(self._on_switch(self.set_ip_forward), names="value")

        self.widget: W.VBox = W.VBox(
            [
                W.HTML(
                    f'<div style="{_WRAP}{_H} font-size: 16px;">{escape(tr("labkit lab panel"))} '
                    f'<span style="{_HINT} font-weight: 400;">'
                    + tr("{bridge} {gateway} on {subnet}, host uplink {ip}").format(
                        bridge=escape(self._default_bridge()),
                        gateway=f'<span style="{_MONO}">{escape(lab.gateway)}</span>',
                        subnet=f'<span style="{_MONO}">{escape(lab.subnet)}</span>',
                        ip=f'<span style="{_MONO}">{escape(lab.host.ip)}</span>',
                    )
                    + "</span></div>"
                ),
                self.message,
                _heading("Containers", "docker run --name NAME / docker rm -f NAME"),
                W.HBox([self.name_text, self.run_button]),
                W.HBox([self.rm_dropdown, self.rm_button]),
                _heading("Switches", "the host's NAT rule and forwarding, as the kernel has them"),
                W.HBox([self.masquerade_box, self.ip_forward_box]),
                _heading("Traffic", "sent inside lab.capture(...) at every point on the way"),
                W.HBox([self.src_dropdown, self.target_dropdown]),
                W.HBox([self.proto_toggle, self.send_button]),
                self.result_html,
                self.capture_html,
                _heading("Diagram", "drawn from a kernel snapshot; the last send's path on it"),
                self.diagram_html,
                _heading("conntrack", "the host's connection tracking table (conntrack -L)"),
                self.conntrack_area,
            ],
            layout=W.Layout(padding="4px 8px"),
        )
        self._guard(self.refresh)

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<Panel for {self.lab!r}>"

    # ------------------------------------------------------------------ messages
    def _say(self, text: str, *, error: bool = False) -> None:
        style = _BAD if error else _OK
        mark = "✘" if error else "✔"
        self.message.value = f'<div style="{_WRAP}{style}">{mark} {escape(tr_message(text))}</div>'

    def _guard(self, fn: Any, *args: Any) -> Any:
        """Call ``fn``; an unexpected error goes to the message line, never to the notebook."""
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - a button must not raise into the notebook
            self._say(f"{type(exc).__name__}: {exc}", error=True)
            return None

    # ------------------------------------------------------------------ containers
    def run_container(self, name: str) -> Container | None:
        """``docker run --name NAME``: start a container and add it to the dropdowns.

        Returns the container, or None when labkit refused (the reason is shown in red).
        """
        name = str(name).strip()
        try:
            c = self.lab.run(name)
        except LabkitError as exc:
            self._say(str(exc), error=True)
            return None
        self.refresh()
        self.name_text.value = ""
        self.rm_dropdown.value = c.name
        self._say(f"docker run --name {c.name}: eth0 {c.ip} ({c.mac}), host side {c.veth}")
        return c

    def remove_container(self, name: str | None) -> bool:
        """``docker rm -f NAME``: remove a container (its veth pair goes with it).

        Returns True when it was removed; otherwise the reason is shown in red.
        """
        if not name:
            self._say("no container to remove: start one first", error=True)
            return False
        try:
            self.lab.rm(name)
        except LabkitError as exc:
            self._say(str(exc), error=True)
            return False
        self.refresh()
        self._say(f"docker rm -f {name}: container and its veth pair are gone")
        return True

    # ------------------------------------------------------------------ traffic
    def _default_bridge(self) -> str:
        return trip.default_bridge(self.lab)

    def capture_points(self, src: str, target: str) -> list[str]:
        """The capture points on the way from ``src`` to ``target``
        (:func:`labkit.client.trip.capture_points`)."""
        return trip.capture_points(self.lab, src, target)

    def send(self, src: str, target: str, proto: str = "ping") -> SendResult | None:
        """Send from container ``src`` to ``target`` while capturing, then show it all.

        ``target`` is another container's name, :data:`OUTSIDE` or :data:`GATEWAY`;
        ``proto`` is ``"ping"`` (one ICMP echo) or ``"udp"`` (a datagram to port 9999,
        answered by the target kernel's ICMP port unreachable); :func:`labkit.client.trip.send`
        does it. Shows ✔/✘, the capture's tables, the diagram with the packet's path and the
        host's conntrack table. Returns the :class:`SendResult`, or None when labkit refused
        (shown in red).
        """
        try:
            result = trip.send(self.lab, src, target, proto)
        except LabkitError as exc:
            self._say(str(exc), error=True)
            return None
        self.last_send = result
        self._show_send(result)
        return result

    def _show_send(self, r: SendResult) -> None:
        what = "ping" if r.proto == "ping" else f"UDP to port {UDP_PORT}"
        mark = (
            f'<b style="{_OK}">✔ {escape(tr("answered"))}</b>'
            if r.answered
            else f'<b style="{_BAD}">✘ {escape(tr("no answer"))}</b>'
        )
        label = self._target_label(r.target, r.source)
        line = tr("{what} from {src} to {dst} ({label}): {detail}").format(
            what=escape(tr_message(what)),
            src=f"<b>{escape(r.source)}</b>",
            dst=f'<span style="{_MONO}">{escape(r.dst)}</span>',
            label=escape(label),
            detail=escape(tr_message(r.detail)),
        )
        self.result_html.value = f'<div style="{_WRAP}">{mark} — {line}</div>'
        rich = getattr(r.capture, "_repr_html_", None)
        self.capture_html.value = rich() if callable(rich) else f"<pre>{escape(r.capture)}</pre>"
        self._draw(r.capture)
        self._say(f"sent {what} {r.source} → {r.dst}; captured at {len(r.capture)} points")

    def _target_label(self, target: str, src: str | None = None) -> str:
        label = trip.target_label(self.lab, target, src or self.src_dropdown.value)
        return label if label == target else tr_message(label)

    def _on_send(self) -> None:
        self.send_button.disabled = True
        self.result_html.value = _muted("sending…")
        try:
            self._guard(
                self.send,
                self.src_dropdown.value,
                self.target_dropdown.value,
                self.proto_toggle.value,
            )
        finally:
            self.send_button.disabled = not self.src_dropdown.options

    # ------------------------------------------------------------------ switches
    def set_masquerade(self, on: bool) -> bool:
        """Add (``True``) or delete (``False``) the default bridge's MASQUERADE rule; redraw.

        Returns the rule's real state afterwards, which the checkbox then shows.
        """
        rule = " ".join(masquerade_rule(self._default_bridge(), self.lab.subnet))
        try:
            self.lab.host.masquerade(bool(on))
        except LabkitError as exc:
            self._say(str(exc), error=True)
            self.refresh()
            return bool(self.masquerade_box.value)
        self.refresh()
        state = bool(self.masquerade_box.value)
        if state:
            self._say(f"iptables -t nat -A {rule}: containers' packets leave as {self.lab.host.ip}")
        else:
            self._say(
                f"iptables -t nat -D {rule}: packets to the outside keep their private "
                f"{self.lab.subnet} source; "
                "send again to see what breaks"
            )
        return state

    def set_ip_forward(self, on: bool) -> bool:
        """Turn the host's ``net.ipv4.ip_forward`` on or off; redraw.

        Returns the real state afterwards, which the checkbox then shows.
        """
        try:
            self.lab.host.ip_forward(bool(on))
        except LabkitError as exc:
            self._say(str(exc), error=True)
            self.refresh()
            return bool(self.ip_forward_box.value)
        self.refresh()
        state = bool(self.ip_forward_box.value)
        self._say(
            f"sysctl -w net.ipv4.ip_forward={int(state)}: "
            + (
                "the host routes between its bridges and its uplink"
                if state
                else "the host no longer routes between its bridges and its uplink; "
                "containers on one bridge still reach each other through it"
            )
        )
        return state

    def _on_switch(self, setter: Any) -> Any:
        def handler(change: dict[str, Any]) -> None:
            if not self._syncing:
                self._guard(setter, change["new"])

        return handler

    def _on_source(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self._guard(self._fill_targets)

    # ------------------------------------------------------------------ refresh
    def refresh(self) -> None:
        """Read the lab again: containers, switches, the diagram (no flow) and conntrack."""
        containers = self.lab.containers.list()
        names = [c.name for c in containers]
        self._syncing = True
        try:
            old_rm, old_src = self.rm_dropdown.value, self.src_dropdown.value
            labels = [(f"{c.name} ({c.ip})", c.name) for c in containers]
            self.rm_dropdown.options = labels
            self.rm_dropdown.value = old_rm if old_rm in names else (names[-1] if names else None)
            self.src_dropdown.options = labels
            self.src_dropdown.value = old_src if old_src in names else (names[0] if names else None)
            self.masquerade_box.value = bool(self.lab.host.masquerade())
            self.ip_forward_box.value = bool(self.lab.host.ip_forward())
            self._fill_targets(containers)
        finally:
            self._syncing = False
        self.rm_button.disabled = not names
        self.send_button.disabled = not names
        self._draw(None)

    def _fill_targets(self, containers: list[Container] | None = None) -> None:
        if containers is None:
            containers = self.lab.containers.list()
        src = self.src_dropdown.value
        options = [(f"{c.name} ({c.ip})", c.name) for c in containers if c.name != src]
        options += [
            (self._target_label(OUTSIDE), OUTSIDE),
            (self._target_label(GATEWAY, src), GATEWAY),
        ]
        old = self.target_dropdown.value
        was = self._syncing
        self._syncing = True
        try:
            self.target_dropdown.options = options
            values = [v for _, v in options]
            self.target_dropdown.value = old if old in values else values[0]
        finally:
            self._syncing = was

    def _draw(self, flow: Any) -> None:
        """From one kernel snapshot: the diagram (with ``flow``'s first matched packet when
        it has one, as ``lab.diagram(flow=cap)`` draws it) and the conntrack table."""
        note = ""
        if flow is not None and not flow.matches():
            note = _muted("no packet was seen at two capture points: no path to draw")
            flow = None
        snap = self.lab.snapshot()
        diagram = snap.diagram(flow=flow)
        self.last_diagram = diagram
        svg = diagram.pipe(format="svg").decode("utf-8")
        svg = svg[svg.find("<svg") :]  # drop the XML prolog and doctype
        self.diagram_html.value = (
            f'{note}<div style="max-width: 100%; overflow-x: auto;">{svg}</div>'
        )
        entries = snap.data["nodes"]["host"].get("conntrack") or []
        self.conntrack_area.value = conntrack_html(entries)


def panel(lab: Lab) -> W.VBox:
    """The panel's widget for ``lab``: ``Panel(lab).widget``."""
    return Panel(lab).widget
