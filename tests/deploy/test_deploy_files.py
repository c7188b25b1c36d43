"""The deployment recipes are checked without a container engine, a cluster or a running systemd here:

- deploy/Containerfile, linted by this module (hadolint is not available): every base image pinned to an exact
  release, a build stage and a runtime stage that installs the wheels only, a non-root user, a HEALTHCHECK on
  /healthz — whose command is run against a real adapter, and against a dead port;
- deploy/k8s: valid YAML (PyYAML) with the fields docs/deployment.md names, the ConfigMap's TOML a configuration
  the adapter loads, and ``kubectl kustomize`` rendering it where kubectl is installed;
- deploy/wl-adapter.service: ``systemd-analyze verify`` (where installed) and the hardening docs/deployment.md
  promises.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from adapter.config import load_config
from tests.support.servers import ROOT, free_port

DEPLOY = ROOT / "deploy"
CONTAINERFILE = DEPLOY / "Containerfile"
K8S = DEPLOY / "k8s"
UNIT = DEPLOY / "wl-adapter.service"


# -- Containerfile ----------------------------------------------------------------------------------------------

def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined, current = [], ""
    for line in path.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            joined.append(current)
            current = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip()) for text in joined]


def stages(path: Path) -> list[list[tuple[str, str]]]:
    out: list[list[tuple[str, str]]] = []
    for name, args in instructions(path):
        if name == "FROM":
            out.append([])
        out[-1].append((name, args))
    return out


PINNED = re.compile(r"^[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$|^[\w./-]+(:[\w.-]+)?@sha256:[0-9a-f]{64}$")


def test_every_base_image_is_pinned_to_an_exact_release():
    images = [args.split()[0] for stage in stages(CONTAINERFILE) for name, args in stage if name == "FROM"]
    assert len(images) >= 2, "a build stage and a runtime stage"
    for image in images:
        assert PINNED.match(image), f"{image}: pin an exact version (python:3.11.11-slim-...) or a digest"
        assert "latest" not in image


def test_the_runtime_stage_installs_the_wheels_only_and_runs_unprivileged_with_a_healthcheck():
    build, runtime = stages(CONTAINERFILE)[0], stages(CONTAINERFILE)[-1]
    assert any(name == "RUN" and "pip wheel" in args for name, args in build)
    assert not [args for name, args in runtime if name in ("COPY", "ADD")], "no source tree in the runtime stage"
    installs = [args for name, args in runtime if name == "RUN" and "pip install" in args]
    assert installs and all("--no-index" in args and "from=build" in args for args in installs), installs
    users = [args for name, args in runtime if name == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    names = [name for name, _ in runtime]
    assert names.index("USER") < names.index("ENTRYPOINT"), "the user is set before the process starts"
    [healthcheck] = [args for name, args in runtime if name == "HEALTHCHECK"]
    assert "/healthz" in healthcheck and "CMD" in healthcheck
    # what the build stage copies exists here (the build context is the repository)
    for _, args in (i for i in build if i[0] == "COPY"):
        for source in args.split()[:-1]:
            assert (ROOT / source).exists(), source


def healthcheck_command() -> list[str]:
    [args] = [args for name, args in stages(CONTAINERFILE)[-1] if name == "HEALTHCHECK"]
    command = json.loads(args[args.index("CMD") + 3:].strip())
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def test_the_healthcheck_command_tells_a_live_adapter_from_a_dead_port(adapter):
    command = healthcheck_command()
    live = subprocess.run(command, env={"WL_ADAPTER_SERVER_PORT": str(adapter.port)}, capture_output=True,
                          timeout=30)
    assert live.returncode == 0, live.stderr
    dead = subprocess.run(command, env={"WL_ADAPTER_SERVER_PORT": str(free_port())}, capture_output=True, timeout=30)
    assert dead.returncode != 0


# -- Kubernetes ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict]:
    """(kind, name) -> object, from every file kustomization.yaml lists."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in K8S.glob("*.yaml")
                                                         if p.name != "kustomization.yaml")
    objects = {}
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def test_the_kubernetes_example_has_the_fields_the_docs_name(k8s):
    deployment = k8s[("Deployment", "wl-adapter")]
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080}
    assert pod["securityContext"]["runAsNonRoot"] is True
    container_user = [args for name, args in stages(CONTAINERFILE)[-1] if name == "USER"][-1].split(":")[0]
    assert str(pod["securityContext"]["runAsUser"]) == container_user
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    env = {e["name"]: e for e in container["env"]}
    assert env["WL_ADAPTER_SERVER_INSTANCE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"

    service = k8s[("Service", "wl-adapter")]
    assert service["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items()
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]

    # the volumes and secrets the Deployment names exist, and the TOML lands where --config reads it
    volumes = {v["name"]: v for v in pod["volumes"]}
    config_map = k8s[("ConfigMap", volumes["config"]["configMap"]["name"])]
    assert ("Secret", volumes["tls"]["secret"]["secretName"]) in k8s
    assert ("Secret", container["envFrom"][0]["secretRef"]["name"]) in k8s
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    config_path = container["args"][container["args"].index("--config") + 1]
    assert mounts["config"]["mountPath"] == config_path and mounts["config"]["subPath"] in config_map["data"]
    assert mounts["tmp"]["mountPath"] == "/tmp"  # a read-only root: gunicorn and the metrics need a writable /tmp


def test_the_configmaps_toml_is_a_configuration_the_adapter_loads(k8s, tmp_path):
    config_map = k8s[("ConfigMap", "wl-adapter-config")]
    path = tmp_path / "adapter.toml"
    path.write_text(config_map["data"]["adapter.toml"])
    secret = k8s[("Secret", "wl-adapter-env")]["stringData"]
    config = load_config(path, environ={**secret, "WL_ADAPTER_SERVER_INSTANCE_NAME": "wl-adapter-7d9f-x2"})
    assert config.server.host == "0.0.0.0" and config.server.port == 8080
    assert config.store.url.startswith("postgresql+psycopg://")
    assert config.pushes.way == "trusted_proxies"
    assert config.server.instance == "wl-adapter-7d9f-x2"
    tls_files = {config.upstream.ca, config.upstream.client_cert, config.upstream.client_key}
    tls_mount = "/etc/wl-adapter/tls/"
    assert {Path(f).name for f in tls_files} == set(k8s[("Secret", "wl-adapter-tls")]["stringData"])
    assert all(f.startswith(tls_mount) for f in tls_files)


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed")
def test_kubectl_renders_the_example():
    result = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(result.stdout))
    assert kinds == ["ConfigMap", "Deployment", "Secret", "Secret", "Service"]


# -- systemd ------------------------------------------------------------------------------------------------------

def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_the_unit_is_hardened_as_the_docs_say():
    s = unit_settings()
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes",
                       "ProtectHome": "yes", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes"}.items():
        assert s.get(key) == [value], key
    assert "/var/lib/wl-adapter" in s["ReadWritePaths"][0].split()
    assert s["MemoryMax"] and s["User"] == ["wl-adapter"]
    assert s["RestartPreventExitStatus"] == ["2"]  # a failed start-up check: one line in the journal, no loop
    assert s["ExecStart"][0].endswith("serve --config /etc/wl-adapter/adapter.toml")


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    """The unit as installed, its ExecStart pointed at this environment's wl-adapter (verify wants it to exist)."""
    wl_adapter = Path(sys.executable).parent / "wl-adapter"
    text = UNIT.read_text().replace("/opt/wl-adapter/bin/wl-adapter", str(wl_adapter))
    unit = tmp_path / "wl-adapter.service"
    unit.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), \
        result.stdout + result.stderr
