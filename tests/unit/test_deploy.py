"""The deployment files an operator applies: Dockerfile, compose.yaml and deploy/kubernetes/, checked offline.

compose.yaml is validated against the Compose specification's JSON schema (tests/fixtures/compose_spec.json, the
file shipped in the docker-compose 1.29.2 wheel, Apache-2.0); every Kubernetes manifest against the Kubernetes
OpenAPI schemas bundled in `kubernetes-validate`. No container engine or cluster is needed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.31"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_compose_file_follows_the_compose_spec() -> None:
    schema = json.loads((REPO / "tests" / "fixtures" / "compose_spec.json").read_text())
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())

    errors = [f"{list(e.path)}: {e.message}" for e in jsonschema.Draft7Validator(schema).iter_errors(compose)]

    assert errors == []
    services = compose["services"]
    assert {"api", "worker", "postgres", "minio", "migrate"} <= set(services)
    assert services["migrate"]["build"] == "."  # the top-level Dockerfile
    assert services["api"]["environment"]["RUN_WORKER"] == "false"
    assert services["worker"]["command"][:2] == ["reactbin", "worker"]


def test_compose_spec_validation_can_fail() -> None:
    schema = json.loads((REPO / "tests" / "fixtures" / "compose_spec.json").read_text())
    broken = {"services": {"api": {"image": "x", "depends_on": {"db": {"condition": "whenever"}}, "portz": [1]}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert stages[0].startswith("node:")
    assert stages[-1].startswith("python:3.11-slim")
    assert re.search(r"^USER (?!root|0\b)\S+", text, flags=re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, flags=re.MULTILINE)
    assert re.search(r'^CMD \["reactbin", "serve"', text, flags=re.MULTILINE)


MANIFESTS = sorted(path.name for path in KUBERNETES.glob("*.yaml") if path.name != "kustomization.yaml")


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == MANIFESTS


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_is_valid_kubernetes(name: str) -> None:
    for document in _documents(KUBERNETES / name):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validation_can_fail() -> None:
    broken = yaml.safe_load((KUBERNETES / "api-deployment.yaml").read_text())
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["pathh"] = "/healthz"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _workloads() -> dict[str, dict[str, Any]]:
    found = {}
    for name in MANIFESTS:
        for doc in _documents(KUBERNETES / name):
            if doc["kind"] in ("Deployment", "Job"):
                found[doc["metadata"]["name"]] = doc
    return found


def test_workloads_have_probes_resources_and_the_right_roles() -> None:
    workloads = _workloads()
    assert set(workloads) == {"reactbin-api", "reactbin-worker", "reactbin-migrate"}
    for doc in workloads.values():
        for container in doc["spec"]["template"]["spec"]["containers"]:
            assert {"requests", "limits"} <= set(container["resources"])
    api = workloads["reactbin-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"name": "RUN_WORKER", "value": "false"} in api["env"]
    assert workloads["reactbin-worker"]["spec"]["template"]["spec"]["containers"][0]["command"][1] == "worker"
    assert workloads["reactbin-migrate"]["spec"]["template"]["spec"]["containers"][0]["command"][1] == "migrate"
    kinds = {doc["kind"] for name in MANIFESTS for doc in _documents(KUBERNETES / name)}
    assert kinds == {"ConfigMap", "Secret", "Job", "Deployment", "Service", "HorizontalPodAutoscaler"}
