"""Lint and render a Helm chart offline with helm-sdkpy: `python helm_render.py < request.json > result.json`.

helm-sdkpy (Helm 4's Go SDK behind cffi) exposes `lint` but no `template`: its only way to render is
`install`, which talks to a Kubernetes API server. So this script serves a minimal, in-memory one on
127.0.0.1 (discovery, create, get, delete, and the watch that Helm's hook waiter uses; hook Jobs
complete at once) and installs the chart into it with the `memory` storage driver. The release that
`install` returns holds the rendered manifests, the hooks and NOTES.txt; nothing leaves this process.

It runs as a child process because the Go runtime reads HELM_DRIVER once, from the environment the
process started with: the caller sets HELM_DRIVER=memory (and HELM_*_HOME to a temporary folder).

Request (JSON on stdin):
    {"chart": "<dir>", "release": "<name>", "namespace": "<ns>", "kube_version": "1.33.0",
     "renders": {"<label>": {<values>}, ...}, "lint": {"<label>": {<values>}, ...}}
Result (JSON on stdout): {"renders": {"<label>": {"manifest", "hooks", "notes"} | {"error"}},
                          "lint": {"<label>": <helm's lint result>}}
"""

from __future__ import annotations

import asyncio
import json
import queue
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml

# group -> version -> [(plural, Kind)]: every kind the chart may render (namespaced, all of them).
API_RESOURCES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "": {
        "v1": [
            ("configmaps", "ConfigMap"),
            ("secrets", "Secret"),
            ("services", "Service"),
            ("serviceaccounts", "ServiceAccount"),
        ]
    },
    "apps": {"v1": [("deployments", "Deployment")]},
    "batch": {"v1": [("jobs", "Job"), ("cronjobs", "CronJob")]},
    "autoscaling": {"v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler")]},
    "policy": {"v1": [("poddisruptionbudgets", "PodDisruptionBudget")]},
    "networking.k8s.io": {"v1": [("ingresses", "Ingress"), ("networkpolicies", "NetworkPolicy")]},
    "monitoring.coreos.com": {"v1": [("servicemonitors", "ServiceMonitor"), ("prometheusrules", "PrometheusRule")]},
}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
COLLECTION = re.compile(
    r"(?P<base>/api/v1|/apis/[^/]+/[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<res>[^/]+)(?:/(?P<name>[^/]+))?"
)
Key = tuple[str, str, str]  # (API base path, namespace, plural)


def _group_version(base: str) -> tuple[str, str]:
    if base == "/api/v1":
        return "", "v1"
    group, version = base.split("/")[2:4]
    return group, version


class FakeKube:
    """The objects created so far, and the open watches that want to hear about changes."""

    def __init__(self, kube_version: str) -> None:
        self.kube_version = kube_version
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self.watches: list[tuple[Key, queue.Queue[tuple[str, dict[str, Any]]]]] = []
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.objects.clear()

    def create(self, key: Key, body: dict[str, Any]) -> dict[str, Any]:
        body.setdefault("metadata", {}).update(
            namespace=key[1],
            uid=str(uuid.uuid4()),
            resourceVersion="1",
            generation=1,
            creationTimestamp="2025-01-01T00:00:00Z",
        )
        if body.get("kind") == "Job":  # hook Jobs (migrations) succeed at once
            body["status"] = {
                "succeeded": 1,
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True"},
                    {"type": "Complete", "status": "True"},
                ],
            }
        with self.lock:
            self.objects[(*key, body["metadata"]["name"])] = body
        self._notify(key, "ADDED", body)
        return body

    def delete(self, key: Key, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self.objects.pop((*key, name), None)
        if obj is not None:
            self._notify(key, "DELETED", obj)
        return obj

    def get(self, key: Key, name: str) -> dict[str, Any] | None:
        with self.lock:
            return self.objects.get((*key, name))

    def items(self, key: Key) -> list[dict[str, Any]]:
        with self.lock:
            return [obj for (*k, _name), obj in self.objects.items() if tuple(k) == key]

    def _notify(self, key: Key, kind: str, obj: dict[str, Any]) -> None:
        for watched, events in list(self.watches):
            if watched == key:
                events.put((kind, obj))


def make_handler(kube: FakeKube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall each

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _not_found(self) -> None:
            self._send(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                    "message": f"{self.path} not found",
                },
            )

        def _body(self) -> dict[str, Any]:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            return json.loads(raw) if raw else {}

        def do_GET(self) -> None:
            url = urlparse(self.path)
            path, query = url.path, parse_qs(url.query)
            if path == "/version":
                major, minor = self.kube_version_parts()
                return self._send(200, {"major": major, "minor": minor, "gitVersion": f"v{kube.kube_version}"})
            if path == "/openapi/v2":
                # An empty OpenAPI document (protobuf of no fields is no bytes): no schema, so client-side
                # validation of the hooks is skipped; the test validates every object itself.
                return self._send(200, b"", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
            if path == "/api":
                return self._send(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
            if path == "/apis":
                groups = []
                for group, versions in API_RESOURCES.items():
                    if not group:
                        continue
                    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
                    groups.append({"name": group, "versions": listed, "preferredVersion": listed[0]})
                return self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
            if path == "/api/v1" or re.fullmatch(r"/apis/[^/]+/[^/]+", path):
                group, version = _group_version(path)
                if version not in API_RESOURCES.get(group, {}):
                    return self._not_found()
                resources = [
                    {"name": plural, "singularName": kind.lower(), "namespaced": True, "kind": kind, "verbs": VERBS}
                    for plural, kind in API_RESOURCES[group][version]
                ]
                return self._send(
                    200,
                    {
                        "kind": "APIResourceList",
                        "apiVersion": "v1",
                        "groupVersion": f"{group}/{version}" if group else version,
                        "resources": resources,
                    },
                )
            match = COLLECTION.fullmatch(path)
            if not match:
                return self._not_found()
            key: Key = (match["base"], match["ns"], match["res"])
            if match["name"]:
                obj = kube.get(key, match["name"])
                return self._send(200, obj) if obj else self._not_found()
            field = query.get("fieldSelector", [""])[0]
            wanted = field.split("=", 1)[1] if field.startswith("metadata.name=") else None
            if query.get("watch"):
                return self._watch(key, wanted)
            items = [o for o in kube.items(key) if wanted in (None, o["metadata"]["name"])]
            return self._send(
                200, {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}
            )

        def kube_version_parts(self) -> tuple[str, str]:
            major, minor = kube.kube_version.split(".")[:2]
            return major, minor

        def _watch(self, key: Key, wanted: str | None) -> None:
            """A watch list: the current objects, the bookmark that ends them, then changes (for a minute)."""
            events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
            kube.watches.append((key, events))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

            def send(event: dict[str, Any]) -> None:
                data = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            group, version = _group_version(key[0])
            kind = dict(API_RESOURCES[group][version])[key[2]]
            try:
                for obj in kube.items(key):
                    if wanted in (None, obj["metadata"]["name"]):
                        send({"type": "ADDED", "object": obj})
                send(
                    {
                        "type": "BOOKMARK",
                        "object": {
                            "kind": kind,
                            "apiVersion": f"{group}/{version}" if group else version,
                            "metadata": {"resourceVersion": "1", "annotations": {"k8s.io/initial-events-end": "true"}},
                        },
                    }
                )
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    try:
                        change, obj = events.get(timeout=0.5)
                    except queue.Empty:
                        continue
                    if wanted in (None, obj["metadata"]["name"]):
                        send({"type": change, "object": obj})
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                kube.watches.remove((key, events))

        def do_POST(self) -> None:
            match = COLLECTION.fullmatch(urlparse(self.path).path)
            if not match or match["name"]:
                return self._not_found()
            self._send(201, kube.create((match["base"], match["ns"], match["res"]), self._body()))

        def do_DELETE(self) -> None:
            self._body()
            match = COLLECTION.fullmatch(urlparse(self.path).path)
            if not match or not match["name"]:
                return self._not_found()
            if kube.delete((match["base"], match["ns"], match["res"]), match["name"]) is None:
                return self._not_found()
            self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

    return Handler


def kubeconfig(port: int, namespace: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
            "users": [{"name": "fake", "user": {}}],
        }
    )


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of a values file over the chart's values (null deletes a key)."""
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def main() -> None:
    import helm_sdkpy

    request = json.load(sys.stdin)
    chart = Path(request["chart"])
    kube = FakeKube(request.get("kube_version", "1.33.0"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(kube))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config_text = kubeconfig(server.server_address[1], request["namespace"])

    result: dict[str, Any] = {"renders": {}, "lint": {}}
    for label, values in request.get("renders", {}).items():
        kube.reset()
        config = helm_sdkpy.Configuration(namespace=request["namespace"], kubeconfig=config_text)
        try:
            release = asyncio.run(
                helm_sdkpy.Install(config).run(
                    request["release"], str(chart), values=values or None, wait=False, timeout=60
                )
            )
        except helm_sdkpy.HelmError as exc:
            result["renders"][label] = {"error": str(exc)}
            continue
        result["renders"][label] = {
            "manifest": release.get("manifest", ""),
            "hooks": [hook["manifest"] for hook in release.get("hooks") or []],
            "notes": (release.get("info") or {}).get("notes", ""),
        }

    # Helm's lint reads the chart's own values.yaml only, so each set is linted on a copy whose
    # values.yaml is that set merged over the chart's.
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    for label, values in request.get("lint", {}).items():
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / chart.name
            shutil.copytree(chart, copy)
            (copy / "values.yaml").write_text(yaml.safe_dump(merged(defaults, values or {}), sort_keys=False))
            config = helm_sdkpy.Configuration(namespace=request["namespace"], kubeconfig=config_text)
            result["lint"][label] = asyncio.run(helm_sdkpy.Lint(config).run(str(copy)))

    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
