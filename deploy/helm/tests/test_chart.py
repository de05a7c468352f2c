"""The Helm chart, linted and rendered by helm-sdkpy for every values file, checked against the platform.

Rendering goes through helm_render.py (a child process with an in-memory Kubernetes API: helm-sdkpy
has no `template`); every rendered object is validated against the Kubernetes schemas of the chart's
oldest supported version and of the newest one kubernetes-validate knows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

HERE = Path(__file__).resolve().parent
CHART = HERE.parent / "scenergy-admin"
REPO = HERE.parents[2]
RELEASE = "scenergy-admin"
NAMESPACE = "scenergy"
VALUES_FILES = sorted(p.name for p in CHART.glob("values*.yaml"))

# Console scripts that are long-running processes (each its own Deployment); the rest are CLIs.
LONG_RUNNING = re.compile(r"-(grpc|worker|runner|sink|http|webhooks)$")
# Who calls which gRPC server (from the services' code): the gateway calls all four; generation
# (holds, captures, releases) and payments (purchases, refunds) call credits; the webhook endpoint
# only verifies and stores.
GRPC_CALLERS = {
    "credits-grpc": {
        "admin-api-http",
        "generation-grpc",
        "generation-runner",
        "generation-worker",
        "payments-grpc",
        "payments-worker",
    },
    "audit-grpc": {"admin-api-http"},
    "generation-grpc": {"admin-api-http"},
    "payments-grpc": {"admin-api-http"},
}
PUBLIC = {"admin-api-http": 8000, "payments-webhooks": 8004}
INGRESS_NAMESPACE = {"kubernetes.io/metadata.name": "ingress-nginx"}
PROMETHEUS_NAMESPACE = {"kubernetes.io/metadata.name": "monitoring"}
OWN_NAMESPACE = {"kubernetes.io/metadata.name": NAMESPACE}

SECRET_NAME = re.compile(r"(_KEY|_KEY_ID|_SECRET|_PASSWORD|_TOKEN)$|^(DATABASE_URL|BROKER_URL)$")
URL_WITH_PASSWORD = re.compile(r"://[^/@\s]+:[^/@\s]+@")
# kube-state-metrics series the rules may use with metrics.prometheusRule.kubeStateMetrics.
KUBE_STATE_METRICS = {"kube_job_failed"}
# Words of PromQL that are not metric names (functions are recognised by their parenthesis).
PROMQL_KEYWORDS = re.compile(r"and|or|unless|bool|offset|by|without|on|ignoring|group_left|group_right|inf|nan")


# --- rendering -----------------------------------------------------------------------------------


@dataclass
class Render:
    values: dict[str, Any]
    objects: list[dict[str, Any]] = field(default_factory=list)
    notes: str = ""
    error: str = ""

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def named(self, kind: str, name: str) -> dict[str, Any]:
        [obj] = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        return obj


def values_of(file: str) -> dict[str, Any]:
    return {} if file == "values.yaml" else yaml.safe_load((CHART / file).read_text()) or {}


# Renders that must fail, with (part of) the message they must fail with.
FAILING = {
    "consumer-timeout-too-short": (
        {"generation": {"jobs": {"hardTimeoutSeconds": 600, "leaseSeconds": 30, "brokerConsumerTimeoutSeconds": 660}}},
        "brokerConsumerTimeoutSeconds (660) must exceed",
    ),
    "broker-secret-unnamed": (
        {"secrets": {"broker": {"existingSecret": ""}}},
        "secrets.broker: name an existing Secret",
    ),
}


@pytest.fixture(scope="session")
def helm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("helm")
    renders = {file: values_of(file) for file in VALUES_FILES}
    renders.update({label: values for label, (values, _) in FAILING.items()})
    request = {
        "chart": str(CHART),
        "release": RELEASE,
        "namespace": NAMESPACE,
        "kube_version": "1.33.0",
        "renders": renders,
        "lint": {file: values_of(file) for file in VALUES_FILES},
    }
    env = {
        **os.environ,
        "HELM_DRIVER": "memory",
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    env.pop("KUBECONFIG", None)
    proc = subprocess.run(
        [sys.executable, str(HERE / "helm_render.py")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.fixture(scope="session")
def renders(helm: dict[str, Any]) -> dict[str, Render]:
    out = {}
    for label, raw in helm["renders"].items():
        values = values_of(label) if label in VALUES_FILES else FAILING[label][0]
        if "error" in raw:
            out[label] = Render(values, error=raw["error"])
            continue
        docs = [raw["manifest"], *raw["hooks"]]
        objects = [o for doc in docs for o in yaml.safe_load_all(doc) if o]
        out[label] = Render(values, objects, raw["notes"])
    return out


@pytest.fixture(params=VALUES_FILES)
def render(request: pytest.FixtureRequest, renders: dict[str, Render]) -> Render:
    r = renders[request.param]
    assert not r.error, r.error
    return r


# --- helpers -------------------------------------------------------------------------------------


def pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


def workloads(r: Render) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(object, container) for every container of every Deployment, Job and CronJob."""
    for obj in r.objects:
        if obj["kind"] in ("Deployment", "Job", "CronJob"):
            for container in pod_template(obj)["spec"]["containers"]:
                yield obj, container


def process_of(deployment: dict[str, Any]) -> str:
    """The console script a Deployment runs, e.g. `credits-grpc`."""
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    [command] = container["command"]
    return str(command)


def deployments_by_process(r: Render) -> dict[str, dict[str, Any]]:
    return {process_of(d): d for d in r.of_kind("Deployment")}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        present, value = expr["key"] in labels, labels.get(expr["key"])
        ok = {
            "In": present and value in expr.get("values", []),
            "NotIn": value not in expr.get("values", []),
            "Exists": present,
            "DoesNotExist": not present,
        }[expr["operator"]]
        if not ok:
            return False
    return True


def ingress_allowed(
    r: Render, *, source_ns: dict[str, str], source_pod: dict[str, str], target: dict[str, Any], port: int
) -> bool:
    """Whether the release's NetworkPolicies let a pod (labels, namespace labels) reach a Deployment's port."""
    labels = target["spec"]["template"]["metadata"]["labels"]
    [container] = target["spec"]["template"]["spec"]["containers"]
    port_names = {p["name"] for p in container["ports"] if p["containerPort"] == port}
    policies = [
        p
        for p in r.of_kind("NetworkPolicy")
        if selects(p["spec"]["podSelector"], labels) and "Ingress" in p["spec"]["policyTypes"]
    ]
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get("ingress") or []:
            ports = rule.get("ports")
            if ports and not any(p.get("port") in (port, *port_names) for p in ports):
                continue
            if not rule.get("from"):  # every source
                return True
            for peer in rule["from"]:
                ns_ok = (
                    selects(peer["namespaceSelector"], source_ns)
                    if "namespaceSelector" in peer
                    else source_ns == OWN_NAMESPACE
                )
                pod_ok = selects(peer["podSelector"], source_pod) if "podSelector" in peer else True
                if ns_ok and pod_ok:
                    return True
    return False


def code_metrics() -> set[str]:
    """Every series name the services can export, from the Counter/Gauge/Histogram/Summary declarations."""
    declared = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")
    names: set[str] = set()
    sources = [*REPO.glob("libs/*/src/**/*.py"), *REPO.glob("services/*/src/**/*.py")]
    for path in sources:
        if re.search(r"/scenergy/[a-z_]+/v\d+/", path.as_posix()):  # generated stubs
            continue
        for kind, name in declared.findall(path.read_text()):
            if kind == "Counter":
                names.add(name.removesuffix("_total") + "_total")
            elif kind == "Gauge":
                names.add(name)
            elif kind == "Histogram":
                names.update(f"{name}_{suffix}" for suffix in ("bucket", "sum", "count"))
            else:
                names.update(f"{name}_{suffix}" for suffix in ("sum", "count"))
    return names


def promql_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    expr = re.sub(r'"(\\.|[^"\\])*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    tokens = re.findall(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", expr)
    return {t for t in tokens if not PROMQL_KEYWORDS.fullmatch(t)}


def leaf_paths(node: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from leaf_paths(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix


def has_path(node: Any, path: str) -> bool:
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


# --- lint and render -----------------------------------------------------------------------------


@pytest.mark.parametrize("file", VALUES_FILES)
def test_chart_lints_without_warnings(helm: dict[str, Any], file: str) -> None:
    result = helm["lint"][file]
    assert result["TotalChartsLinted"] == 1
    assert not result["Errors"]
    # Severity: 1 info (e.g. "icon is recommended"), 2 warning, 3 error. helm-sdkpy's JSON loses the
    # messages' text (Go errors marshal to {}): the failing render test of the same file shows it.
    assert [m for m in result["Messages"] if m["Severity"] >= 2] == []


def test_manifests_validate_against_kubernetes_schemas(render: Render) -> None:
    floor = re.search(r"(\d+\.\d+)", yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"])
    assert floor is not None
    custom = {"monitoring.coreos.com/v1"}
    checked = 0
    for obj in render.objects:
        if obj["apiVersion"] in custom:
            continue
        for version in (floor.group(1), kubernetes_validate.latest_version()):
            kubernetes_validate.validate(obj, version, strict=True)
        checked += 1
    assert checked > 50


def test_every_object_has_the_standard_labels(render: Render) -> None:
    for obj in render.objects:
        labels = obj["metadata"]["labels"]
        for key in (
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/part-of",
            "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by",
            "helm.sh/chart",
        ):
            assert key in labels, (obj["kind"], obj["metadata"]["name"], key)
        assert len(obj["metadata"]["name"]) <= 63, obj["metadata"]["name"]


# --- processes, migrations, scheduled checks -----------------------------------------------------


def scripts() -> dict[str, dict[str, str]]:
    return {
        path.parent.name: tomllib.loads(path.read_text())["project"]["scripts"]
        for path in sorted(REPO.glob("services/*/pyproject.toml"))
    }


def test_every_long_running_process_has_a_deployment(render: Render) -> None:
    expected = {s for service in scripts().values() for s in service if LONG_RUNNING.search(s)}
    assert expected
    assert set(deployments_by_process(render)) == expected


def test_every_service_has_a_migration_hook_job(render: Render) -> None:
    jobs = {j["spec"]["template"]["spec"]["containers"][0]["command"][0]: j for j in render.of_kind("Job")}
    for service, service_scripts in scripts().items():
        script = f"{service}-migrate"
        assert script in service_scripts
        annotations = jobs[script]["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {"before-hook-creation", "hook-succeeded"}
        # A pre-install hook runs before the release's ConfigMaps exist: it may only read Secrets.
        [container] = jobs[script]["spec"]["template"]["spec"]["containers"]
        assert "envFrom" not in container
        assert {e["name"] for e in container["env"]} == {"DATABASE_URL", "LOG_LEVEL"}


def test_the_scheduled_checks_run_the_cli_and_fail_loudly(render: Render) -> None:
    commands = {
        c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"][0]: c
        for c in render.of_kind("CronJob")
    }
    assert {"credits-ledger-check", "audit-verify"} <= set(commands)
    for cron in commands.values():
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"
        assert cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
        assert len(cron["metadata"]["name"]) <= 52


def test_deployments_are_probed_on_their_ports(render: Render) -> None:
    for process, deployment in deployments_by_process(render).items():
        [c] = deployment["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, process
        assert "http" in ports, process
        if process.endswith("-grpc"):
            assert c["livenessProbe"]["grpc"] == {"port": ports["grpc"]}, process
            assert c["startupProbe"]["grpc"] == {"port": ports["grpc"]}, process
        else:
            assert "grpc" not in ports, process
            assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, process
        port_env = {e["name"]: e["value"] for e in c["env"] if "value" in e and e["name"].endswith("_PORT")}
        assert sorted(int(v) for v in port_env.values()) == sorted(ports.values()), process


def test_every_container_has_requests_and_limits(render: Render) -> None:
    for obj, c in workloads(render):
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][bound]), (obj["metadata"]["name"], bound)


def test_every_pod_runs_unprivileged_on_a_read_only_root(render: Render) -> None:
    for obj, c in workloads(render):
        pod = pod_template(obj)["spec"]
        name = obj["metadata"]["name"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001, name
        assert sc["readOnlyRootFilesystem"] is True, name
        assert sc["allowPrivilegeEscalation"] is False, name
        assert sc["capabilities"]["drop"] == ["ALL"], name
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        assert mounts.get("/tmp") in empty_dirs, name
        multiproc = [e["value"] for e in c.get("env", []) if e["name"] == "PROMETHEUS_MULTIPROC_DIR"]
        for path in multiproc:
            assert mounts.get(path) in empty_dirs, name


def test_gunicorn_processes_get_a_multiprocess_metrics_directory(render: Render) -> None:
    by_process = deployments_by_process(render)
    for process in ("admin-api-http", "payments-webhooks"):
        [c] = by_process[process]["spec"]["template"]["spec"]["containers"]
        assert "PROMETHEUS_MULTIPROC_DIR" in {e["name"] for e in c["env"]}, process


# --- secrets -------------------------------------------------------------------------------------


def test_no_secret_is_created_or_written_in_clear(render: Render) -> None:
    assert render.of_kind("Secret") == []
    for obj, c in workloads(render):
        for env in c.get("env", []):
            if SECRET_NAME.search(env["name"]):
                assert set(env) == {"name", "valueFrom"}, (obj["metadata"]["name"], env["name"])
                assert set(env["valueFrom"]) == {"secretKeyRef"}, (obj["metadata"]["name"], env["name"])
            else:
                assert not URL_WITH_PASSWORD.search(str(env.get("value", ""))), env["name"]
    for cm in render.of_kind("ConfigMap"):
        for key, value in cm["data"].items():
            assert not SECRET_NAME.search(key), (cm["metadata"]["name"], key)
            assert not URL_WITH_PASSWORD.search(value), (cm["metadata"]["name"], key)


def test_every_process_gets_its_required_secrets_by_reference(render: Render) -> None:
    needed = {"DATABASE_URL", "BROKER_URL", "SERVICE_CREDENTIAL_KEY"}
    extra = {"audit": {"AUDIT_SIGNING_KEY"}, "payments": {"STRIPE_WEBHOOK_SECRET"}}
    for process, deployment in deployments_by_process(render).items():
        [c] = deployment["spec"]["template"]["spec"]["containers"]
        refs = {e["name"] for e in c["env"] if "secretKeyRef" in e.get("valueFrom", {})}
        service = deployment["metadata"]["labels"]["app.kubernetes.io/name"]
        assert needed | extra.get(service, set()) <= refs, process


def test_each_service_uses_its_own_database(render: Render) -> None:
    databases: dict[str, set[tuple[str, str]]] = {}
    for deployment in render.of_kind("Deployment"):
        [c] = deployment["spec"]["template"]["spec"]["containers"]
        [db] = [e for e in c["env"] if e["name"] == "DATABASE_URL"]
        ref = db["valueFrom"]["secretKeyRef"]
        service = deployment["metadata"]["labels"]["app.kubernetes.io/name"]
        databases.setdefault(service, set()).add((ref["name"], ref["key"]))
    assert len(databases) == 5
    assert all(len(refs) == 1 for refs in databases.values()), databases
    assert len({ref for refs in databases.values() for ref in refs}) == 5


def test_a_missing_secret_name_fails_the_render(renders: dict[str, Render]) -> None:
    assert FAILING["broker-secret-unnamed"][1] in renders["broker-secret-unnamed"].error


# --- generation runners and the broker's consumer timeout ----------------------------------------


def test_runner_timeouts_reach_every_generation_process(render: Render) -> None:
    jobs = {"hardTimeoutSeconds": 600, "leaseSeconds": 30, "brokerConsumerTimeoutSeconds": 1800}
    jobs.update(render.values.get("generation", {}).get("jobs", {}))
    config = render.named("ConfigMap", f"{RELEASE}-generation-config")["data"]
    assert float(config["JOB_HARD_TIMEOUT_S"]) == jobs["hardTimeoutSeconds"]
    assert float(config["JOB_LEASE_S"]) == jobs["leaseSeconds"]
    assert float(config["BROKER_CONSUMER_TIMEOUT_S"]) == jobs["brokerConsumerTimeoutSeconds"]
    assert jobs["hardTimeoutSeconds"] + 2 * jobs["leaseSeconds"] < jobs["brokerConsumerTimeoutSeconds"]
    runner = deployments_by_process(render)["generation-runner"]
    # A stopping runner finishes (and acks) its job before the pod is killed.
    assert runner["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= jobs["hardTimeoutSeconds"]
    assert f"consumer_timeout = {jobs['brokerConsumerTimeoutSeconds'] * 1000}" in render.notes


def test_a_consumer_timeout_shorter_than_a_job_fails_the_render(renders: dict[str, Render]) -> None:
    assert FAILING["consumer-timeout-too-short"][1] in renders["consumer-timeout-too-short"].error


def test_the_services_find_each_other(render: Render) -> None:
    services = {s["metadata"]["name"]: s for s in render.of_kind("Service")}
    for key in ("admin-api", "generation", "payments"):
        config = render.named("ConfigMap", f"{RELEASE}-{key}-config")["data"]
        for name, addr in config.items():
            if name.endswith("_ADDR"):
                host, port = addr.rsplit(":", 1)
                assert int(port) in {p["port"] for p in services[host]["spec"]["ports"] if p["name"] == "grpc"}


# --- Services, Ingress, scaling, disruption ------------------------------------------------------


def test_every_service_selects_one_deployment_and_its_named_ports(render: Render) -> None:
    deployments = render.of_kind("Deployment")
    for svc in render.of_kind("Service"):
        [target] = [
            d
            for d in deployments
            if selects({"matchLabels": svc["spec"]["selector"]}, d["spec"]["template"]["metadata"]["labels"])
        ]
        [c] = target["spec"]["template"]["spec"]["containers"]
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= {p["name"] for p in c["ports"]}
    assert len(render.of_kind("Service")) == len(deployments)


def test_the_ingress_exposes_only_the_api_and_the_stripe_webhook(render: Render) -> None:
    [ingress] = render.of_kind("Ingress")
    routes = {
        (p["path"], p["pathType"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
        for rule in ingress["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert routes == {
        ("/api/admin", "Prefix", f"{RELEASE}-admin-api-http", 8000),
        ("/webhooks/stripe", "Exact", f"{RELEASE}-payments-webhooks", 8004),
    }


def test_every_deployment_has_a_disruption_budget(render: Render) -> None:
    pdbs = render.of_kind("PodDisruptionBudget")
    for process, deployment in deployments_by_process(render).items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert [p for p in pdbs if selects(p["spec"]["selector"], labels)], process


def test_the_gateway_and_the_runners_autoscale_in_production(renders: dict[str, Render]) -> None:
    render = renders["values-production.yaml"]
    by_process = deployments_by_process(render)
    targets = {h["spec"]["scaleTargetRef"]["name"]: h for h in render.of_kind("HorizontalPodAutoscaler")}
    for process in ("admin-api-http", "generation-runner"):
        deployment = by_process[process]
        assert deployment["metadata"]["name"] in targets, process
        assert "replicas" not in deployment["spec"], process  # the HPA owns it


# --- NetworkPolicies -----------------------------------------------------------------------------


def test_only_the_callers_reach_each_grpc_port(render: Render) -> None:
    by_process = deployments_by_process(render)
    for server, callers in GRPC_CALLERS.items():
        target = by_process[server]
        [c] = target["spec"]["template"]["spec"]["containers"]
        [grpc_port] = [p["containerPort"] for p in c["ports"] if p["name"] == "grpc"]
        for process, source in by_process.items():
            allowed = ingress_allowed(
                render,
                source_ns=OWN_NAMESPACE,
                target=target,
                port=grpc_port,
                source_pod=source["spec"]["template"]["metadata"]["labels"],
            )
            assert allowed == (process in callers), (process, server)
        for outside in (INGRESS_NAMESPACE, PROMETHEUS_NAMESPACE):
            assert not ingress_allowed(render, source_ns=outside, source_pod={}, target=target, port=grpc_port)


def test_only_the_ingress_controller_reaches_the_public_ports(render: Render) -> None:
    by_process = deployments_by_process(render)
    for process, deployment in by_process.items():
        [c] = deployment["spec"]["template"]["spec"]["containers"]
        for port in (p["containerPort"] for p in c["ports"]):
            from_ingress = ingress_allowed(
                render, source_ns=INGRESS_NAMESPACE, source_pod={}, target=deployment, port=port
            )
            assert from_ingress == (PUBLIC.get(process) == port), (process, port)
    for process, port in PUBLIC.items():
        for source, other in by_process.items():
            labels = other["spec"]["template"]["metadata"]["labels"]
            assert not ingress_allowed(
                render, source_ns=OWN_NAMESPACE, source_pod=labels, target=by_process[process], port=port
            ), (source, process)


def test_prometheus_reaches_every_metrics_port(render: Render) -> None:
    for deployment in render.of_kind("Deployment"):
        [c] = deployment["spec"]["template"]["spec"]["containers"]
        [http] = [p["containerPort"] for p in c["ports"] if p["name"] == "http"]
        assert ingress_allowed(render, source_ns=PROMETHEUS_NAMESPACE, source_pod={}, target=deployment, port=http)


def test_migration_and_check_pods_admit_nothing(render: Render) -> None:
    [deny] = [p for p in render.of_kind("NetworkPolicy") if not p["spec"].get("ingress")]
    jobs = [o for o in render.objects if o["kind"] in ("Job", "CronJob")]
    assert jobs
    for obj in jobs:
        template = pod_template(obj)
        assert selects(deny["spec"]["podSelector"], template["metadata"]["labels"]), obj["metadata"]["name"]
        assert all("ports" not in c for c in template["spec"]["containers"]), obj["metadata"]["name"]


# --- metrics and alerts --------------------------------------------------------------------------


def test_the_service_monitor_scrapes_every_process(renders: dict[str, Render]) -> None:
    render = renders["values-production.yaml"]
    [monitor] = render.of_kind("ServiceMonitor")
    assert monitor["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    services = [s for s in render.of_kind("Service") if selects(monitor["spec"]["selector"], s["metadata"]["labels"])]
    assert len(services) == len(render.of_kind("Deployment"))
    assert all("http" in {p["name"] for p in s["spec"]["ports"]} for s in services)


def test_metrics_objects_follow_their_flags(renders: dict[str, Render]) -> None:
    assert renders["values.yaml"].of_kind("ServiceMonitor") == []
    assert renders["values.yaml"].of_kind("PrometheusRule") == []
    for file in ("values-staging.yaml", "values-production.yaml"):
        assert len(renders[file].of_kind("PrometheusRule")) == 1


def test_alerts_read_only_metrics_the_code_exports(renders: dict[str, Render]) -> None:
    known = code_metrics()
    assert {"http_requests_total", "grpc_server_handled_total", "generation_jobs_dead"} <= known
    for file in VALUES_FILES:
        render = renders[file]
        ksm = render.values.get("metrics", {}).get("prometheusRule", {}).get("kubeStateMetrics", False)
        allowed = known | (KUBE_STATE_METRICS if ksm else set())
        for rule_set in render.of_kind("PrometheusRule"):
            used: set[str] = set()
            for group in rule_set["spec"]["groups"]:
                for rule in group["rules"]:
                    names = promql_metrics(rule["expr"])
                    assert names, rule["alert"]
                    assert names <= allowed, (rule["alert"], names - allowed)
                    used |= names
            assert used >= {
                "http_requests_total",
                "grpc_server_handled_total",
                "generation_jobs_finished_total",
                "generation_jobs_dead",
                "generation_queue_messages",
                "generation_oldest_pending_age_seconds",
                "generation_jobs_stalled",
                "payments_webhooks_total",
                "payments_events_failed",
                "outbox_oldest_age_seconds",
                "audit_consumer_lag_messages",
                "audit_checkpoint_age_seconds",
            }
            assert ("kube_job_failed" in used) == ksm


def test_every_alert_says_what_to_do(renders: dict[str, Render]) -> None:
    [rule_set] = renders["values-production.yaml"].of_kind("PrometheusRule")
    alerts = [rule for group in rule_set["spec"]["groups"] for rule in group["rules"]]
    assert len(alerts) >= 14
    for rule in alerts:
        assert rule["alert"].startswith("Scenergy"), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), rule["alert"]
        assert len(rule["annotations"]["runbook"]) > 80, rule["alert"]
        # Each alert reads this release's series only.
        assert f'namespace="{NAMESPACE}"' in rule["expr"], rule["alert"]


def test_promql_metric_extraction() -> None:
    expr = (
        'sum by (namespace, service) (rate(http_requests_total{namespace="a",route!~"/(x|y)"}[5m])) '
        '/ on (namespace) max(generation_jobs_dead{a="b"}) > 0.5 and absent(outbox_pending)'
    )
    assert promql_metrics(expr) == {"http_requests_total", "generation_jobs_dead", "outbox_pending"}


# --- values ---------------------------------------------------------------------------------------


def test_every_value_is_documented() -> None:
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    params = set(re.findall(r"^\s*## @param (\S+)", text, flags=re.M))
    for path in leaf_paths(values):
        parts = path.split(".")
        assert any(".".join(parts[:n]) in params for n in range(1, len(parts) + 1)), f"undocumented: {path}"
    for param in params:
        assert has_path(values, param), f"documented but absent: {param}"


def test_the_environment_files_only_set_documented_values() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for file in VALUES_FILES:
        if not values_of(file):
            continue
        for path in leaf_paths(values_of(file)):
            parts = path.split(".")
            assert any(has_path(values, ".".join(parts[:n])) for n in range(len(parts), 0, -1)), (file, path)
            assert has_path(values, ".".join(parts[:2])), (file, path)
