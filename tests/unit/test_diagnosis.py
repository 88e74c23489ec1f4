"""labkit.core.diagnosis: the obstacle actually met, and the fix for where labkit runs."""

from __future__ import annotations

import errno

import pytest

from labkit.core.diagnosis import (
    DOCKER_FLAGS,
    LIVE_PATHS,
    Facts,
    Step,
    check_mode,
    check_settings,
    explain,
    obstacle,
    place_from,
    plan,
)
from labkit.errors import InvalidArgument

OK = Step(True)
EPERM = Step(False, errno.EPERM, "Operation not permitted")
EACCES = Step(False, errno.EACCES, "Permission denied")
ALL_OK = {s: OK for s in ("userns", "map", "namespaces", "proc", "python", "tmpfs", "sysfs_rw",
                          "sysfs_ro", "link")}  # fmt: skip
ROOT_OK = {k: v for k, v in ALL_OK.items() if k not in ("userns", "map")}
#: CapEff of root in a container with Docker's default capabilities (no SYS_ADMIN, NET_ADMIN)
DOCKER_DEFAULT_CAPS = 0x00000000A80425FB


def test_all_steps_pass_prefers_rootless() -> None:
    f = Facts(euid=0, steps={"rootless": dict(ALL_OK), "root": dict(ROOT_OK)})
    chosen = plan(f)
    assert chosen is not None and (chosen.mode, chosen.sysfs) == ("rootless", "rw")


def test_sysfs_read_only_is_a_fallback_not_an_obstacle() -> None:
    steps = {**ALL_OK, "sysfs_rw": EPERM}
    f = Facts(place="docker", sys_readonly=True, steps={"rootless": steps})
    assert obstacle("rootless", f) is None
    chosen = plan(f)
    assert chosen is not None and chosen.sysfs == "ro"
    assert "rw was refused" in chosen.notes[0]


def test_docker_default_flags_as_root_names_the_docker_run_flags() -> None:
    f = Facts(
        euid=0, place="docker", seccomp=2, cap_eff=DOCKER_DEFAULT_CAPS,
        apparmor_profile="docker-default",
        proc_masked=("/proc/kcore", "/proc/keys"),
        steps={"rootless": {"userns": EPERM}, "root": {"namespaces": EPERM}},
    )  # fmt: skip
    assert plan(f) is None
    text = explain(f)
    for flag in DOCKER_FLAGS:
        assert flag in text
    assert "--security-opt apparmor=unconfined" in text
    assert "seccomp" in str(obstacle("rootless", f))
    root = obstacle("root", f)
    assert root is not None and "CAP_SYS_ADMIN and CAP_NET_ADMIN" in root.cause
    assert "sysctl" not in text  # the old, wrong advice


def test_debian_sysctl_off() -> None:
    f = Facts(unprivileged_userns_clone=0, steps={"rootless": {"userns": EPERM}})
    obs = obstacle("rootless", f)
    assert obs is not None and "kernel.unprivileged_userns_clone=1" in obs.fix


def test_max_user_namespaces_zero() -> None:
    f = Facts(max_user_namespaces=0, steps={"rootless": {"userns": Step(False, errno.ENOSPC)}})
    obs = obstacle("rootless", f)
    assert obs is not None and "user.max_user_namespaces" in obs.fix and "ENOSPC" in obs.cause


def test_ubuntu_apparmor_restriction() -> None:
    f = Facts(apparmor_restrict_userns=1, steps={"rootless": {"userns": OK, "map": EPERM}})
    obs = obstacle("rootless", f)
    assert obs is not None and obs.step == "map"
    assert "kernel.apparmor_restrict_unprivileged_userns=0" in obs.fix


def test_sysctl_in_a_container_is_for_the_host() -> None:
    f = Facts(place="docker", unprivileged_userns_clone=0, steps={"rootless": {"userns": EPERM}})
    obs = obstacle("rootless", f)
    assert obs is not None and "on the machine that runs the container" in obs.fix


def test_masked_proc_is_named_with_its_paths() -> None:
    steps = {"userns": OK, "map": OK, "namespaces": OK, "proc": EPERM}
    f = Facts(place="docker", seccomp=0, proc_masked=("/proc/kcore", "/proc/acpi"),
              steps={"rootless": steps})  # fmt: skip
    obs = obstacle("rootless", f)
    assert obs is not None and obs.step == "proc"
    assert "/proc/kcore" in obs.cause and "systempaths=unconfined" in obs.fix


def test_apparmor_denies_mount() -> None:
    steps = {"userns": OK, "map": OK, "namespaces": OK, "proc": EACCES}
    f = Facts(place="docker", apparmor_profile="docker-default", steps={"rootless": steps})
    obs = obstacle("rootless", f)
    assert obs is not None and "docker-default" in obs.cause
    assert "apparmor=unconfined" in obs.fix


def test_kubernetes_gets_a_security_context() -> None:
    steps = {"userns": OK, "map": OK, "namespaces": OK, "proc": EPERM}
    f = Facts(place="kubernetes", proc_masked=("/proc/kcore",), steps={"rootless": steps})
    obs = obstacle("rootless", f)
    assert obs is not None and "procMount: Unmasked" in obs.fix and "hostUsers: false" in obs.fix


def test_binder_points_to_the_live_paths() -> None:
    f = Facts(place="binder", seccomp=2, steps={"rootless": {"userns": EPERM}})
    text = explain(f)
    assert LIVE_PATHS in text
    assert "Codespaces" in LIVE_PATHS and ".devcontainer" in LIVE_PATHS and "VM" in LIVE_PATHS


def test_root_mode_needs_root() -> None:
    f = Facts(euid=1000, steps={"root": {"namespaces": EPERM}})
    obs = obstacle("root", f)
    assert obs is not None and "needs root" in obs.cause


def test_unreadable_python() -> None:
    steps = {**{k: OK for k in ("userns", "map", "namespaces", "proc")},
             "python": Step(False, errno.EACCES, "Permission denied")}  # fmt: skip
    f = Facts(euid=0, steps={"rootless": steps, "root": dict(ROOT_OK)})
    assert "readable" in str(obstacle("rootless", f))
    chosen = plan(f)
    assert chosen is not None and chosen.mode == "root"


@pytest.mark.parametrize(
    ("environ", "files", "cgroup", "where"),
    [
        ({}, set(), "0::/", "machine"),
        ({}, {"/.dockerenv"}, "0::/", "docker"),
        ({}, set(), "0::/system.slice/docker-abc.scope", "docker"),
        ({}, {"/run/.containerenv"}, "0::/", "podman"),
        ({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, set(), "", "kubernetes"),
        ({"KUBERNETES_SERVICE_HOST": "x", "JUPYTERHUB_API_URL": "u"}, set(), "", "jupyterhub"),
        ({"BINDER_SERVICE_HOST": "x", "KUBERNETES_SERVICE_HOST": "y"}, set(), "", "binder"),
        ({"CODESPACES": "true"}, {"/.dockerenv"}, "", "codespaces"),
        ({"REMOTE_CONTAINERS": "true"}, {"/.dockerenv"}, "", "devcontainer"),
    ],
)
def test_place(environ: dict[str, str], files: set[str], cgroup: str, where: str) -> None:
    assert place_from(environ, files, cgroup) == where


def test_bad_mode_names_the_allowed_values() -> None:
    with pytest.raises(InvalidArgument, match="'auto', 'rootless', 'root'"):
        check_mode("docker")


def test_bad_settings_name_the_allowed_values() -> None:
    with pytest.raises(InvalidArgument, match="auto, rootless, root"):
        check_settings({"LABKIT_MODE": "fast"})
    with pytest.raises(InvalidArgument, match="use 1 or 0"):
        check_settings({"LABKIT_REQUIRE_LAB": "yes"})
    assert check_settings({"LABKIT_MODE": "root", "HOME": "/"}) == {"LABKIT_MODE": "root"}


def test_lab_mode_and_labkit_mode_are_checked_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from labkit import sandbox

    with pytest.raises(InvalidArgument, match="'auto', 'rootless', 'root'"):
        sandbox.choose("docker")
    monkeypatch.setenv("LABKIT_MODE", "rootles")
    with pytest.raises(InvalidArgument, match="LABKIT_MODE='rootles' makes no sense"):
        sandbox.choose()


def test_subordinate_ids_fall_back_to_nobody() -> None:
    from labkit import sandbox

    uid, gid, count = sandbox.subordinate_ids()
    assert uid != 0 and gid != 0 and count >= 1


def test_no_sysfs_at_all_hides_sys() -> None:
    steps = {**ALL_OK, "sysfs_rw": EPERM, "sysfs_ro": EPERM}
    f = Facts(place="kubernetes", steps={"rootless": steps})
    assert obstacle("rootless", f) is None
    chosen = plan(f)
    assert chosen is not None and chosen.sysfs == "hidden" and "brctl" in chosen.notes[0]
    no_tmpfs = Facts(steps={"rootless": {**steps, "tmpfs": EPERM}})
    assert plan(no_tmpfs) is None
