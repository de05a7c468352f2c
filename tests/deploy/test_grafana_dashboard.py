"""The Grafana dashboard (deploy/grafana/scenergy-platform.json) against the metrics the code defines.

Every metric name in a PromQL expression must be one that prometheus_client exposes for a
Counter/Gauge/Histogram/Summary defined in libs/common/src or services/*/src: a renamed metric
breaks this test instead of leaving an empty panel.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "scenergy-platform.json"
SOURCES = [ROOT / "libs" / "common" / "src", *sorted((ROOT / "services").glob("*/src"))]

METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary"}
ROWS = {"Gateway", "gRPC", "Generation", "Payments", "Audit", "Outboxes", "Credits"}
# Labels Prometheus adds to every scraped series, plus the ones the expressions make themselves.
TARGET_LABELS = {"namespace", "job", "instance", "pod", "service", "container", "endpoint"}
MADE_LABELS = {"le", "grpc_service"}
GRPC_CODES = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}  # fmt: skip
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}
PROMQL_WORDS |= {"inf", "nan", "Inf", "NaN"}


# ---------------------------------------------------------------- what the code defines


@functools.cache
def defined_metrics() -> dict[str, tuple[str, tuple[str, ...]]]:
    """name as written in the code -> (type, label names), from every metric constructor call."""
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for root in SOURCES:
        for path in root.rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                kind = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if kind not in METRIC_TYPES or not node.args:
                    continue
                first = node.args[0]
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    continue
                labels: ast.expr | None = node.args[2] if len(node.args) > 2 else None
                for kw in node.keywords:
                    if kw.arg == "labelnames":
                        labels = kw.value
                names: tuple[str, ...] = ()
                if isinstance(labels, ast.List | ast.Tuple):
                    names = tuple(
                        e.value for e in labels.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
                    )
                found[first.value] = (kind, names)
    return found


def exposed_names(defined: dict[str, tuple[str, tuple[str, ...]]]) -> set[str]:
    """The series names prometheus_client writes: counters get `_total`, histograms `_bucket/_sum/_count`."""
    names: set[str] = set()
    for name, (kind, _labels) in defined.items():
        if kind == "Counter":
            base = name.removesuffix("_total")
            names |= {f"{base}_total", f"{base}_created"}
        elif kind == "Gauge":
            names.add(name)
        elif kind == "Histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
        elif kind == "Summary":
            names |= {name, f"{name}_sum", f"{name}_count", f"{name}_created"}
    return names


# ---------------------------------------------------------------- what the dashboard uses

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords or labels."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _VARIABLE.sub("", text)
    text = _GROUPING.sub("", text)
    text = _NUMBER.sub("0", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        word = match.group(0)
        if word in PROMQL_WORDS or text[match.end() :].lstrip().startswith("("):
            continue  # a keyword, or a function / aggregation call
        names.add(word)
    return names


def label_names(expr: str) -> set[str]:
    """Label names in matchers and in by/without/on/ignoring clauses."""
    names = {m.group(1) for block in _MATCHERS.findall(expr) for m in _MATCHER.finditer(block)}
    for clause in _GROUPING.findall(_STRING.sub('""', expr)):
        inner = clause[clause.index("(") + 1 : -1]
        names |= {word.strip() for word in inner.split(",") if word.strip()}
    return names


def code_values(expr: str) -> set[str]:
    values: set[str] = set()
    for block in _MATCHERS.findall(expr):
        for m in _MATCHER.finditer(block):
            if m.group(1) == "code":
                values |= set(re.split(r"[|]", m.group(3)))
    return values


def load() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row keeps its panels inside


def expressions(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r} {target.get('refId')}", target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        call = re.fullmatch(r"\s*label_values\(\s*([^,()]+?)\s*,\s*(\w+)\s*\)\s*", text)
        assert call, f"variable {variable['name']}: expected label_values(<selector>, <label>), got {text!r}"
        yield f"variable {variable['name']!r}", call.group(1)


# ---------------------------------------------------------------- the tests


def test_extraction_of_names_from_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{namespace="$namespace",'
        ' route=~"/api/(x|y)"}[$__rate_interval]))) / clamp_min(sum(rate(foo_total{code!="OK"}[5m])), 1e-9)'
        ' and on (job) label_replace(bar, "svc", "$1", "method", "/([^/]+)/.*") > bool 3'
    )
    assert metric_names(expr) == {"http_request_duration_seconds_bucket", "foo_total", "bar"}
    assert label_names(expr) == {"namespace", "route", "code", "le", "job"}
    assert code_values(expr) == {"OK"}


def test_definitions_are_found_in_the_code() -> None:
    defined = defined_metrics()
    assert defined["http_request_duration_seconds"] == ("Histogram", ("method", "route"))
    assert defined["grpc_server_handled_total"] == ("Counter", ("method", "code"))
    exposed = exposed_names(defined)
    assert "grpc_server_handled_total" in exposed and "grpc_server_handled_total_total" not in exposed
    assert "http_request_duration_seconds_bucket" in exposed and "http_request_duration_seconds" not in exposed


def test_dashboard_is_a_grafana_model() -> None:
    dashboard = load()
    assert dashboard["title"] and dashboard["uid"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["namespace"]["type"] == "query"
    assert variables["namespace"]["datasource"]["uid"] == "${datasource}"


def test_rows_cover_every_part_of_the_platform() -> None:
    rows = [p["title"] for p in load()["panels"] if p["type"] == "row"]
    for wanted in ROWS:
        assert any(title.startswith(wanted) for title in rows), f"no {wanted} row in {rows}"


def test_every_panel_has_a_title_targets_and_the_datasource_variable() -> None:
    dashboard = load()
    ids = []
    for panel in all_panels(dashboard):
        ids.append(panel["id"])
        assert panel.get("title"), f"panel {panel['id']} has no title"
        if panel["type"] == "row":
            continue
        assert panel.get("targets"), f"panel {panel['title']!r} has no targets"
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), f"panel {panel['title']!r} has an empty query"
            assert target.get("refId")
            assert "$namespace" in target["expr"], f"panel {panel['title']!r} ignores the namespace variable"
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_panels_do_not_overlap() -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in all_panels(load()):
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in taken, f"{panel['title']!r} overlaps {taken[(x, y)]!r}"
                taken[(x, y)] = panel["title"]


def test_every_metric_name_exists_in_the_code() -> None:
    exposed = exposed_names(defined_metrics())
    used: dict[str, set[str]] = {}
    for where, expr in expressions(load()):
        names = metric_names(expr)
        assert names, f"{where}: no metric name found in {expr!r}"
        for name in names:
            used.setdefault(name, set()).add(where)
    unknown = {name: sorted(places) for name, places in used.items() if name not in exposed}
    assert not unknown, f"metric names the code does not define: {unknown}"


def test_every_label_exists_on_some_metric() -> None:
    known = {label for _kind, labels in defined_metrics().values() for label in labels} | TARGET_LABELS | MADE_LABELS
    for where, expr in expressions(load()):
        unknown = label_names(expr) - known
        assert not unknown, f"{where}: labels no metric has: {unknown}"
        bad_codes = code_values(expr) - GRPC_CODES
        assert not bad_codes, f"{where}: not gRPC status codes: {bad_codes}"


@pytest.mark.parametrize(
    "needed", ["http_request_duration_seconds_bucket", "grpc_server_handled_total", "outbox_pending"]
)
def test_key_metrics_are_on_the_dashboard(needed: str) -> None:
    used = set().union(*(metric_names(expr) for _where, expr in expressions(load())))
    assert needed in used
