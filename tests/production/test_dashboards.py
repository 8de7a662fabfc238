"""The dashboards, scrape config and alert rules of deploy/, checked without Prometheus or Grafana.

Every PromQL expression (dashboard targets and alert rules) must name metrics the application
really serves at ``/metrics``, with labels those metrics carry; the provisioning files, the
Prometheus config and the compose file must point at each other and at files that exist.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import SECRET

from perfhub.app import create_app
from perfhub.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
PROVISIONING = DEPLOY / "grafana" / "provisioning"

METRIC = re.compile(r"\bperfhub_[a-z0-9_]+\b")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
SELECTOR = re.compile(r"(\b[a-zA-Z_:][a-zA-Z0-9_:]*)?\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")')
RANGE = re.compile(r"\[([^\]]*)\]")
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$|^\$__(rate_interval|interval|range)$")
# What a histogram, counter or gauge family puts on the wire, after prometheus_client's naming.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}
# Labels Prometheus adds to every scraped sample (prometheus.yml sets `stage`).
TARGET_LABELS = {"job", "instance", "stage"}
# The list: each must be charted on some dashboard.
CHARTED = {
    "perfhub_ingest_lag_seconds_bucket",
    "perfhub_ingest_lag_seconds_count",
    "perfhub_normalization_failures_total",
    "perfhub_dead_letters_total",
    "perfhub_forged_messages_total",
    "perfhub_consumer_pending",
    "perfhub_outbox_backlog",
    "perfhub_insights_coverage_ratio",
    "perfhub_insights_nights_arrived",
    "perfhub_events_processed_total",
}


@dataclass
class Served:
    """What ``/metrics`` serves: sample names with the labels each may carry, and bucket bounds."""

    labels: dict[str, set[str]] = field(default_factory=dict)
    buckets: dict[str, set[str]] = field(default_factory=dict)


def declared_labels() -> dict[str, set[str]]:
    """Label names of every metric perfhub's modules declare, by family name: a labelled metric
    serves no sample until a first label value is used, so a scrape alone cannot tell them."""
    declared: dict[str, set[str]] = {}
    for name, module in list(sys.modules.items()):
        if name != "perfhub" and not name.startswith("perfhub."):
            continue
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                for family in value.describe():
                    declared[family.name] = set(value._labelnames)
    return declared


@pytest.fixture(scope="module")
def served(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Served:
    directory = tmp_path_factory.mktemp("metrics")
    shutil.copy(sqlite_template, directory / "perfhub.db")
    settings = Settings(
        database_url=f"sqlite:///{directory / 'perfhub.db'}", var_dir=directory / "var", secret_key=SECRET
    )
    with TestClient(create_app(settings)) as client:
        # One answered request first: labelled histograms serve their buckets once observed.
        assert client.get("/healthz").status_code == 200
        response = client.get("/metrics")
    assert response.status_code == 200
    declared = declared_labels()
    result = Served()
    for family in text_string_to_metric_families(response.text):
        if not family.name.startswith("perfhub_"):
            continue
        labels = declared.get(family.name, set())
        for suffix in SUFFIXES.get(family.type, ("",)):
            result.labels.setdefault(family.name + suffix, set()).update(labels)
        for sample in family.samples:
            result.labels.setdefault(sample.name, set()).update(set(sample.labels) - {"le"})
            if sample.name.endswith("_bucket"):
                result.buckets.setdefault(sample.name, set()).add(sample.labels["le"])
                result.labels[sample.name].add("le")
    return result


def dashboard_queries(path: Path) -> Iterator[tuple[str, str, str]]:
    """(where, expr, legend) of every target of every panel, rows' panels included."""
    model = json.loads(path.read_text())
    for panel in panels(model):
        for target in panel.get("targets", []):
            where = f"{path.name} panel {panel['id']} ({panel['title']}) target {target.get('refId')}"
            yield where, target["expr"], target.get("legendFormat", "")


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in model["panels"]:
        yield panel
        yield from panel.get("panels", [])


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def alert_queries() -> Iterator[tuple[str, str, str]]:
    for rule in alert_rules():
        yield f"alerts.yml {rule['alert']}", rule["expr"], ""


def scrape_jobs() -> set[str]:
    return {job["job_name"] for job in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]}


def query_problems(expr: str, legend: str, served: Served) -> list[str]:
    """What in one expression does not match what the application serves."""
    problems: list[str] = []
    bare = STRING.sub('""', expr)  # label values may not be taken for metric or label names
    names = set(METRIC.findall(bare))
    selects_up = re.search(r"\bup\s*\{", bare) is not None
    if not names and not selects_up:
        problems.append("names no perfhub metric")
    for name in sorted(names - served.labels.keys()):
        problems.append(f"{name} is not served at /metrics")
    allowed = set(TARGET_LABELS)
    for name in names & served.labels.keys():
        allowed |= served.labels[name]
    used = {label.strip() for group in GROUPING.findall(bare) for label in group.split(",") if label.strip()}
    for metric_name, matchers in SELECTOR.findall(expr):
        for label, operator, value in MATCHER.findall(matchers):
            used.add(label)
            known = served.buckets.get(metric_name)
            if label == "le" and operator == "=" and known is not None and json.loads(value) not in known:
                problems.append(f'{metric_name} has no bucket le={value} (served: bucket bounds as "3600.0")')
            if label == "job":
                pattern = json.loads(value)
                jobs = scrape_jobs()
                if not any(re.fullmatch(pattern, job) if "~" in operator else job == pattern for job in jobs):
                    problems.append(f"job {value} matches no scrape job of prometheus.yml ({sorted(jobs)})")
    used |= set(re.findall(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}", legend))
    for label in sorted(used - allowed):
        problems.append(f"label {label!r} is carried by none of {sorted(names) or ['up']}")
    for opening, closing in ("()", "{}", "[]"):
        if bare.count(opening) != bare.count(closing):
            problems.append(f"unbalanced {opening}{closing}")
    for window in RANGE.findall(bare):
        if not DURATION.match(window.strip()):
            problems.append(f"range [{window}] is not a duration")
    return problems


@pytest.mark.parametrize("source", [*DASHBOARDS, ALERTS], ids=lambda path: path.name)
def test_every_query_names_metrics_and_labels_the_application_serves(source: Path, served: Served) -> None:
    queries = list(alert_queries() if source == ALERTS else dashboard_queries(source))
    assert queries
    problems = [
        f"{where}: {problem}\n    {expr.strip()}"
        for where, expr, legend in queries
        for problem in query_problems(expr, legend, served)
    ]
    assert not problems, "\n".join(problems)


def test_the_checker_catches_what_it_is_for(served: Served) -> None:
    # The checker itself, on expressions that must fail: a dashboard query is only as well
    # checked as this function is strict.
    assert query_problems("sum(rate(perfhub_ingest_lag_seconds_bucket[5m]))", "", served) == []
    assert "perfhub_ingest_lag_seconds is not served at /metrics" in query_problems(
        "rate(perfhub_ingest_lag_seconds[5m])", "", served
    )
    assert "perfhub_dead_letters is not served at /metrics" in query_problems(
        "perfhub_dead_letters", "", served
    )
    assert any(
        "'reason'" in p for p in query_problems("sum by (reason) (perfhub_dead_letters_total)", "", served)
    )
    assert any("'kind'" in p for p in query_problems("perfhub_consumer_pending", "{{kind}}", served))
    assert any("le=" in p for p in query_problems('perfhub_ingest_lag_seconds_bucket{le="3600"}', "", served))
    assert any("job" in p for p in query_problems('up{job="perfhub"} == 0', "", served))
    assert (
        query_problems('sum by (subject) (perfhub_dead_letters_total{subject="perfhub_x"})', "", served) == []
    )
    assert "names no perfhub metric" in query_problems("vector(1)", "", served)
    assert any("duration" in p for p in query_problems("rate(perfhub_dead_letters_total[5])", "", served))


def test_dashboards_chart_ingest_lag_failures_dead_letters_backlog_and_coverage() -> None:
    charted = {
        name for path in DASHBOARDS for _, expr, _ in dashboard_queries(path) for name in METRIC.findall(expr)
    }
    assert charted >= CHARTED, sorted(CHARTED - charted)
    quantiles = {
        float(q)
        for path in DASHBOARDS
        for _, expr, _ in dashboard_queries(path)
        for q in re.findall(
            r"histogram_quantile\(\s*([0-9.]+)\s*,\s*[^,]*perfhub_ingest_lag_seconds_bucket", expr
        )
    }
    assert quantiles >= {0.5, 0.95, 0.99}


def provisioned_datasource() -> dict[str, Any]:
    files = sorted((PROVISIONING / "datasources").glob("*.yaml"))
    assert files
    sources = [source for path in files for source in yaml.safe_load(path.read_text())["datasources"]]
    prometheus = [source for source in sources if source["type"] == "prometheus"]
    assert len(prometheus) == 1
    return prometheus[0]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_dashboard_is_a_grafana_model_on_the_provisioned_datasource(path: Path) -> None:
    model = json.loads(path.read_text())
    uid = provisioned_datasource()["uid"]
    assert model["uid"] and model["title"] and isinstance(model["schemaVersion"], int)
    ids = [panel["id"] for panel in panels(model)]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {ids}"
    occupied: dict[tuple[int, int], int] = {}
    for panel in panels(model):
        name = f"panel {panel['id']} ({panel.get('title')})"
        assert panel["title"] and panel["type"] in {"stat", "timeseries", "gauge", "bargauge", "table"}, name
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, name
        targets = panel["targets"]
        assert targets, name
        assert len({target["refId"] for target in targets}) == len(targets), name
        for target in targets:
            assert target["expr"].strip(), name
            assert target.get("datasource", panel["datasource"]) == panel["datasource"], name
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["unit"], name
        steps = defaults["thresholds"]["steps"]
        assert steps[0]["value"] is None, f"{name}: the first threshold step is the base (value null)"
        values = [step["value"] for step in steps[1:]]
        assert values == sorted(values) and all(isinstance(value, int | float) for value in values), name
        if defaults["unit"] == "percentunit":
            assert all(0 <= value <= 1 for value in values), f"{name}: a ratio's thresholds lie in 0..1"
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, name
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in occupied, f"{name} overlaps panel {occupied[(x, y)]}"
                occupied[x, y] = panel["id"]


def test_dashboard_uids_are_unique() -> None:
    assert len(DASHBOARDS) >= 1
    uids = [json.loads(path.read_text())["uid"] for path in DASHBOARDS]
    assert len(uids) == len(set(uids)), uids


def compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    return services


def mounted(service: str, container_path: str) -> Path:
    """The file of this checkout that compose mounts at ``container_path`` in ``service``."""
    target = PurePosixPath(container_path)
    for volume in compose()[service]["volumes"]:
        source, destination = volume.split(":")[:2]
        if source.startswith(".") and target.is_relative_to(destination):
            return DEPLOY / source / target.relative_to(destination)
    raise AssertionError(f"{service} mounts nothing at {container_path}")


def option(command: list[str], name: str) -> str | None:
    for index, word in enumerate(command):
        if word == name:
            return command[index + 1]
        if word.startswith(name + "="):
            return word.split("=", 1)[1]
    return None


def test_grafana_provisioning_points_at_what_compose_mounts() -> None:
    services = compose()
    grafana, prometheus = services["grafana"], services["prometheus"]
    assert grafana["image"].split(":")[0] == "grafana/grafana"
    assert prometheus["image"].split(":")[0] == "prom/prometheus"
    assert mounted("grafana", "/etc/grafana/provisioning") == PROVISIONING
    source = provisioned_datasource()
    url = re.fullmatch(r"http://([a-z0-9-]+):(\d+)/?", source["url"])
    assert url and url[1] == "prometheus" and url[1] in services
    listen = option(prometheus.get("command", []), "--web.listen-address") or ":9090"
    assert listen.rsplit(":", 1)[1] == url[2]
    providers = [
        provider
        for path in sorted((PROVISIONING / "dashboards").glob("*.yaml"))
        for provider in yaml.safe_load(path.read_text())["providers"]
    ]
    assert providers
    loaded: set[Path] = set()
    for provider in providers:
        assert provider["type"] == "file"
        directory = mounted("grafana", provider["options"]["path"])
        assert directory.is_dir()
        loaded |= set(directory.glob("*.json"))
    assert loaded == set(DASHBOARDS)
    home = grafana["environment"].get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    assert home is None or mounted("grafana", home) in DASHBOARDS


def metrics_port(service: dict[str, Any]) -> int:
    """The port a perfhub service serves /metrics on, reachable from other containers."""
    command = service["command"]
    if command[1] == "serve":
        assert option(command, "--host") == "0.0.0.0"
        return int(option(command, "--port") or 8000)
    # A worker's metrics listen on loopback unless told: Prometheus could not reach them.
    assert option(command, "--metrics-host") == "0.0.0.0", command
    port = option(command, "--metrics-port")
    assert port, command
    return int(port)


def test_prometheus_scrapes_every_perfhub_process_where_it_serves_metrics() -> None:
    services = compose()
    config = yaml.safe_load(PROMETHEUS.read_text())
    prometheus = services["prometheus"]
    assert mounted("prometheus", option(prometheus["command"], "--config.file") or "") == PROMETHEUS
    assert [mounted("prometheus", rule_file) for rule_file in config["rule_files"]] == [ALERTS]
    scraped: dict[str, int] = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics", job["job_name"]
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                scraped[host] = int(port)
        for discovery in job.get("dns_sd_configs", []):
            assert discovery["type"] == "A"
            for host in discovery["names"]:
                scraped[host] = int(discovery["port"])
    perfhub = {name: s for name, s in services.items() if s.get("image") == "perfhub:latest"}
    assert set(scraped) == set(perfhub), "every perfhub process, and nothing else, is scraped"
    for name, service in perfhub.items():
        assert scraped[name] == metrics_port(service), name


def test_alert_rules_are_complete() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), names
    assert {"PerfhubIngestLagP99High", "PerfhubInsightsCoverageLow", "PerfhubDeadLettersRising"} <= set(names)
    for rule in rules:
        assert rule["expr"].strip(), rule["alert"]
        assert re.fullmatch(r"(\d+(ms|s|m|h|d))+", str(rule["for"])), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
    by_name = {rule["alert"]: rule for rule in rules}
    lag = by_name["PerfhubIngestLagP99High"]
    assert "histogram_quantile(0.99" in lag["expr"] and re.search(r">\s*900\b", lag["expr"])
    coverage = by_name["PerfhubInsightsCoverageLow"]["expr"]
    assert re.search(r"<\s*0\.85\b", coverage)
    assert re.search(r"perfhub_insights_nights_arrived\)\s*>=\s*5", coverage)
    assert "hour()" not in coverage  # athletes' mornings are local: no one UTC hour
    assert re.search(r"\)\s*>\s*0\s*$", by_name["PerfhubDeadLettersRising"]["expr"].strip())
