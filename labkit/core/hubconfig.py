"""A class's JupyterHub settings (``deploy/jupyterhub/class.toml``), checked before the Hub starts.

Pure logic: it takes the parsed TOML (a dict) and the names of the spawner's configurable
traits, and returns a :class:`ClassConfig` or raises :class:`~labkit.errors.InvalidArgument`
naming the key that is wrong and how to fix it. ``deploy/jupyterhub/jupyterhub_config.py``
calls it with ``LocalProcessSpawner``'s traits, so a typo stops the Hub at start-up instead of
being ignored (traitlets only warns about unknown options).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labkit.errors import InvalidArgument

# useradd's default NAME_REGEX (Debian, shadow): a lowercase letter or _, then [a-z0-9_-],
# at most 32 characters in all (the limit of utmp's ut_user)
UNIX_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")

# section -> {key: (type, required)}
SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], bool]]] = {
    "hub": {
        "ip": (str, True),
        "port": (int, True),
        "admins": (list, False),
        "api_token_file": (str, False),
    },
    "learners": {"names": (list, True)},
    "tutorial": {
        "source": (str, True),
        "folder": (str, True),
        "first_notebook": (str, False),
    },
    "culler": {"timeout_s": (int, True), "every_s": (int, False)},
    "spawner": {},  # free-form: checked against the spawner's traits
}


@dataclass(frozen=True)
class ClassConfig:
    """The checked settings of one class (see ``deploy/jupyterhub/class.toml``)."""

    ip: str
    port: int
    learners: tuple[str, ...]
    admins: tuple[str, ...]
    tutorial_source: str
    tutorial_folder: str
    first_notebook: str
    cull_timeout_s: int
    cull_every_s: int
    api_token_file: str = ""
    spawner: dict[str, Any] = field(default_factory=dict)


def is_unix_name(name: object) -> bool:
    """True when ``name`` is a user name ``useradd`` accepts by default."""
    return isinstance(name, str) and bool(UNIX_NAME.match(name))


def _bad(where: str, what: str, fix: str) -> InvalidArgument:
    return InvalidArgument(f"class config: {where}: {what}. {fix}")


def _names(where: str, value: list[Any]) -> tuple[str, ...]:
    for n in value:
        if not is_unix_name(n):
            raise _bad(
                where,
                f"{n!r} is not a valid Unix user name",
                "Use a lowercase letter or _ first, then up to 31 of a-z, 0-9, _ and -.",
            )
    dup = sorted({n for n in value if value.count(n) > 1})
    if dup:
        raise _bad(where, f"{', '.join(dup)} listed twice", "List each name once.")
    return tuple(value)


def parse_class_config(data: Mapping[str, Any], spawner_traits: Iterable[str]) -> ClassConfig:
    """Check a parsed ``class.toml`` and return its settings.

    ``spawner_traits`` are the configurable trait names of the spawner class (e.g.
    ``LocalProcessSpawner.class_trait_names(config=True)``); a ``[spawner]`` key outside them
    is an error. Missing required keys, unknown sections or keys, wrong types, invalid learner
    names and an out-of-range port raise :class:`InvalidArgument`.
    """
    if not isinstance(data, Mapping):
        raise _bad("top level", "not a table", "Write sections such as [hub] and [learners].")
    for section in data:
        if section not in SCHEMA:
            raise _bad(
                f"[{section}]",
                "unknown section",
                f"Known sections: {', '.join(f'[{s}]' for s in SCHEMA)}.",
            )
    for section, keys in SCHEMA.items():
        table = data.get(section, {})
        if not isinstance(table, Mapping):
            raise _bad(f"[{section}]", "not a table", f"Write it as a [{section}] section.")
        for key, (typ, required) in keys.items():
            if key not in table:
                if required:
                    raise _bad(
                        f"[{section}] {key}",
                        "missing",
                        f"Add `{key} = ...` to the [{section}] section (see the example in "
                        "deploy/jupyterhub/class.toml).",
                    )
                continue
            value = table[key]
            if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
                raise _bad(
                    f"[{section}] {key}",
                    f"{value!r} is a {type(value).__name__}",
                    f"Write a {typ.__name__ if isinstance(typ, type) else typ}.",
                )
        if section != "spawner":
            for key in table:
                if key not in keys:
                    raise _bad(
                        f"[{section}] {key}",
                        "unknown key",
                        f"Known keys: {', '.join(keys)}.",
                    )
    hub, learners, tut, cull = (data[s] for s in ("hub", "learners", "tutorial", "culler"))
    if not 1 <= hub["port"] <= 65535:
        raise _bad("[hub] port", f"{hub['port']} is out of range", "Use 1–65535.")
    names = _names("[learners] names", list(learners["names"]))
    if not names:
        raise _bad("[learners] names", "empty", "List at least one learner.")
    admins = _names("[hub] admins", list(hub.get("admins", [])))
    if "/" in tut["folder"] or tut["folder"] in ("", ".", ".."):
        raise _bad(
            "[tutorial] folder",
            f"{tut['folder']!r} is not a plain folder name",
            "Name a folder inside the learner's home, such as 'labkit-tutorial'.",
        )
    if cull["timeout_s"] <= 0 or cull.get("every_s", 1) <= 0:
        raise _bad("[culler]", "timeouts must be positive", "Use seconds, e.g. 3600 and 300.")
    known = set(spawner_traits)
    spawner = dict(data.get("spawner", {}))
    for key in spawner:
        if key not in known:
            close = sorted(k for k in known if k.split("_")[0] == key.split("_")[0])[:5]
            hint = f" (close: {', '.join(close)})" if close else ""
            raise _bad(
                f"[spawner] {key}",
                "not an option of the spawner",
                f"Remove it or fix the spelling{hint}.",
            )
    return ClassConfig(
        ip=hub["ip"],
        port=hub["port"],
        learners=names,
        admins=admins,
        tutorial_source=tut["source"],
        tutorial_folder=tut["folder"],
        first_notebook=tut.get("first_notebook", "00-start-here.ipynb"),
        cull_timeout_s=cull["timeout_s"],
        cull_every_s=cull.get("every_s", 300),
        api_token_file=hub.get("api_token_file", ""),
        spawner=spawner,
    )
