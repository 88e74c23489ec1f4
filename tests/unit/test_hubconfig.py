"""The class's Hub settings are checked before the Hub starts (labkit.core.hubconfig)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from labkit.core.hubconfig import ClassConfig, is_unix_name, parse_class_config
from labkit.errors import InvalidArgument

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "jupyterhub" / "class.toml"
TRAITS = {"start_timeout", "http_timeout", "interrupt_timeout", "mem_limit", "cmd", "args"}


def example() -> dict:
    return tomllib.loads(EXAMPLE.read_text())


def test_the_shipped_example_is_valid() -> None:
    cfg = parse_class_config(example(), TRAITS)
    assert isinstance(cfg, ClassConfig)
    assert cfg.learners == ("learner01", "learner02", "learner03", "learner04")
    assert cfg.port == 8000 and cfg.cull_timeout_s == 3600
    assert cfg.spawner == {"start_timeout": 120, "http_timeout": 60}


def test_the_example_matches_the_real_spawner_traits() -> None:
    spawner = pytest.importorskip("jupyterhub.spawner")
    traits = spawner.LocalProcessSpawner.class_trait_names(config=True)
    assert parse_class_config(example(), traits).spawner["start_timeout"] == 120
    with pytest.raises(InvalidArgument, match=r"\[spawner\] start_timout: not an option"):
        parse_class_config({**example(), "spawner": {"start_timout": 5}}, traits)


MISSING = [("hub", "port"), ("learners", "names"), ("tutorial", "source"), ("culler", "timeout_s")]


@pytest.mark.parametrize("section,key", MISSING)
def test_a_missing_key_is_named(section: str, key: str) -> None:
    data = copy.deepcopy(example())
    del data[section][key]
    with pytest.raises(InvalidArgument, match=rf"\[{section}\] {key}: missing"):
        parse_class_config(data, TRAITS)


def test_unknown_spawner_option_section_and_key() -> None:
    with pytest.raises(InvalidArgument, match=r"\[spawner\] memory: not an option"):
        parse_class_config({**example(), "spawner": {"memory": "1G"}}, TRAITS)
    with pytest.raises(InvalidArgument, match=r"\[kube\]: unknown section"):
        parse_class_config({**example(), "kube": {}}, TRAITS)
    data = copy.deepcopy(example())
    data["hub"]["prot"] = 1
    with pytest.raises(InvalidArgument, match=r"\[hub\] prot: unknown key"):
        parse_class_config(data, TRAITS)


@pytest.mark.parametrize("name", ["Alice", "1abc", "a b", "root;rm", "", "x" * 33, "é", 7])
def test_learner_names_must_be_unix_names(name: object) -> None:
    assert not is_unix_name(name)
    data = copy.deepcopy(example())
    data["learners"]["names"] = ["learner01", name]
    with pytest.raises(InvalidArgument, match=r"\[learners\] names: .* not a valid Unix user name"):
        parse_class_config(data, TRAITS)


def test_other_bad_values() -> None:
    for section, key, value, msg in [
        ("hub", "port", 70000, "out of range"),
        ("hub", "port", "8000", "is a str"),
        ("hub", "port", True, "is a bool"),
        ("learners", "names", [], "empty"),
        ("learners", "names", ["ann", "ann"], "listed twice"),
        ("tutorial", "folder", "../etc", "not a plain folder"),
        ("culler", "timeout_s", 0, "positive"),
    ]:
        data = copy.deepcopy(example())
        data[section][key] = value
        with pytest.raises(InvalidArgument, match=msg):
            parse_class_config(data, TRAITS)
    assert is_unix_name("learner01") and is_unix_name("_svc") and is_unix_name("a-b_c")


def _load_hub_config(monkeypatch: pytest.MonkeyPatch, toml: Path, state: Path):  # type: ignore[no-untyped-def]
    """Load jupyterhub_config.py as JupyterHub does (traitlets' PyFileConfigLoader)."""
    loader = pytest.importorskip("traitlets.config.loader")
    pytest.importorskip("jupyterhub")
    monkeypatch.setenv("LABKIT_CLASS_CONFIG", str(toml))
    monkeypatch.setenv("LABKIT_HUB_STATE", str(state))
    return loader.PyFileConfigLoader("jupyterhub_config.py", path=str(EXAMPLE.parent)).load_config()


def test_hub_config_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    c = _load_hub_config(monkeypatch, EXAMPLE, tmp_path / "state")
    assert c.JupyterHub.port == 8000 and c.JupyterHub.hub_port == 8001
    assert c.Authenticator.allowed_users == {"learner01", "learner02", "learner03", "learner04"}
    assert c.LocalProcessSpawner.start_timeout == 120
    assert callable(c.Spawner.pre_spawn_hook)
    culler = c.JupyterHub.services[0]
    assert culler["name"] == "idle-culler" and "--timeout=3600" in culler["command"]
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700


def test_hub_config_stops_with_the_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The real jupyterhub_config.py refuses a bad file (SystemExit: JupyterHub stops)."""
    bad = tmp_path / "class.toml"
    bad.write_text(EXAMPLE.read_text().replace('"learner02"', '"Learner 2"'))
    with pytest.raises(SystemExit, match="'Learner 2' is not a valid Unix user name"):
        _load_hub_config(monkeypatch, bad, tmp_path / "state")
    bad.write_text(EXAMPLE.read_text().replace("start_timeout", "start_timout"))
    with pytest.raises(SystemExit, match=r"\[spawner\] start_timout: not an option"):
        _load_hub_config(monkeypatch, bad, tmp_path / "state")


def test_ls_all_is_refused_for_a_non_root_user() -> None:
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        argv = []
    r = subprocess.run(
        [*argv, sys.executable, "-m", "labkit", "ls", "--all"],
        capture_output=True, text=True, timeout=60, check=False, cwd="/",
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    assert r.returncode == 2
    assert "needs root" in r.stderr
