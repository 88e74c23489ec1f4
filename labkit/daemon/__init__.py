"""The lab daemon: runs inside the sandbox's namespaces and is the lab's Docker host.

Layers, top to bottom: :mod:`.server` (the protocol loop) → :mod:`.host` (Docker's
behaviour: IPAM, names, bridge, veth, firewall, links) → :mod:`.netlink`, :mod:`.nsutil` and
:mod:`.holder` (thin kernel primitives). Nothing here runs in the notebook's process.
"""
