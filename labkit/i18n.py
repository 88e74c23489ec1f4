# ruff: noqa: E501  (a catalog of Japanese sentences: each CJK character counts two columns)
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
import re
from collections.abc import Iterator
from contextlib import contextmanager

from labkit.errors import InvalidArgument

__all__ = ["LANGUAGES", "font", "get_language", "set_language", "tr", "tr_message"]

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
    # the Lab's summary (labkit.client.lab)
    "Lab": "ラボ",
    "profile {profile}, docker0 {gateway} on {subnet}, {mode} sandbox":
        "プロファイル {profile}、docker0 は {gateway} ({subnet})、{mode} のサンドボックス",
    "eth0 IP": "eth0 の IP",
    "host veth": "ホスト側の veth",
    "no containers yet": "コンテナはまだありません",
    "closed": "終了済み",
    # the live panel (labkit.widgets.Panel)
    "labkit lab panel": "labkit ラボパネル",
    "{bridge} {gateway} on {subnet}, host uplink {ip}":
        "{bridge} {gateway} ({subnet})、ホストのアップリンク {ip}",
    "Containers": "コンテナ",
    "Switches": "スイッチ",
    "the host's NAT rule and forwarding, as the kernel has them":
        "ホストの NAT ルールと転送 (カーネルにある通り)",
    "Traffic": "通信",
    "sent inside lab.capture(...) at every point on the way":
        "lab.capture(...) の中で送り、途中のすべての地点で観測",
    "Diagram": "図",
    "drawn from a kernel snapshot; the last send's path on it":
        "カーネルのスナップショットから描画。最後に送った経路つき",
    "the host's connection tracking table (conntrack -L)": "ホストのコネクション追跡テーブル (conntrack -L)",
    "name, e.g. c3": "名前 (例: c3)",
    "from": "送信元",
    "to": "宛先",
    "send": "送信",
    "MASQUERADE rule": "MASQUERADE ルール",
    "answered": "応答あり",
    "no answer": "応答なし",
    "{what} from {src} to {dst} ({label}): {detail}": "{what}: {src} から {dst} ({label}) へ: {detail}",
    "nothing sent yet": "まだ何も送っていません",
    "sending…": "送信中…",
    # exercise checks (labkit.tools.notebook.verdict, labkit.exercises)
    "not yet": "まだです",
    "fixed": "直りました",
    "hint": "ヒント",
    "traffic": "通信",
    "labs can run here": "ここでラボを動かせます",
    "present": "あり",
    "missing": "なし",
    "(none)": "(なし)",
}

# English message templates → Japanese, for the checks' sentences. A ``{name}`` stands for
# any text (an address, an interface, a value); the English sentence is matched whole, so a
# check written as an f-string in a notebook cell (the same in both editions) still reads in
# the edition's language. A sentence without a template stays English.
_JA_MESSAGES: dict[str, str] = {
    # placeholders still in place
    "replace both ... in the cell above, run it, then run this check again":
        "上のセルの ... を 2 つとも置き換えて実行し、もう一度このチェックを実行してください",
    "replace both ... above with addresses, run that cell, then this check":
        "上の ... を 2 つともアドレスに置き換えてそのセルを実行し、それからこのチェックを実行してください",
    "replace the ... above, run that cell, then this check":
        "上の ... を置き換えてそのセルを実行し、それからこのチェックを実行してください",
    "replace the two ... above, run that cell, then this check":
        "上の ... を 2 つとも置き換えてそのセルを実行し、それからこのチェックを実行してください",
    "replace the three ... above, run that cell, then this check":
        "上の ... を 3 つとも置き換えてそのセルを実行し、それからこのチェックを実行してください",
    "replace the ... above with the interface's name (a string), then run the check again":
        "上の ... をインターフェイスの名前 (文字列) に置き換えてから、もう一度チェックを実行してください",
    "{fn} still returns ...: write its body, run that cell, then this check":
        "{fn} はまだ ... を返します。本体を書いてそのセルを実行し、それからこのチェックを実行してください",
    'no container is called "{name}" yet: give it that name when you start it':
        "「{name}」という名前のコンテナはまだありません。起動するときにその名前を付けてください",
    "the check looks for a container called {name}":
        "このチェックは {name} という名前のコンテナを探します",
    "the check looks for a network called shop and containers called db and front":
        "このチェックは shop という名前のネットワークと、db と front という名前のコンテナを探します",
    "the check looks for containers called pause, web and sidecar":
        "このチェックは pause、web、sidecar という名前のコンテナを探します",
    "the check looks for a container d1 on an IPv6 network (ipv6=True)":
        "このチェックは IPv6 のネットワーク (ipv6=True) にいるコンテナ d1 を探します",
    # 00
    "{c} has {ip}, as you predicted, and its {veth} is on docker0":
        "{c} は予想どおり {ip} を得て、その {veth} は docker0 につながっています",
    "c3 got another address than your prediction: which addresses were taken before it "
    "started?":
        "c3 は予想と違うアドレスを得ました。起動する前に、どのアドレスが使われていましたか?",
    # 01
    "brctl sees br-lab (bridge id {id}, STP off)":
        "brctl に br-lab が見えます (ブリッジ ID {id}、STP はオフ)",
    "brctl show lists no bridge br-lab yet: replace the ... above with the command, and run it":
        "brctl show にはまだ br-lab がありません。上の ... をコマンドに置き換えて実行してください",
    # 02
    "{name} is c1's peer: host interface {index}, a port of docker0":
        "{name} が c1 の相手側です。ホストのインターフェイス {index} で、docker0 のポートです",
    "{name} is not the interface at the other end of c1's eth0; which index does eth0@ifN name?":
        "{name} は c1 の eth0 の向こう端のインターフェイスではありません。"
        "eth0@ifN はどの番号を指していますか?",
    # 03
    "right for {pairs}": "{pairs}: どれも正解です",
    "not the kernel's MAC for {ips}: 02:42, then each byte as two lowercase hex digits, "
    "joined by ':'":
        "{ips} ではカーネルの MAC と違います。02:42 に続けて、各バイトを小文字 2 桁の 16 進数にし、"
        "':' でつなぎます",
    # 04
    "x1 → {x1}, x2 → {x2}: round robin, after the last address given":
        "x1 → {x1}、x2 → {x2}: 最後に配ったアドレスの次から順に配っています (ラウンドロビン)",
    "{names} got another address than you predicted; which addresses were free, and in what "
    "order?":
        "{names} は予想と違うアドレスを得ました。どのアドレスが空いていて、どの順に配られますか?",
    # 05
    "not the right port for {names}: find the line that starts with the MAC and has "
    "'master docker0'":
        "{names} のポートが違います。その MAC で始まり、'master docker0' を含む行を探してください",
    # 06
    "forwarding on, MASQUERADE back, and 203.0.113.10 answers c1":
        "転送はオン、MASQUERADE ルールも戻り、203.0.113.10 が c1 に応答します",
    "forwarding on: {a}, MASQUERADE rule there: {b}, ping answered: {c}. Repair what says no":
        "転送オン: {a}、MASQUERADE ルールあり: {b}、ping の応答: {c}。no のものを直してください",
    # 07
    "app resolves db to {ip} (c3) and c3 answers":
        "app は db を {ip} (c3) と名前解決し、c3 が応答します",
    "app's /etc/hosts has no line for db pointing at c3: which container did you link, under "
    "which alias?":
        "app の /etc/hosts に、c3 を指す db の行がありません。どのコンテナを、どの別名でリンクしましたか?",
    # 08
    "198.51.100.73:8081 leads to api ({addr}), and api sees the client's own address":
        "198.51.100.73:8081 は api ({addr}) につながり、api にはクライアント自身のアドレスが見えます",
    "no DNAT rule for the host's port 8081 to api's port 80 yet (answer: {answer}); which port "
    "of the host, and which port of the container?":
        "ホストのポート 8081 から api のポート 80 への DNAT ルールがまだありません (応答: {answer})。"
        "ホストのどのポートを、コンテナのどのポートへ?",
    # 09
    "front finds db at {ip} by name, and appnet is out of its reach":
        "front は名前で db ({ip}) を見つけ、appnet には届きません",
    "db resolved: {a}, ping db: {b}, isolated from appnet: {c}; are db and front both on shop?":
        "db の名前解決: {a}、ping db: {b}、appnet から分離: {c}。db と front は両方とも shop にいますか?",
    # 10
    "198.51.100.73:8082 reaches api, and {addr} is dropped before routing":
        "198.51.100.73:8082 は api に届き、{addr} はルーティングの前に破棄されます",
    "published port answers: {a}; direct access to {addr} answers: {b}. The first must stay "
    "True and the second become False":
        "公開ポートの応答: {a}、{addr} への直接アクセスの応答: {b}。前者は True のまま、"
        "後者を False にしてください",
    # 12
    "c3 is on {nets} on {host}; use network='ov' and host='host2'":
        "c3 は {host} の {nets} にいます。network='ov' と host='host2' を使ってください",
    "host sends c3's frames ({mac}) to {vtep}, host2's uplink, inside VXLAN":
        "host は c3 宛てのフレーム ({mac}) を VXLAN に包み、host2 のアップリンク {vtep} へ送ります",
    "c1 reaches c3: {a}; vtep is {b}; look for c3's MAC and the word dst":
        "c1 から c3 に届く: {a}、vtep は {b}。c3 の MAC と dst という語を探してください",
    # 13
    "one pod: web and sidecar live in pause's namespace, reachable at {addr}":
        "1 つのポッドです。web と sidecar は pause の名前空間にいて、{addr} で届きます",
    "network modes {modes}, sidecar reaches localhost:8080: {a}, c1 reaches {addr}: {b}; did "
    "web start its server?":
        "ネットワークモード {modes}、sidecar から localhost:8080 に届く: {a}、"
        "c1 から {addr} に届く: {b}。web はサーバーを起動しましたか?",
    # 14
    "the host reaches m1 through its macvlan sibling mv-shim, and m1 reaches it back":
        "ホストは macvlan の兄弟 mv-shim を通って m1 に届き、m1 からもホストに届きます",
    "host → m1: {a}, m1 → 198.51.100.254: {b}, mv-shim is a macvlan: {c}; create it with "
    "`ip link add mv-shim link eth0 type macvlan mode bridge`":
        "ホスト → m1: {a}、m1 → 198.51.100.254: {b}、mv-shim は macvlan: {c}。"
        "`ip link add mv-shim link eth0 type macvlan mode bridge` で作ってください",
    # 15
    "d1 got {ip}, as you predicted, and reaches {out}":
        "d1 は予想どおり {ip} を得て、{out} に届きます",
    "you predicted {p}, Docker gave {ip}; reaches the outside: {r}. Count the /64s of {base} "
    "in use, then start from ::2":
        "予想は {p}、Docker が与えたのは {ip}。外に届く: {r}。{base} のうち使われている /64 を数え、"
        "::2 から始めてください",
    # the live panel's messages (labkit.widgets.Panel)
    "UDP to port {port}": "ポート {port} への UDP",
    "echo reply from {ip} in {ms} ms": "{ip} からエコー応答 ({ms} ms)",
    "no echo reply within {s} s": "{s} 秒以内にエコー応答なし",
    "no answer within {s} s": "{s} 秒以内に応答なし",
    "answer: {summary}": "応答: {summary}",
    "answer: {summary} (nobody listens on {port}: the datagram arrived)":
        "応答: {summary} (ポート {port} では誰も待ち受けていません。データグラムは届きました)",
    "outside ({ip})": "外の世界 ({ip})",
    "{bridge} gateway ({ip})": "{bridge} のゲートウェイ ({ip})",
    "docker run --name {name}: eth0 {ip} ({mac}), host side {veth}":
        "docker run --name {name}: eth0 {ip} ({mac})、ホスト側は {veth}",
    "no container to remove: start one first": "削除するコンテナがありません。まず 1 つ起動してください",
    "docker rm -f {name}: container and its veth pair are gone":
        "docker rm -f {name}: コンテナとその veth ペアはなくなりました",
    "no source container: start one first": "送信元のコンテナがありません。まず 1 つ起動してください",
    "pick a target other than the source {src}": "送信元 {src} 以外の宛先を選んでください",
    "sent {what} {src} → {dst}; captured at {n} points":
        "{what} を送信しました {src} → {dst}。{n} 地点でキャプチャ",
    "iptables -t nat -A {rule}: containers' packets leave as {ip}":
        "iptables -t nat -A {rule}: コンテナのパケットは {ip} として出ていきます",
    "iptables -t nat -D {rule}: packets to the outside keep their private {subnet} source; "
    "send again to see what breaks":
        "iptables -t nat -D {rule}: 外へのパケットはプライベートな {subnet} の送信元のままです。"
        "もう一度送って、何が壊れるか見てください",
    "sysctl -w net.ipv4.ip_forward={v}: the host routes between its bridges and its uplink":
        "sysctl -w net.ipv4.ip_forward={v}: ホストはブリッジとアップリンクの間をルーティングします",
    "sysctl -w net.ipv4.ip_forward={v}: the host no longer routes between its bridges and its "
    "uplink; containers on one bridge still reach each other through it":
        "sysctl -w net.ipv4.ip_forward={v}: ホストはもうブリッジとアップリンクの間をルーティングしません。"
        "同じブリッジのコンテナどうしは、ブリッジを通して今も届きます",
    # 11: the break-and-fix exercises (labkit.exercises)
    "{src} → {dst}: {n}/{m} answered": "{src} → {dst}: {m} 回中 {n} 回応答",
    "nat rule {rule}": "nat テーブルのルール {rule}",
    "filter rule {rule}": "filter テーブルのルール {rule}",
    "bridge port {veth}": "ブリッジのポート {veth}",
    "host {name}": "ホストの {name}",
    "{c} reaches {ip} again": "{c} はまた {ip} に届きます",
    "{c} gets out, but not the way Docker does it": "{c} は外へ出られますが、Docker のやり方ではありません",
    "{c} still cannot reach {ip}": "{c} はまだ {ip} に届きません",
    "{c} and {p} talk across {bridge}": "{c} と {p} は {bridge} を通して話せます",
    "{c} reaches {p}, but only because bridged frames skip iptables now":
        "{c} は {p} に届きますが、それはブリッジ内のフレームが今 iptables を通らないからにすぎません",
    "{c} reaches {p}, but the rules are not Docker's":
        "{c} は {p} に届きますが、ルールが Docker のものではありません",
    "{c} still cannot reach {p} on the same bridge": "{c} は同じブリッジの {p} にまだ届きません",
    "find where the echo request stops: capture on docker0 and on the host's uplink while {c} "
    "pings, and ask what the host does between the two":
        "エコー要求がどこで止まるかを探しましょう。{c} が ping する間に docker0 とホストのアップリンクで"
        "キャプチャし、その 2 つの間でホストが何をしているかを考えてください",
    "capture on the host's uplink and in the outside world while the container pings, and read "
    "each packet's source address: could the server's reply find its way back?":
        "コンテナが ping する間にホストのアップリンクと外の世界でキャプチャし、各パケットの送信元アドレスを"
        "読みましょう。サーバーの応答は帰り道を見つけられるでしょうか?",
    "nothing reaches the uplink: zero the counters of the host's FORWARD chain (iptables -Z "
    "FORWARD), ping once, and see which rule or policy counted the packet (iptables -L FORWARD "
    "-v -n --line-numbers)":
        "アップリンクには何も届きません。ホストの FORWARD チェーンのカウンタをゼロにし (iptables -Z "
        "FORWARD)、1 回 ping して、どのルールかポリシーがパケットを数えたかを見てください "
        "(iptables -L FORWARD -v -n --line-numbers)",
    "with bridge-nf-call-iptables = 0 no iptables rule sees traffic inside a bridge: Docker's "
    "icc=false would stop working too. Set it back to 1 and fix the rule instead":
        "bridge-nf-call-iptables = 0 では、ブリッジ内の通信をどの iptables ルールも見ません。"
        "Docker の icc=false も効かなくなります。1 に戻して、代わりにルールを直してください",
    "Docker with icc on has exactly '-A {rule}' and no DROP rule for the same pair of "
    "interfaces":
        "icc がオンの Docker には、ちょうど '-A {rule}' があり、同じインターフェイスの組への "
        "DROP ルールはありません",
    "the two containers share one bridge, yet something stops them: zero the FORWARD chain's "
    "counters (iptables -Z FORWARD), ping once, and see what counted the packet":
        "2 つのコンテナは 1 つのブリッジを共有しているのに、何かが止めています。FORWARD チェーンの"
        "カウンタをゼロにし (iptables -Z FORWARD)、1 回 ping して、何がパケットを数えたかを見てください",
    "does the packet even leave {c}? Ask its kernel how it would reach the outside server (ip "
    "route get {ip} inside {c2})":
        "そもそもパケットは {c} から出ているでしょうか? 外のサーバーへどう届けるつもりか、カーネルに"
        "聞いてみましょう ({c2} の中で ip route get {ip})",
    "forwarding is off": "転送がオフ",
    "the MASQUERADE rule is missing": "MASQUERADE ルールがない",
    "FORWARD policy DROP without Docker's ACCEPT rule":
        "FORWARD のポリシーが DROP なのに Docker の ACCEPT ルールがない",
    "containers on one bridge cannot talk (br_netfilter and a DROP rule)":
        "同じブリッジのコンテナが話せない (br_netfilter と DROP ルール)",
    "the container has no default route": "コンテナにデフォルトルートがない",
}

_CATALOG = {"ja": _JA}
_MESSAGES = {"ja": _JA_MESSAGES}
_FIELD = re.compile(r"\{(\w+)\}")
_compiled: dict[str, list[tuple[re.Pattern[str], str]]] = {}


def _patterns(lang: str) -> list[tuple[re.Pattern[str], str]]:
    """The message templates of ``lang`` as whole-sentence patterns, compiled once."""
    if lang not in _compiled:
        out = []
        for english, translated in _MESSAGES.get(lang, {}).items():
            parts = _FIELD.split(english)  # literal, name, literal, name, ...
            regex = "".join(
                re.escape(p) if i % 2 == 0 else f"(?P<{p}>.*?)" for i, p in enumerate(parts)
            )
            out.append((re.compile(regex + r"\Z", re.S), translated))
        # the most specific template first: "{c} still cannot reach {p} on the same bridge"
        # before "{c} still cannot reach {ip}"
        out.sort(key=lambda pair: -len(_FIELD.sub("", pair[0].pattern)))
        _compiled[lang] = out
    return _compiled[lang]


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


def tr_message(text: str, lang: str | None = None) -> str:
    """``text`` (an English sentence a check wrote, values filled in) in ``lang``.

    The sentence is matched against labkit's message templates (``"{c} still cannot reach
    {ip}"``); the values it carries (names, addresses, ``True``/``False``) stay as they are.
    A sentence without a template stays English.
    """
    lang = resolve(lang)
    if lang == "en" or not text:
        return text
    if text in _CATALOG.get(lang, {}):
        return _CATALOG[lang][text]
    for pattern, translated in _patterns(lang):
        m = pattern.match(text)
        if m:
            return translated.format(**m.groupdict())
    return text


def font(lang: str | None = None) -> str:
    """The graphviz font for labels in ``lang``: a CJK font for Japanese."""
    return _FONTS[resolve(lang)]
