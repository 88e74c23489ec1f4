"""deploy/kubernetes/values.yaml against KubeSpawner's own traits (no cluster runs here).

The Zero to JupyterHub chart turns ``singleuser.*`` keys into ``KubeSpawner`` traits and
passes ``hub.config.*`` to traitlets as they are. This test does the same with the real
``jupyterhub-kubespawner`` package: every key must name a real trait, and the pod manifest
KubeSpawner builds from them (``get_pod_manifest`` → ``make_pod``, offline) must carry what
labkit needs: its own user namespace, seccomp and AppArmor unconfined, /proc unmasked.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

VALUES = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "values.yaml"

# singleuser.<key> (dotted for nested keys) -> KubeSpawner trait, as the chart maps them
SINGLEUSER = {
    "cmd": "cmd",
    "defaultUrl": "default_url",
    "uid": "uid",
    "fsGid": "fs_gid",
    "startTimeout": "start_timeout",
    "memory.limit": "mem_limit",
    "memory.guarantee": "mem_guarantee",
    "cpu.limit": "cpu_limit",
    "cpu.guarantee": "cpu_guarantee",
    "extraEnv": "environment",
    "extraPodConfig": "extra_pod_config",
    "extraContainerConfig": "extra_container_config",
}
# chart-level keys the chart turns into other objects (image name:tag, PVCs, an init container)
CHART_ONLY = {"image", "storage", "cloudMetadata"}
TOP_LEVEL = {"singleuser", "hub", "cull", "proxy", "scheduling", "prePuller", "ingress"}


def _need(module: str) -> Any:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{module} is missing in CI: pip install -e '.[class]' ({exc})")
        pytest.skip(f"{module} is missing: pip install -e '.[class]'")


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and key not in SINGLEUSER:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def spawner_config(values: dict) -> Any:
    """The traitlets Config the chart would build from ``values`` (the parts we use)."""
    Config = _need("traitlets.config").Config
    KubeSpawner = _need("kubespawner").KubeSpawner
    traits = set(KubeSpawner.class_trait_names(config=True))
    unknown_top = set(values) - TOP_LEVEL
    assert not unknown_top, f"not a chart section: {unknown_top}"
    cfg = Config()
    for key, value in _flatten(values.get("singleuser", {})).items():
        if key.split(".")[0] in CHART_ONLY:
            continue
        assert key in SINGLEUSER, f"singleuser.{key} is not a key this test (or the chart) knows"
        trait = SINGLEUSER[key]
        assert trait in traits, f"singleuser.{key} -> KubeSpawner.{trait} is not a trait"
        cfg.KubeSpawner[trait] = value
    image = values["singleuser"]["image"]
    cfg.KubeSpawner.image = f"{image['name']}:{image['tag']}"
    for cls, settings in values.get("hub", {}).get("config", {}).items():
        assert cls == "KubeSpawner", f"hub.config.{cls}: only KubeSpawner is set here"
        for trait, value in settings.items():
            assert trait in traits, f"hub.config.KubeSpawner.{trait} is not a KubeSpawner trait"
            cfg.KubeSpawner[trait] = value
    return cfg


def check_fields(d: dict, model: str) -> None:
    """Every key of ``d`` is a field of the Kubernetes API object ``model`` (recursively)."""
    cls = getattr(_need("kubernetes_asyncio.client.models"), model)
    by_json = {v: k for k, v in cls.attribute_map.items()}
    for key, value in d.items():
        assert key in by_json, f"{model} has no field {key!r}"
        typ = cls.openapi_types[by_json[key]]
        if isinstance(value, dict) and typ.startswith("V1"):
            check_fields(value, typ)


@pytest.fixture(scope="module")
def values() -> dict:
    yaml = _need("yaml")
    return yaml.safe_load(VALUES.read_text())


def test_every_key_is_a_kubespawner_trait(values: dict) -> None:
    cfg = spawner_config(values)
    assert cfg.KubeSpawner.extra_pod_config == {"hostUsers": False}
    assert cfg.KubeSpawner.image.endswith("labkit/singleuser:0.1.0")


def test_a_misspelt_key_is_caught(values: dict) -> None:
    bad = {**values, "hub": {"config": {"KubeSpawner": {"container_securty_context": {}}}}}
    with pytest.raises(AssertionError, match="container_securty_context is not a KubeSpawner"):
        spawner_config(bad)
    bad = {**values, "singleuser": {**values["singleuser"], "extraPodConfg": {}}}
    with pytest.raises(AssertionError, match="extraPodConfg"):
        spawner_config(bad)


# KubeSpawner loads a kube-config when it is created; this one names no real cluster, and
# building a manifest sends nothing (the address is a closed port on 127.0.0.1)
OFFLINE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {token: none}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: labkit}}]
current-context: none
"""


def test_the_pod_manifest_has_what_labkit_needs(
    values: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KubeSpawner's own get_pod_manifest (make_pod), offline with its test mock of the Hub."""
    KubeSpawner = _need("kubespawner").KubeSpawner
    (tmp_path / "kubeconfig").write_text(OFFLINE_KUBECONFIG)
    kube_config = _need("kubernetes_asyncio.config.kube_config")
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    cfg = spawner_config(values)

    async def manifest() -> Any:  # KubeSpawner makes its API client on a running loop
        return await KubeSpawner(_mock=True, config=cfg).get_pod_manifest()

    pod = asyncio.run(manifest())
    assert pod.spec.host_users is False  # the pod's own user namespace
    (container,) = pod.spec.containers
    sc = container.security_context  # KubeSpawner passes it on as a camelCase dict
    check_fields(sc, "V1SecurityContext")
    assert sc["seccompProfile"] == {"type": "Unconfined"}
    assert sc["appArmorProfile"] == {"type": "Unconfined"}
    assert sc["procMount"] == "Unmasked"
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["runAsUser"] == 1000 and sc["runAsNonRoot"] is True
    # Kubernetes accepts procMount: Unmasked only with hostUsers: false
    assert pod.spec.host_users is False
    assert container.image == "registry.example.org/labkit/singleuser:0.1.0"
    assert container.resources.limits["memory"] == 1 << 30  # 1G, as KubeSpawner parses it
    env = {e.name: e.value for e in container.env}
    assert env["JUPYTERHUB_DEFAULT_URL"] == "/lab/tree/00-start-here.ipynb"
    assert pod.spec.security_context["fsGroup"] == 100


def test_the_image_is_built_from_the_devcontainer_dockerfile() -> None:
    text = VALUES.read_text()
    assert ".devcontainer/Dockerfile" in text
    assert "NO CLUSTER TEST RUNS IN THIS PROJECT" in text
