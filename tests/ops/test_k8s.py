"""Every kustomize overlay builds, every rendered resource validates (core kinds strictly against
the Kubernetes schemas, Strimzi/KEDA/Gateway API resources against the upstream CRDs), and the
manifests keep their promises: topics as in stream/records/topics.py, settings that stream/settings/ accepts, the restricted
pod security profile, probes, PDBs, network policies, autoscaling, a GPU scorer in prod, and
Grafana ConfigMaps equal to the files in grafana/."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from cursorprint.stream.decide.credentials import hash_key
from cursorprint.stream.records.topics import (
    ALL_TOPICS,
    FRAUD_ALERTS,
    POINTER_BATCHES,
    SESSIONS,
    TICKS_RETENTION_MS,
    app_id,
    ticks_topic,
)
from cursorprint.stream.settings import ROLE_SECTIONS, load_settings
from tests.support.k8s import OVERLAYS, REPO, build, crd_documents, crd_schemas, validate

Doc = dict[str, Any]
WORKLOADS = ("Deployment", "StatefulSet")
IMAGE = "ghcr.io/cursorprint/cursorprint"
COMMANDS = {"ingest": ["cursorprint", "ingest"],
            "sessionizer": ["cursorprint", "worker", "sessionizer"],
            "scorer": ["cursorprint", "worker", "scorer"],
            "decide": ["cursorprint", "decide", "serve", "--host", "0.0.0.0", "--port", "8089"]}


def kinds(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    (doc,) = [d for d in kinds(docs, kind) if d["metadata"]["name"] == name]
    return doc


def prefixed(docs: list[Doc], kind: str, prefix: str) -> Doc:
    """A generated ConfigMap/Secret (its name carries a content hash)."""
    (doc,) = [d for d in kinds(docs, kind) if d["metadata"]["name"].startswith(prefix + "-")
              or d["metadata"]["name"] == prefix]
    return doc


def pod_specs(docs: list[Doc]) -> list[tuple[str, Doc]]:
    return [(d["metadata"]["name"], d["spec"]["template"]["spec"])
            for d in docs if d["kind"] in WORKLOADS]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_resource_validates(overlay: str) -> None:
    docs = build(overlay)
    used = {validate(d) for d in docs}
    assert used == {"kubernetes", "crd-schema"}
    assert {"Kafka", "KafkaNodePool", "KafkaTopic", "ScaledObject", "Deployment", "StatefulSet",
            "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "Gateway",
            "HTTPRoute", "Service", "ConfigMap", "Namespace"} <= {d["kind"] for d in docs}
    assert "Ingress" not in {d["kind"] for d in docs}
    custom = {d["apiVersion"] for d in docs if validate(d) == "crd-schema"}
    assert custom == {"kafka.strimzi.io/v1", "keda.sh/v1alpha1", "gateway.networking.k8s.io/v1"}
    assert all(d["metadata"].get("namespace") == "cursorprint"
               for d in docs if d["kind"] != "Namespace")


def test_validators_reject_bad_resources() -> None:
    docs = build("overlays/dev")
    kafka = copy.deepcopy(named(docs, "Kafka", "cursorprint"))
    kafka["spec"]["kafka"]["listners"] = []  # typo: the strict CRD schema must refuse it
    with pytest.raises(jsonschema.ValidationError):
        validate(kafka)
    old = copy.deepcopy(named(docs, "Kafka", "cursorprint"))
    old["apiVersion"] = "kafka.strimzi.io/v1beta2"  # removed in Strimzi 1.0
    with pytest.raises(AssertionError, match="no schema"):
        validate(old)
    topic = copy.deepcopy(kinds(docs, "KafkaTopic")[0])
    topic["spec"]["partitions"] = "many"
    with pytest.raises(jsonschema.ValidationError):
        validate(topic)
    pool = copy.deepcopy(named(docs, "KafkaNodePool", "combined"))
    pool["spec"]["storage"]["volumes"][0]["kraftMetadata"] = "dedicated"  # not in the enum
    with pytest.raises(jsonschema.ValidationError):
        validate(pool)
    scaled = copy.deepcopy(kinds(docs, "ScaledObject")[0])
    del scaled["spec"]["triggers"]
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)
    scaled = copy.deepcopy(kinds(docs, "ScaledObject")[0])
    scaled["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 50  # metadata values are strings
    with pytest.raises(jsonschema.ValidationError):
        validate(scaled)
    route = copy.deepcopy(named(docs, "HTTPRoute", "ingest"))
    route["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Prefixx"
    with pytest.raises(jsonschema.ValidationError):
        validate(route)
    deployment = copy.deepcopy(named(docs, "Deployment", "ingest"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)
    with pytest.raises(AssertionError, match="no schema"):
        validate({"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor",
                  "metadata": {"name": "x"}, "spec": {}})


def test_valid_keda_fields_are_accepted() -> None:
    """Fields the old hand-written schemas refused but KEDA 2.20 serves must validate."""
    scaled = copy.deepcopy(kinds(build("overlays/dev"), "ScaledObject")[0])
    scaled["spec"]["initialCooldownPeriod"] = 60
    scaled["spec"]["fallback"] = {"failureThreshold": 3, "replicas": 1}
    scaled["spec"]["advanced"] = {"restoreToOriginalReplicaCount": False}
    scaled["spec"]["triggers"][0]["metricType"] = "AverageValue"
    scaled["spec"]["triggers"][0]["name"] = "lag"
    assert validate(scaled) == "crd-schema"


def test_crd_schemas_are_the_upstream_crds() -> None:
    """The schemas come from the upstream CRDs (never from files in the repository), with every
    kind the manifests use, and each is a valid JSON schema with closed objects."""
    assert not (REPO / "k8s" / "schemas").exists()
    crds = crd_documents()
    groups = {c["spec"]["group"] for c in crds}
    assert {"kafka.strimzi.io", "keda.sh", "gateway.networking.k8s.io"} <= groups
    served = {(c["spec"]["group"], v["name"]) for c in crds for v in c["spec"]["versions"]
              if v.get("served")}
    assert ("kafka.strimzi.io", "v1") in served and ("kafka.strimzi.io", "v1beta2") not in served
    schemas = crd_schemas()
    for key in [("kafka.strimzi.io/v1", k) for k in ("Kafka", "KafkaNodePool", "KafkaTopic")] + [
            ("keda.sh/v1alpha1", "ScaledObject"), ("gateway.networking.k8s.io/v1", "HTTPRoute"),
            ("gateway.networking.k8s.io/v1", "Gateway")]:
        schema = schemas[key]
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["spec"]["additionalProperties"] is False, key


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_topics_match_stream_topics_and_settings(overlay: str) -> None:
    docs = build(overlay)
    topics = {d["spec"]["topicName"]: d["spec"] for d in kinds(docs, "KafkaTopic")}
    # the deployed sessionizer's tick topic is declared too (co-partitioned, short retention)
    ticks = ticks_topic(app_id("sessionizer"))
    assert set(topics) == {*ALL_TOPICS, ticks}
    env = prefixed(docs, "ConfigMap", "cursorprint-settings")["data"]
    settings = load_settings(environ=env)
    for name, spec in topics.items():
        assert spec["partitions"] == settings.topics.partitions
        retention = TICKS_RETENTION_MS if name == ticks else settings.topics.retention_hours * 3600_000
        assert int(spec["config"]["retention.ms"]) == retention
    for scaled in kinds(docs, "ScaledObject"):
        assert scaled["spec"]["maxReplicaCount"] <= settings.topics.partitions
    pool = named(docs, "KafkaNodePool", "combined")
    assert pool["spec"]["roles"] == ["controller", "broker"]
    kafka = named(docs, "Kafka", "cursorprint")
    # Strimzi 1.x: KRaft with node pools is the only mode; the 0.x opt-in annotations are gone
    assert not {"strimzi.io/kraft", "strimzi.io/node-pools"} & set(
        kafka["metadata"].get("annotations", {}))
    replicas = pool["spec"]["replicas"]
    assert all(s["replicas"] <= replicas for s in topics.values())
    assert kafka["spec"]["kafka"]["config"]["offsets.topic.replication.factor"] <= replicas


def test_prod_has_more_partitions_than_dev() -> None:
    dev = kinds(build("overlays/dev"), "KafkaTopic")[0]["spec"]["partitions"]
    prod = kinds(build("overlays/prod"), "KafkaTopic")[0]["spec"]["partitions"]
    assert prod > dev


def _environment(docs: list[Doc], deployment: str) -> dict[str, str]:
    """The CURSORPRINT_* environment a container of ``deployment`` gets from ConfigMaps/Secrets
    (envFrom, then env: literal values and single secretKeyRef/configMapKeyRef keys)."""
    import base64
    (c,) = named(docs, "Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for src in c.get("envFrom", []):
        if "configMapRef" in src:
            env |= named(docs, "ConfigMap", src["configMapRef"]["name"])["data"]
        if "secretRef" in src:
            data = named(docs, "Secret", src["secretRef"]["name"])["data"]
            env |= {k: base64.b64decode(v).decode() for k, v in data.items()}
    for var in c.get("env", []):
        ref = var.get("valueFrom", {})
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in ref:
            data = named(docs, "Secret", ref["secretKeyRef"]["name"])["data"]
            env[var["name"]] = base64.b64decode(data[ref["secretKeyRef"]["key"]]).decode()
        elif "configMapKeyRef" in ref:
            data = named(docs, "ConfigMap", ref["configMapKeyRef"]["name"])["data"]
            env[var["name"]] = data[ref["configMapKeyRef"]["key"]]
    return env


def test_settings_and_secrets_load() -> None:
    """Each service's ConfigMap + Secret environment is accepted by load_settings (an unknown or
    malformed CURSORPRINT_* variable would stop the pods at start-up)."""
    docs = build("overlays/dev")
    envs = {name: _environment(docs, name) for name in COMMANDS}
    for name, env in envs.items():
        assert env and all(k.startswith("CURSORPRINT_") for k in env), name
        load_settings(environ=env)
    ingest = load_settings(environ=envs["ingest"])
    assert ingest.ingest.site_configs() and len(ingest.ingest.pseudonym_secret) >= 16
    (c,) = named(docs, "Deployment", "ingest")["spec"]["template"]["spec"]["containers"]
    assert ingest.ingest.port == c["ports"][0]["containerPort"] and ingest.ingest.host == "0.0.0.0"
    scorer = load_settings(environ=envs["scorer"])
    assert scorer.redis.url.startswith("redis://:") and "@redis:6379" in scorer.redis.url
    assert scorer.kafka.bootstrap == "cursorprint-kafka-bootstrap:9092"
    # decide: its own role's sections, sha256 API keys, ingest's pseudonym secret (same user
    # keys), the scorer's Redis and Kafka, listening on its container port.
    decide = load_settings(environ=envs["decide"], sections=ROLE_SECTIONS["decide"])
    sites = decide.decide.site_configs()
    assert sites
    entries = envs["decide"]["CURSORPRINT_DECIDE_SITES"].split("=", 1)[1].split("|")
    assert all(e.startswith("sha256:") for e in entries), "API keys stored as sha256 only"
    assert hash_key("dev-decide-api-key-change-me") in str(sites)
    assert decide.ingest.pseudonym_secret == ingest.ingest.pseudonym_secret
    assert decide.redis.url == scorer.redis.url and decide.kafka.bootstrap == scorer.kafka.bootstrap
    (c,) = named(docs, "Deployment", "decide")["spec"]["template"]["spec"]["containers"]
    args = dict(zip(c["args"][2::2], c["args"][3::2], strict=True))
    assert args == {"--host": "0.0.0.0", "--port": str(c["ports"][0]["containerPort"])}
    # Least privilege: site secrets only in ingest, API keys only in decide, the Redis password
    # only in the scorer and decide (which takes that one key of cursorprint-secrets).
    assert "CURSORPRINT_SITES" not in envs["scorer"] | envs["sessionizer"] | envs["decide"]
    assert "CURSORPRINT_DECIDE_SITES" not in envs["ingest"] | envs["scorer"] | envs["sessionizer"]
    assert "CURSORPRINT_REDIS_URL" not in envs["ingest"] | envs["sessionizer"]
    assert set(envs["decide"]) - set(envs["ingest"]) <= {"CURSORPRINT_DECIDE_SITES",
                                                           "CURSORPRINT_REDIS_URL"}


def test_references_resolve_in_dev() -> None:
    docs = build("overlays/dev")
    existing = {(d["kind"], d["metadata"]["name"]) for d in docs}
    for name, spec in pod_specs(docs):
        for c in spec["containers"]:
            for src in c.get("envFrom", []):
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in src:
                        assert (kind, src[key]["name"]) in existing, f"{name}: {src}"
            for var in c.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref and not ref.get("optional"):
                    assert ("Secret", ref["name"]) in existing, f"{name}: {ref}"
        for vol in spec.get("volumes", []):
            if "configMap" in vol:
                assert ("ConfigMap", vol["configMap"]["name"]) in existing, f"{name}: {vol}"


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_restricted_pod_security(overlay: str) -> None:
    docs = build(overlay)
    labels = named(docs, "Namespace", "cursorprint")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    specs = pod_specs(docs)
    assert len(specs) >= 5
    for name, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault", name
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), name
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert not sc["capabilities"].get("add"), name
            assert "readinessProbe" in c and "livenessProbe" in c, f"{name}: probes"
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"], name


@pytest.mark.parametrize("overlay", ["overlays/dev", "overlays/prod"])
def test_workloads_autoscaling_and_disruption_budgets(overlay: str) -> None:
    docs = build(overlay)
    for name, command in COMMANDS.items():
        (c,) = named(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert c["image"].startswith(IMAGE)
        assert c["command"] + c["args"] == command
        probes = {c["readinessProbe"]["httpGet"]["path"], c["livenessProbe"]["httpGet"]["path"]}
        assert probes == {"/readyz", "/healthz"}
    hpa = named(docs, "HorizontalPodAutoscaler", "ingest")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "ingest"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    triggers = {s["spec"]["scaleTargetRef"]["name"]: s["spec"]["triggers"][0]
                for s in kinds(docs, "ScaledObject")}
    assert set(triggers) == {"sessionizer", "scorer"}
    assert triggers["sessionizer"]["metadata"]["topic"] == POINTER_BATCHES
    assert triggers["scorer"]["metadata"]["topic"] == SESSIONS
    assert all(t["type"] == "kafka" and t["metadata"]["consumerGroup"] for t in triggers.values())
    budgets = [p["spec"]["selector"]["matchLabels"] for p in kinds(docs, "PodDisruptionBudget")]
    for d in docs:
        if d["kind"] in WORKLOADS and d["metadata"]["name"] != "grafana":
            assert d["spec"]["selector"]["matchLabels"] in budgets, d["metadata"]["name"]


def test_gpu_scorer_only_in_prod() -> None:
    prod = named(build("overlays/prod"), "Deployment", "scorer")["spec"]["template"]["spec"]
    (c,) = prod["containers"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert prod["nodeSelector"]["nvidia.com/gpu.present"] == "true"
    assert any(t["key"] == "nvidia.com/gpu" for t in prod["tolerations"])
    dev_docs = build("overlays/dev")
    dev = named(dev_docs, "Deployment", "scorer")["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in str(dev)
    assert all(d["spec"]["replicas"] == 1 for d in dev_docs if d["kind"] in WORKLOADS)
    assert named(dev_docs, "KafkaNodePool", "combined")["spec"]["replicas"] == 1


def _selects(selector: Doc, labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        if expr["operator"] == "In" and labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def test_network_policies() -> None:
    docs = build("overlays/prod")
    policies = kinds(docs, "NetworkPolicy")
    deny = named(docs, "NetworkPolicy", "default-deny-ingress")
    assert deny["spec"]["podSelector"] == {} and "ingress" not in deny["spec"]
    pod_labels = {d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
                  for d in docs if d["kind"] in WORKLOADS}
    # Redis: only the pods its policy's peers select, and those are stream workers.
    (redis_policy,) = [p for p in policies
                       if _selects(p["spec"]["podSelector"], pod_labels["redis"])
                       and p["spec"]["podSelector"]]
    peers = [f["podSelector"] for rule in redis_policy["spec"]["ingress"] for f in rule["from"]]
    allowed = {n for n, labels in pod_labels.items() if any(_selects(p, labels) for p in peers)}
    assert allowed and allowed <= {"sessionizer", "scorer", "decide"}
    assert {"scorer", "decide"} <= allowed  # the scorer writes live scores, decide reads them
    # Kafka: Strimzi derives the listener's policy from networkPolicyPeers.
    (listener,) = named(docs, "Kafka", "cursorprint")["spec"]["kafka"]["listeners"]
    kafka_peers = [p["podSelector"] for p in listener["networkPolicyPeers"] if "podSelector" in p]
    clients = {n for n, labels in pod_labels.items()
               if any(_selects(p, labels) for p in kafka_peers)}
    assert clients == {"ingest", "sessionizer", "scorer", "decide"}


def test_decide_only_from_site_backends_and_monitoring() -> None:
    """Every policy that selects decide's pods admits only the documented site backends (pod AND
    namespace labelled cursorprint.io/site-backend=true) and Prometheus, on decide's port."""
    site_backend = {"cursorprint.io/site-backend": "true"}
    monitoring = {"kubernetes.io/metadata.name": "monitoring"}
    for overlay in ("overlays/dev", "overlays/prod"):
        docs = build(overlay)
        labels = named(docs, "Deployment", "decide")["spec"]["template"]["metadata"]["labels"]
        selecting = [p for p in kinds(docs, "NetworkPolicy")
                     if _selects(p["spec"]["podSelector"], labels)]
        assert [p["metadata"]["name"] for p in selecting if p["spec"]["podSelector"]] == [
            "decide-from-site-backends"]
        peers = []
        for policy in selecting:
            for rule in policy["spec"].get("ingress", []):
                assert rule["ports"] == [{"port": "http", "protocol": "TCP"}], rule
                peers += rule["from"]
        assert peers == [
            {"namespaceSelector": {"matchLabels": site_backend},
             "podSelector": {"matchLabels": site_backend}},
            {"namespaceSelector": {"matchLabels": monitoring}}]


def test_only_the_collector_endpoint_is_public() -> None:
    """Gateway API: one HTTPS listener and one route whose only rule sends exactly /v1/batches to
    ingest; nothing else is exposed (no Ingress, no LoadBalancer/NodePort Service)."""
    docs = build("overlays/prod")
    assert not kinds(docs, "Ingress")
    assert {d["kind"] for d in docs if d["apiVersion"].startswith("gateway.networking.k8s.io/")
            } == {"Gateway", "HTTPRoute"}
    (gateway,) = kinds(docs, "Gateway")
    (listener,) = gateway["spec"]["listeners"]
    assert listener["protocol"] == "HTTPS" and listener["tls"]["mode"] == "Terminate"
    assert listener["tls"]["certificateRefs"] == [{"kind": "Secret", "name": "ingest-tls"}]
    assert listener["allowedRoutes"]["namespaces"]["from"] == "Same"
    (route,) = kinds(docs, "HTTPRoute")
    assert route["spec"]["parentRefs"] == [{"name": gateway["metadata"]["name"],
                                            "sectionName": listener["name"]}]
    assert route["spec"]["hostnames"] == [listener["hostname"]]
    (rule,) = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "Exact", "value": "/v1/batches"}}]
    (backend,) = rule["backendRefs"]
    service = named(docs, "Service", backend["name"])
    assert backend["name"] == "ingest" and backend["port"] in {p["port"] for p in
                                                               service["spec"]["ports"]}
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in kinds(docs, "Service"))
    # decide faces the sites' backends only: no route, no Gateway proxy, no public Service
    decide = named(docs, "Service", "decide")
    assert decide["spec"].get("type", "ClusterIP") == "ClusterIP"
    for overlay in OVERLAYS:
        overlay_docs = build(overlay)
        refs = [b for r in kinds(overlay_docs, "HTTPRoute") for rule in r["spec"]["rules"]
                for b in rule.get("backendRefs", [])]
        assert refs and all(b["name"] != "decide" for b in refs), overlay
        assert "decide" not in str(kinds(overlay_docs, "Gateway") + kinds(overlay_docs, "HTTPRoute"))
    decide_labels = named(docs, "Deployment", "decide")["spec"]["template"]["metadata"]["labels"]
    for policy in kinds(docs, "NetworkPolicy"):
        if policy["spec"]["podSelector"] and _selects(policy["spec"]["podSelector"], decide_labels):
            assert "gateway" not in str(policy["spec"]["ingress"]), policy["metadata"]["name"]
    # only the gateway's proxies reach ingest's port
    policy = named(docs, "NetworkPolicy", "ingest-from-gateway")
    (ingress_rule,) = policy["spec"]["ingress"]
    assert {"gateway.networking.k8s.io/gateway-name": gateway["metadata"]["name"]} in [
        f.get("podSelector", {}).get("matchLabels") for f in ingress_rule["from"]]


def test_prometheus_scrape_annotations_match_ports() -> None:
    docs = build("overlays/prod")
    for name in COMMANDS:
        template = named(docs, "Deployment", name)["spec"]["template"]
        notes = template["metadata"]["annotations"]
        assert notes["prometheus.io/scrape"] == "true" and notes["prometheus.io/path"] == "/metrics"
        ports = {p["containerPort"] for c in template["spec"]["containers"] for p in c["ports"]}
        assert int(notes["prometheus.io/port"]) in ports


def test_grafana_configmaps_equal_the_files() -> None:
    grafana = REPO / "grafana"
    docs = build("overlays/dev")
    rendered: dict[str, str] = {}
    for prefix in ("grafana-datasources", "grafana-dashboard-provider", "grafana-dashboards"):
        rendered |= prefixed(docs, "ConfigMap", prefix)["data"]
    files = {p.name: p.read_text() for p in grafana.rglob("*")
             if p.is_file() and p.suffix in {".json", ".yaml"} and p.name != "kustomization.yaml"}
    assert rendered == files
    kustomization = yaml.safe_load((grafana / "kustomization.yaml").read_text())
    listed = {f.split("=", 1)[1] for g in kustomization["configMapGenerator"] for f in g["files"]}
    on_disk = {str(Path(p).relative_to(grafana)) for p in grafana.rglob("*")
               if p.is_file() and p.name != "kustomization.yaml"}
    assert listed == on_disk


def test_alert_topic_is_declared() -> None:
    """The alert consumers' topic exists in every overlay (a dashboard panel counts its alerts)."""
    for overlay in OVERLAYS:
        assert FRAUD_ALERTS in {d["spec"]["topicName"] for d in kinds(build(overlay), "KafkaTopic")}
