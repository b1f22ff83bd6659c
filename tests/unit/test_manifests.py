"""The deployment descriptions in deploy/: Kubernetes manifests, compose file, Prometheus and
Grafana configuration, Dockerfile.

What is checked (no cluster, no container engine on these machines):
- every built-in Kubernetes object validates, strictly (unknown fields refused), against the
  Kubernetes JSON schemas bundled by kubernetes-validate (PyPI) for the versions below; and a
  broken copy is refused, so the validator is not vacuous;
- the Strimzi custom resources are NOT schema-validated (Strimzi publishes its CRDs as release
  files, not on a registry reachable here): their fields the deployment relies on are checked;
- references hold: probes on /readyz and /healthz, every ConfigMap/Secret a pod uses is defined,
  PodDisruptionBudgets select Deployments, every LIENTHONG_* variable is a setting, the image
  is the Dockerfile's, every Grafana query uses a metric the code exports.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateways.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSIONS = ["1.31.0", "1.34.0"]
IMAGE = "lienthong:0.1.0"


def _docs() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        out += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return out


DOCS = _docs()
BUILT_IN = [(name, d) for name, d in DOCS if "strimzi.io" not in d["apiVersion"]]


def _of(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in DOCS if d["kind"] == kind]


def _deployment(name: str) -> dict[str, Any]:
    (found,) = [d for d in _of("Deployment") if d["metadata"]["name"] == name]
    return found


def test_the_manifests_hold_every_part_of_a_deployment() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for _, d in DOCS}
    for part in ("lienthong-api", "lienthong-projector", "lienthong-relay"):
        assert ("Deployment", part) in kinds and ("PodDisruptionBudget", part) in kinds
    assert {
        ("Kafka", "lienthong-kafka"),
        ("KafkaNodePool", "combined"),
        ("Service", "lienthong-api"),
    } <= kinds


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(("name", "doc"), BUILT_IN, ids=[f"{n}:{d['kind']}" for n, d in BUILT_IN])
def test_built_in_objects_validate_strictly(version: str, name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_refuses_a_broken_deployment() -> None:
    broken = copy.deepcopy(_deployment("lienthong-api"))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)
    unknown = copy.deepcopy(_deployment("lienthong-api"))
    unknown["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}  # misspelt
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, KUBERNETES_VERSIONS[-1], strict=True)


def test_api_probes_and_commands() -> None:
    api = _deployment("lienthong-api")["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["args"][:1] == ["run"] and "--no-stream" in api["args"]
    relay = _deployment("lienthong-relay")
    assert relay["spec"]["replicas"] == 2  # one active, one standby
    assert "--no-projectors" in relay["spec"]["template"]["spec"]["containers"][0]["args"]
    projector = _deployment("lienthong-projector")["spec"]["template"]["spec"]["containers"][0]
    assert "--no-relay" in projector["args"]


def test_every_config_and_secret_a_pod_uses_is_defined_and_every_variable_is_a_setting() -> None:
    defined = {(d["kind"], d["metadata"]["name"]) for _, d in DOCS}
    fields = {f"LIENTHONG_{name.upper()}" for name in Settings.model_fields} | {"LIENTHONG_KEYS_DIR"}
    for deployment in _of("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        for container in pod["containers"]:
            assert container["image"] == IMAGE
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in defined
                if "secretRef" in source:
                    assert ("Secret", source["secretRef"]["name"]) in defined
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert ("Secret", volume["secret"]["secretName"]) in defined
    for kind in ("ConfigMap", "Secret"):
        for doc in _of(kind):
            data = doc.get("data") or doc.get("stringData") or {}
            unknown = {k for k in data if k.startswith("LIENTHONG_")} - fields
            assert not unknown, f"{kind} {doc['metadata']['name']}: not settings: {unknown}"


def test_disruption_budgets_select_deployments() -> None:
    for pdb in _of("PodDisruptionBudget"):
        wanted = pdb["spec"]["selector"]["matchLabels"]
        matching = [
            d
            for d in _of("Deployment")
            if wanted.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert matching, f"PodDisruptionBudget {pdb['metadata']['name']} selects no Deployment"
        assert pdb["spec"]["minAvailable"] < matching[0]["spec"]["replicas"]


def test_strimzi_resources_replicate_three_ways() -> None:
    (kafka,) = _of("Kafka")
    (pool,) = _of("KafkaNodePool")
    for doc in (kafka, pool):
        assert doc["apiVersion"] == "kafka.strimzi.io/v1beta2"
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert pool["spec"]["replicas"] == 3 and set(pool["spec"]["roles"]) == {"broker", "controller"}
    config = kafka["spec"]["kafka"]["config"]
    assert config["min.insync.replicas"] == 2 and config["default.replication.factor"] == 3
    (configmap,) = _of("ConfigMap")
    assert configmap["data"]["LIENTHONG_KAFKA_REPLICATION_FACTOR"] == "3"
    assert configmap["data"]["LIENTHONG_KAFKA_BOOTSTRAP"].startswith(
        f"{kafka['metadata']['name']}-kafka-bootstrap."
    )


def test_compose_file_uses_settings_and_the_image() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    fields = {f"LIENTHONG_{name.upper()}" for name in Settings.model_fields} | {"LIENTHONG_KEYS_DIR"}
    for name in ("api", "projector", "relay-a", "relay-b"):
        service = compose["services"][name]
        assert service["image"] == IMAGE and service["build"]["dockerfile"] == "Dockerfile"
        assert set(service["environment"]) <= fields
    assert (ROOT / compose["services"]["api"]["build"]["dockerfile"]).exists()
    assert "FROM python:3.11" in (ROOT / "Dockerfile").read_text()


def _exported_metrics() -> set[str]:
    source = "".join(p.read_text() for p in (ROOT / "gateways").rglob("*.py"))
    return set(re.findall(r'"(lienthong_[a-z_]+)"', source))


def test_grafana_and_prometheus_ask_for_metrics_the_code_exports() -> None:
    exported = _exported_metrics()
    dashboard = json.loads((ROOT / "deploy" / "monitoring" / "grafana" / "lienthong.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(queries) >= 10
    for query in queries:
        for metric in re.findall(r"lienthong_[a-z_]+", query):
            base = re.sub(r"_(total|bucket|sum|count)$", "", metric)
            assert base in exported, f"the dashboard asks for {metric}, which nothing exports"
    prometheus = yaml.safe_load((ROOT / "deploy" / "monitoring" / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in prometheus["scrape_configs"]}
    assert {"lienthong-api", "lienthong-stream", "kubernetes-pods"} <= jobs
