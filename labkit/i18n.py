"""The language of the words labkit writes itself, in diagrams and tables.

The notebooks come in two editions, English (``notebooks/``) and Japanese
(``notebooks/ja/``). Their code is the same; the Japanese notebooks only add one line to
their first code cell::

    import labkit; labkit.set_language("ja")

From then on the labels labkit draws ("Docker host" → 「Docker ホスト」, "outside world" →
「外の世界」, the columns of its tables, ...) are Japanese, and diagrams are set in a CJK
font (Noto Sans CJK JP, Debian's ``fonts-noto-cjk``). What the kernel and the tools print
(``ifconfig``, ``brctl``, ``iptables``, addresses, interface names) is never translated:
it is the evidence, and it reads the same on a real Docker host.

The language can also come from the environment: ``LABKIT_LANG=ja``. A view may take it
per call too: ``diagram(snap, lang="ja")``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from labkit.errors import InvalidArgument

__all__ = ["LANGUAGES", "font", "get_language", "set_language", "tr"]

LANGUAGES = ("en", "ja")
"""The languages labkit writes its labels in."""

_FONTS = {"en": "Helvetica", "ja": "Noto Sans CJK JP"}

# English label → Japanese. Terms follow the article (@Arturias, Qiita): 仮想ブリッジ,
# veth ペア, IP マスカレード, リンク. Keys are the exact English strings the views write.
_JA: dict[str, str] = {
    # several hosts and overlay networks (labkit.views.multihost, notebook 12)
    "Docker hosts on one LAN, and their overlay networks":
        "1 つの LAN 上の Docker ホストとオーバーレイネットワーク",
    "overlay namespace": "オーバーレイの名前空間",
    "load balancer": "ロードバランサー",
    "ingress sandbox": "ingress のサンドボックス",
    "the LAN's switch (br-lan) and router": "LAN のスイッチ (br-lan) とルーター",
    "the router": "ルーター",
    "VXLAN tunnel": "VXLAN トンネル",
    "encapsulated": "カプセル化",
    "decapsulated": "カプセル化を解除",
    # diagram: nodes and boxes
    "Docker host": "Docker ホスト",
    "outside world": "外の世界",
    "container": "コンテナ",
    "network": "ネットワーク",
    "Docker networking on one host": "単一ホストの Docker ネットワーク",
    "profile": "プロファイル",
    "veth pair": "veth ペア",
    "macvlan child (bridge mode)": "macvlan の子インターフェイス (bridge モード)",
    "sharing this network namespace": "このネットワーク名前空間を共有",
    "bridge": "仮想ブリッジ",
    "port": "ポート",
    "ports": "ポート",
    "uplink": "アップリンク",
    "routing": "ルーティング",
    "forwarding on": "転送オン",
    "no forwarding between interfaces": "インターフェイス間の転送なし",
    "learned": "学習済み",
    "more": "件ほか",
    "no interfaces": "インターフェイスなし",
    "no NAT": "NAT なし",
    "no MASQUERADE rule in iptables -t nat:": "iptables -t nat に MASQUERADE ルールなし:",
    "containers' addresses leave unchanged": "コンテナのアドレスのまま外へ出る",
    "source →": "送信元 →",
    "'s address": " のアドレス",
    "published ports": "公開ポート",
    "(DNAT, chain DOCKER)": "(DNAT, DOCKER チェーン)",
    "source rewritten (NAT)": "送信元を書き換え (NAT)",
    "destination rewritten (NAT)": "宛先を書き換え (NAT)",
    "seen at": "観測点",
    "addresses seen there": "そこで見えたアドレス",
    "what happened": "起きたこと",
    "source NAT": "送信元 NAT",
    "destination NAT": "宛先 NAT",
    "destination rewritten": "宛先を書き換え",
    "(not in this snapshot)": "(このスナップショットにない)",
    "default via": "デフォルトゲートウェイ",
    "loopback only": "ループバックのみ",
    # isolation (09), chains (10), trouble (11)
    "isolated": "分離",
    "no route between these networks": "このネットワーク間は通れない",
    "DOCKER-ISOLATION drops it": "DOCKER-ISOLATION が破棄",
    "can talk": "通信できる",
    "cannot talk": "通信できない",
    "A packet's walk through iptables": "パケットが通る iptables のチェーン",
    "arrives": "到着",
    "leaves": "送出",
    "routing decision": "ルーティング判断",
    "for this host": "このホスト宛て",
    "a process on the host": "ホスト上のプロセス",
    "forwarded": "転送",
    "no rules": "ルールなし",
    "policy": "ポリシー",
    "rules": "ルール",
    "broken here": "ここが壊れている",
    "What is broken": "どこが壊れているか",
    # html tables
    "interfaces (ip link / ip addr)": "インターフェイス (ip link / ip addr)",
    "routes (ip route, main table)": "経路 (ip route, main テーブル)",
    "neighbours (ip neigh, ARP)": "近隣 (ip neigh, ARP)",
    "MAC learning table": "MAC 学習テーブル",
    "local (the port's own MAC)": "local (ポート自身の MAC)",
    "none": "なし",
    "no routes": "経路なし",
    "no conntrack entries": "conntrack エントリなし",
    "hostname": "ホスト名",
    "lab": "ラボ",
    "destination": "宛先",
    "gateway": "ゲートウェイ",
    "scope": "スコープ",
    "state": "状態",
    "addresses": "アドレス",
    "wired to": "接続先",
    "entry": "エントリ",
    "original (src → dst)": "元の向き (送信元 → 宛先)",
    "reply (src → dst)": "応答 (送信元 → 宛先)",
    "peer ifindex": "相手の ifindex",
    # side by side (labkit.tools.notebook)
    "the article": "記事",
    "your lab": "あなたのラボ",
    # captures
    "Capture": "キャプチャ",
    "{n} points, {m} packets seen at several points": "{n} 地点、複数の地点で見えたパケット {m} 個",
    "{n} packets": "{n} パケット",
    "src → dst": "送信元 → 宛先",
    "summary": "概要",
    "… {n} more": "… ほか {n} 個",
    "Same packet across points": "同じパケットを各地点で",
    "(matched by IP id, protocol and payload; highlighted: rewritten on the way, e.g. by NAT)": (
        "(IP の id、プロトコル、ペイロードで対応付け。強調表示は途中で書き換えられたもの。NAT など)"
    ),
}

_CATALOG = {"ja": _JA}


def _check(lang: str) -> str:
    if lang not in LANGUAGES:
        raise InvalidArgument(
            f"labkit has no labels in language {lang!r}; choose one of {', '.join(LANGUAGES)}"
            ' (e.g. labkit.set_language("ja"))'
        )
    return lang


def _from_env() -> str:
    lang = os.environ.get("LABKIT_LANG", "en").strip().lower() or "en"
    return lang if lang in LANGUAGES else "en"


_current = _from_env()


def set_language(lang: str) -> None:
    """Write labkit's own labels (diagrams, tables) in ``lang``: ``"en"`` or ``"ja"``.

    Raises:
        InvalidArgument: an unknown language; nothing changes.
    """
    global _current
    _current = _check(lang)


def get_language() -> str:
    """The language labkit writes its labels in now (``"en"`` unless set)."""
    return _current


def resolve(lang: str | None) -> str:
    """``lang`` if given (checked), else the current language."""
    return _current if lang is None else _check(lang)


@contextmanager
def using(lang: str | None) -> Iterator[str]:
    """Within the block, labels are written in ``lang`` (``None``: the current language)."""
    global _current
    saved, _current = _current, resolve(lang)
    try:
        yield _current
    finally:
        _current = saved


def tr(text: str, lang: str | None = None) -> str:
    """``text`` (an English label) in ``lang`` (default: the current language).

    A label without a translation stays English.
    """
    lang = resolve(lang)
    return _CATALOG.get(lang, {}).get(text, text)


def font(lang: str | None = None) -> str:
    """The graphviz font for labels in ``lang``: a CJK font for Japanese."""
    return _FONTS[resolve(lang)]
