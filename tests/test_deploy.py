"""What ships for running ewe: the Prometheus alerting rules pass promtool and their unit tests;
the rules and the Grafana dashboard query only metrics and labels that ewe exports."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry
from tools import needs

from center.metrics import CenterMetrics
from streams.metrics import PipelineMetrics, faust_monitor

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
RULES = DEPLOY / "prometheus" / "ewe-rules.yml"
DASHBOARD = DEPLOY / "grafana" / "ewe.json"
# Series Prometheus adds to every target, and the labels it adds.
SCRAPE_SERIES = {"up": set()}
SCRAPE_LABELS = {"job", "instance"}

needs_promtool = needs("promtool", "prometheus")


def exported() -> dict[str, set[str]]:
    """Every series name ewe's processes register, with its labels."""
    registries = [PipelineMetrics().registry, CenterMetrics().registry]
    faust = CollectorRegistry()
    faust_monitor(faust)
    names: dict[str, set[str]] = dict(SCRAPE_SERIES)
    for registry in (*registries, faust):
        for collector, series in registry._collector_to_names.items():
            labels = set(getattr(collector, "_labelnames", ()))
            for name in series:
                names[name] = labels | ({"le"} if name.endswith("_bucket") else set())
    return names


def expressions() -> list[str]:
    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return ([target["expr"] for panel in board["panels"] for target in panel["targets"]]
            + [rule["expr"] for group in rules["groups"] for rule in group["rules"]])


@needs_promtool
def test_the_alerting_rules_pass_promtool_check_rules():
    check = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


@needs_promtool
def test_the_alerting_rules_pass_their_promtool_unit_tests():
    check = subprocess.run(["promtool", "test", "rules", "ewe-rules.test.yml"],
                           cwd=RULES.parent, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_dashboard_and_the_rules_query_only_metrics_ewe_exports():
    names = exported()
    used = {name for expr in expressions()
            for name in re.findall(r"\b((?:ewe|faust)_[a-z0-9_]+|up)\b", expr)}
    assert used - set(names) == set()
    assert {"ewe_consumer_lag_records", "ewe_center_alerts", "ewe_dead_letters_total",
            "ewe_event_to_alert_latency_seconds_bucket"} <= used


def test_the_dashboard_and_the_rules_name_only_labels_their_metrics_have():
    names = exported()
    for expr in expressions():
        metrics = set(re.findall(r"\b((?:ewe|faust)_[a-z0-9_]+|up)\b", expr))
        labels = set().union(*(names[name] for name in metrics)) | SCRAPE_LABELS
        for name, matchers in re.findall(r"\b((?:ewe|faust)_[a-z0-9_]+|up)\{([^}]*)\}", expr):
            assert set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers)) <= \
                names[name] | SCRAPE_LABELS, expr
        for grouping in re.findall(r"\bby \(([^)]*)\)", expr):
            assert {label.strip() for label in grouping.split(",")} <= labels, expr


def test_the_dashboard_covers_what_operators_watch():
    titles = {panel["title"] for panel in json.loads(DASHBOARD.read_text())["panels"]}
    assert {"Events ingested by source", "Consumer lag", "Rule firings (top 10, last hour)",
            "Rules quarantined", "Open alerts by severity", "Alerts by chain state",
            "SLA deadlines missed", "Event to alert latency", "Dead letters by reason"} <= titles


# -- deploy/compose.yaml ---------------------------------------------------------------------------
COMPOSE = DEPLOY / "compose.yaml"


def compose() -> dict:
    text = re.sub(r"\$\{(\w+)(?::[?-][^}]*)?\}", "from-the-environment", COMPOSE.read_text())
    return yaml.safe_load(text)


def ewe_services() -> dict[str, dict]:
    return {name: service for name, service in compose()["services"].items()
            if service["image"].startswith("ewe:")}


def test_compose_services_name_images_services_and_volumes_that_exist():
    document = compose()
    services, volumes = document["services"], set(document["volumes"])
    for name, service in services.items():
        assert service.get("image"), name
        assert set(service.get("depends_on", [])) <= set(services), name
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in volumes, (name, source)
    assert {"kafka-1", "kafka-2", "kafka-3", "postgres", "mosquitto", "prometheus",
            "alertmanager", "grafana"} <= set(services)
    assert len(ewe_services()) >= 3


def test_compose_conforms_to_the_compose_specification():
    from jsonschema import Draft7Validator

    schema = json.loads((Path(__file__).parent / "testdata/compose-spec/compose-spec.json")
                        .read_text())
    errors = [f"{'/'.join(map(str, error.path))}: {error.message}"
              for error in Draft7Validator(schema).iter_errors(compose())]
    assert errors == []


def test_every_ewe_command_in_compose_is_one_ewes_command_line_takes():
    from ewe.cli import _parser

    for name, service in ewe_services().items():
        args = _parser().parse_args([str(part) for part in service["command"]])
        assert hasattr(args, "run"), name


def test_every_ewe_variable_in_compose_is_a_setting_and_its_value_is_valid():
    from dataclasses import fields

    from streams.settings import Settings

    known = {f"EWE_{spec.name.upper()}" for spec in fields(Settings)} | {
        "EWE_CONFIG", "EWE_HEALTH_URL"}
    for name, service in ewe_services().items():
        environment = {key: str(value) for key, value in service["environment"].items()}
        assert set(environment) <= known, (name, set(environment) - known)
        settings = Settings.resolve(environ=environment)
        assert settings.webhooks[0]["format"] == "alertmanager-api"


@needs_promtool
def test_the_compose_prometheus_config_passes_promtool():
    check = subprocess.run(["promtool", "check", "config", "prometheus.yml"],
                           cwd=DEPLOY / "prometheus", capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def http_port(service: dict) -> str:
    command = [str(part) for part in service["command"]]
    return command[command.index("--http") + 1].rpartition(":")[2]


def test_ewe_services_share_one_data_directory_each_with_its_own_journal():
    # A rebalance hands a partition over through its checkpoint in the shared directory; the
    # ingest journal there is named after the HTTP port, so two processes must not share one.
    services = ewe_services()
    assert all(service["volumes"] == ["ewe-data:/var/lib/ewe"] for service in services.values())
    ports = [http_port(service) for service in services.values()]
    assert len(set(ports)) == len(ports)


def test_each_ewe_services_health_check_asks_its_own_port():
    from urllib.parse import urlsplit

    for name, service in ewe_services().items():
        url = urlsplit(service["environment"].get("EWE_HEALTH_URL", "http://127.0.0.1:8080"))
        assert str(url.port) == http_port(service), name


def test_prometheus_scrapes_every_ewe_service_of_compose_on_its_port():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {target for job in config["scrape_configs"] if job["job_name"].startswith("ewe-")
               for static in job["static_configs"] for target in static["targets"]}
    assert targets == {f"{name}:{http_port(service)}"
                       for name, service in ewe_services().items()}


@needs("amtool", "prometheus-alertmanager")
def test_the_compose_alertmanager_config_passes_amtool():
    check = subprocess.run(["amtool", "check-config", "alertmanager.yml"],
                           cwd=DEPLOY / "alertmanager", capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_grafana_is_provisioned_with_prometheus_and_ewes_dashboard():
    grafana = compose()["services"]["grafana"]
    mounts = dict(mount.split(":")[:2] for mount in grafana["volumes"])
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/ewe.yml").read_text())
    assert mounts["./grafana/ewe.json"].startswith(provider["providers"][0]["options"]["path"])
    source = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
