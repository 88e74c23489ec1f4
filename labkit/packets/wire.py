"""Carry a scapy packet from the notebook to a probe agent as plain data.

A packet written in a notebook, ``IP(dst="203.0.113.10")/UDP(dport=9999)/b"hello"``, has
most of its fields unset: the source address, the checksums, the lengths, the IP id are
*defaults*, computed when the packet is built. Building it in the notebook would compute
them from the notebook machine's own routes and interfaces, which is wrong: the packet is
sent from inside a container. So the notebook never builds the packet. :func:`describe`
keeps only what the learner wrote (``layer.fields``), and :func:`rebuild`, run by the agent
inside the container's namespace, stacks the layers again so every default is filled there.

The description is plain data (lists, dicts, str, int, bytes, ...), safe to pickle and to
unpickle in a process that never imported scapy::

    [
        {"layer": "scapy.layers.inet.IP", "fields": {"dst": "203.0.113.10"}},
        {"layer": "scapy.layers.inet.UDP", "fields": {"dport": 9999}},
        {"layer": "scapy.packet.Raw", "fields": {"load": b"hello"}},
    ]

A packet given as ``bytes`` is already built; it is carried as
``[{"bytes": b"...", "layer": "scapy.layers.inet.IP"}]`` and decoded again by
:func:`rebuild` (the first layer is guessed from the IP version nibble unless given).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    from scapy.packet import Packet

__all__ = ["describe", "rebuild", "PACKET_KEY"]

#: Marks a field value that is itself a packet (DNS questions, IP options, ...).
PACKET_KEY = "__packet__"

_PLAIN = (type(None), bool, int, float, str, bytes)


def _plain(value: Any, where: str) -> Any:
    """Turn a field value into plain picklable data, never building anything."""
    from scapy.base_classes import Net
    from scapy.fields import FlagValue
    from scapy.packet import Packet

    if isinstance(value, FlagValue):
        return int(value)
    if type(value) in _PLAIN:
        return value
    for plain in _PLAIN[1:]:  # subclasses (scapy's scoped IP strings, ...) lose their class
        if isinstance(value, plain):
            return str.__str__(value) if plain is str else plain(value)  # type: ignore[arg-type]
    if isinstance(value, Packet):
        return {PACKET_KEY: describe(value)}
    if isinstance(value, (list, tuple)):
        items = [_plain(v, where) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, Net):
        return f"{value.net}/{value.mask}"
    raise TypeError(
        f"{where}: a value of type {type(value).__name__} ({value!r}) cannot be sent to a "
        "container; write a plain value (str, int, bytes, list) instead"
    )


def describe(
    pkt: Packet | bytes | bytearray, layer: str | type | None = None
) -> list[dict[str, Any]]:
    """Describe ``pkt`` as plain data, keeping only the fields set explicitly.

    Never builds the packet (no ``bytes(pkt)``, ``build()``, ``show2()``), so no default is
    computed from the calling machine's routes.

    :param pkt: a scapy packet, or an already built packet as ``bytes``.
    :param layer: only for ``bytes``: the scapy class to decode them with, as
        ``"module.Name"`` or a class (default: IP/IPv6 by the version nibble, else Ether).
    :returns: one dict per layer, ``{"layer": "module.Class", "fields": {...}}``.
    """
    if isinstance(pkt, (bytes, bytearray)):
        data = bytes(pkt)
        if layer is None:
            version = data[0] >> 4 if data else 0
            layer = {4: "scapy.layers.inet.IP", 6: "scapy.layers.inet6.IPv6"}.get(
                version, "scapy.layers.l2.Ether"
            )
        elif isinstance(layer, type):
            layer = f"{layer.__module__}.{layer.__name__}"
        return [{"bytes": data, "layer": layer}]

    from scapy.packet import NoPayload, Packet

    if not isinstance(pkt, Packet):
        raise TypeError(f"describe() wants a scapy packet or bytes, not {type(pkt).__name__}")
    spec: list[dict[str, Any]] = []
    current: Packet = pkt
    while current is not None and not isinstance(current, NoPayload):
        cls = type(current)
        name = f"{cls.__module__}.{cls.__name__}"
        fields = {
            key: _plain(value, f"{cls.__name__}.{key}")
            for key, value in current.fields.items()
            # scapy copies empty list defaults (IP/TCP options) into ``fields``: not set
            # by the caller, so left out.
            if not (isinstance(value, list) and not value)
        }
        spec.append({"layer": name, "fields": fields})
        current = current.payload
    return spec


def _load_class(name: str) -> type:
    """Import ``module.Class``, only from scapy (a spec must not import arbitrary code)."""
    module_name, _, cls_name = name.rpartition(".")
    if not (module_name == "scapy" or module_name.startswith("scapy.")):
        raise ValueError(f"layer {name!r} is not a scapy layer")
    module = importlib.import_module(module_name)
    cls = getattr(module, cls_name, None)
    from scapy.packet import Packet

    if not (isinstance(cls, type) and issubclass(cls, Packet)):
        raise ValueError(f"layer {name!r} is not a scapy packet class")
    return cls


def _unplain(value: Any) -> Any:
    if isinstance(value, dict) and PACKET_KEY in value:
        return rebuild(value[PACKET_KEY])
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_unplain(v) for v in value)
    return value


def rebuild(spec: list[dict[str, Any]] | Packet | bytes) -> Packet:
    """Stack the layers of a :func:`describe` result again (the inverse of describe).

    Run it where the packet will be sent: defaults (source address, checksums, ...) are
    filled when the returned packet is built. A scapy packet is returned unchanged and
    ``bytes`` are decoded as by ``describe(data)``.
    """
    from scapy.packet import Packet

    if isinstance(spec, Packet):
        return spec
    if isinstance(spec, (bytes, bytearray)):
        spec = describe(spec)
    if not isinstance(spec, list) or not spec:
        raise ValueError("a packet description is a non-empty list of layers")
    pkt: Packet | None = None
    for entry in spec:
        cls = _load_class(entry["layer"])
        if "bytes" in entry:
            layer = cls(entry["bytes"])
        else:
            fields = {k: _unplain(v) for k, v in entry.get("fields", {}).items()}
            layer = cls(**fields)
        pkt = layer if pkt is None else pkt / layer
    assert pkt is not None
    return pkt
