"""Structure of the Grafana dashboards and provisioning files: unique uids, one schemaVersion,
the datasource variable on every panel and target, a query on every panel, and only metric
names that stream/metrics.py declares."""

from __future__ import annotations

import yaml

from tests.support.dashboards import load_dashboards, metric_names, panel_queries, to_promql
from tests.support.grafana_names import exposed_names
from tests.support.metrics_exporter import declared_metrics
from tests.support.paths import REPO

GRAFANA = REPO / "grafana"
DS_UID = "cursorprint-prometheus"
DS_REF = {"type": "prometheus", "uid": "${datasource}"}
DASHBOARDS = load_dashboards()


def test_the_two_dashboards_exist() -> None:
    assert {"overview.json", "model.json"} <= set(DASHBOARDS)


def test_unique_uids_and_one_schema_version() -> None:
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(uids) == len(set(uids)) and all(uids)
    assert len({d["schemaVersion"] for d in DASHBOARDS.values()}) == 1
    titles = [d["title"] for d in DASHBOARDS.values()]
    assert len(titles) == len(set(titles))


def test_datasource_variable() -> None:
    for name, d in DASHBOARDS.items():
        variables = {v["name"]: v for v in d["templating"]["list"]}
        ds = variables.get("datasource")
        assert ds and ds["type"] == "datasource" and ds["query"] == "prometheus", name
        for var in variables.values():
            if var["type"] == "query":
                assert var["datasource"] == DS_REF, f"{name}: variable {var['name']}"


def test_every_panel_uses_the_variable_and_has_a_query() -> None:
    for name, d in DASHBOARDS.items():
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in d["panels"]:
            where = f"{name} / {panel['title']}"
            assert panel["datasource"] == DS_REF, where
            assert panel["targets"], f"{where}: no query"
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), f"{where}: duplicate refIds"
            for target in panel["targets"]:
                assert target["datasource"] == DS_REF, where
                assert target["expr"].strip(), where
                to_promql(target["expr"])  # no unknown template variable


def test_only_declared_metrics_are_queried() -> None:
    exposed = exposed_names()
    used: set[str] = set()
    for name, d in DASHBOARDS.items():
        for q in panel_queries(name, d):
            names = metric_names(q.expr)
            assert names, f"{q.dashboard} / {q.panel}: queries no cursorprint_ metric"
            unknown = names - exposed
            assert not unknown, f"{q.dashboard} / {q.panel}: unknown series {unknown}"
            used |= names
    never = {m._name for m in declared_metrics()
             if not any(u.startswith(m._name) for u in used)}
    assert not never, f"metrics no dashboard shows: {never}"


def test_panels_fit_the_grid() -> None:
    for name, d in DASHBOARDS.items():
        for p in d["panels"]:
            g = p["gridPos"]
            assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, f"{name}: {p['title']}"


def test_provisioning() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())
    assert ds["apiVersion"] == 1
    (source,) = ds["datasources"]
    assert source["uid"] == DS_UID and source["type"] == "prometheus"
    prov = yaml.safe_load((GRAFANA / "provisioning/dashboards/cursorprint.yaml").read_text())
    (provider,) = prov["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    for d in DASHBOARDS.values():
        current = next(v for v in d["templating"]["list"] if v["name"] == "datasource")
        assert current["current"]["value"] == DS_UID
