"""What the daemon imports of pyroute2: its submodules, without the package's ``__init__``.

``import pyroute2`` runs a package ``__init__`` that imports every family pyroute2 speaks
(NDB with sqlite3, IPDB, IPVS, nl80211, WireGuard, devlink, ethtool, plan9, …): ~23 MB in
each lab's daemon, which uses only rtnetlink (``pyroute2.iproute.linux.IPRoute`` and the
message classes) and conntrack. :func:`lean_pyroute2` registers the package without running
that ``__init__``, so ``from pyroute2.iproute.linux import IPRoute`` loads only what it
needs (~16 MB). The daemon's modules import pyroute2's submodules by their full names, so
they work the same with or without it (a test process that imports them after a plain
``import pyroute2`` gets the usual package).
"""

from __future__ import annotations

import importlib.util
import sys
import types


def lean_pyroute2() -> None:
    """Register ``pyroute2`` as a bare package (its submodules importable, its ``__init__``
    not run), unless it is imported already."""
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.submodule_search_locations is None:
        return  # not installed: the daemon's own import then says so
    package = types.ModuleType("pyroute2")
    package.__spec__ = spec
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    sys.modules["pyroute2"] = package
