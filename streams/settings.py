"""Settings of `ewe run` and `ewe worker`: defaults, then a YAML config file, then `EWE_*`
environment variables, then command-line flags; each later source overrides the earlier.

>>> settings = Settings.resolve(environ={"EWE_LATENESS": "5s", "EWE_PARTITIONS": "8"})
>>> settings.lateness_ms, settings.partitions
(5000, 8)
>>> Settings.resolve(environ={"EWE_PARTITIONS": "many"})
Traceback (most recent call last):
...
streams.settings.SettingsError: EWE_PARTITIONS: expected an integer, got 'many'
"""
from __future__ import annotations

import dataclasses
import os
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson
import yaml

from engine.durations import parse_duration

__all__ = ["Settings", "SettingsError"]


class SettingsError(ValueError):
    pass


@dataclass
class Settings:
    # Where Kafka is: None starts the embedded broker.
    broker: str | None = None
    # The one base URL: ingest, /metrics, /healthz (and later the center's API).
    http: str = "127.0.0.1:8080"
    data_dir: str = "ewe-data"
    rules: list[str] = field(default_factory=list)      # empty: the shipped rules/
    topic_prefix: str = "ewe."
    partitions: int = 4
    group: str = "ewe-worker"
    lateness: str = "2s"
    idle_after: str = "1s"
    # Readings and reports arrive on two topics; one that delivered nothing for this long, and
    # has nothing known on the way, stops holding the other's watermark back.
    input_idle: str = "200ms"
    max_future: str = "1h"
    checkpoint_every: str = "10s"
    batch_window: str = "20ms"
    # Accepted events not yet passed on (published to a cluster, or reflected in a checkpoint
    # on the embedded broker) beyond which the ingest answers 429.
    journal_limit_mb: int = 512
    # The largest record ewe produces (and what its producers allow): Kafka's default
    # `message.max.bytes` is about a megabyte. Batches of events are split below it.
    max_record_bytes: int = 1_000_000
    # The embedded broker lets go of nothing: past this much memory `ewe run` restarts in place.
    broker_limit_mb: int = 2048
    # Short: the embedded broker holds a group's first join for about half of it, and a
    # worker that restarts should be consuming again within seconds.
    rebalance_timeout: str = "4s"
    # How long a silent worker keeps its partitions before the group moves them on.
    session_timeout: str = "6s"
    mqtt: str | None = None                              # e.g. mqtt://127.0.0.1:1883
    mqtt_topics: list[str] = field(default_factory=lambda: ["ewe/events/#"])
    mqtt_client_id: str | None = None   # default: stable per data directory
    log_level: str = "warning"
    print_alerts: bool = False                           # one line per alert change on stdout
    demo: bool = False                                   # also turns print_alerts on
    demo_devices: int = 1000
    # The operations center: ledger, API, webhooks (on in `ewe run`).
    center: bool | None = None          # default: on for `ewe run`, off for `ewe worker`
    store: str | None = None            # default: sqlite://<data_dir>/center.db
    duty: str | None = None             # default: the shipped rules/duty.yaml
    external_url: str | None = None     # how people reach the API; default http://<http>
    webhooks: list[dict] = field(default_factory=list)   # [{name, url, format, secret, templates}]
    # The key rule packs are signed with; `ewe run` on the embedded broker keeps one in the
    # data dir, a cluster gives the same one to every worker and rule author.
    rules_key: str | None = None
    # POST /v1/events without a token: only on a network where every client is trusted.
    open_ingest: bool = False
    # The city's time zone (IANA name): the board shows every time in it.
    timezone: str = "Asia/Shanghai"

    @classmethod
    def resolve(cls, *, config_file: str | None = None, environ: Mapping[str, str] | None = None,
                flags: Mapping[str, Any] | None = None) -> Settings:
        settings = cls()
        environ = os.environ if environ is None else environ
        config_file = config_file or environ.get("EWE_CONFIG")
        if config_file:
            settings._apply_file(Path(config_file))
        for spec in fields(cls):
            name = f"EWE_{spec.name.upper()}"
            if name in environ:
                settings._set(spec, environ[name], name)
        for name, value in (flags or {}).items():
            if value is not None:
                setattr(settings, name, value)
        settings._validate()
        settings.print_alerts = settings.print_alerts or settings.demo
        return settings

    def _apply_file(self, path: Path) -> None:
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise SettingsError(f"{path}: {error}") from None
        if not isinstance(document, dict):
            raise SettingsError(f"{path}: expected a mapping of settings")
        known = {spec.name.replace("_", "-"): spec for spec in fields(self)}
        for key, value in document.items():
            spec = known.get(str(key).replace("_", "-"))
            if spec is None:
                raise SettingsError(f"{path}: unknown setting {key!r} "
                                    f"(known: {', '.join(sorted(known))})")
            self._set(spec, value, f"{path}: {key}")

    def _set(self, spec: dataclasses.Field, value: Any, where: str) -> None:
        kind = spec.type
        kind = "bool" if kind == "bool | None" else kind
        if isinstance(value, str) and kind in ("int", "bool", "list[str]"):
            value = _from_text(kind, value, where)
        if kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            raise SettingsError(f"{where}: expected an integer, got {value!r}")
        if kind == "bool" and not isinstance(value, bool):
            raise SettingsError(f"{where}: expected true or false, got {value!r}")
        if kind == "list[dict]":
            value = _webhooks(_json(value, where) if isinstance(value, str) else value, where)
        if kind == "list[str]":
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list):
                raise SettingsError(f"{where}: expected a list, got {value!r}")
            value = [str(item) for item in value]
        if kind in ("str", "str | None") and value is not None:
            value = str(value)
        setattr(self, spec.name, value)

    def _validate(self) -> None:
        for name in ("lateness", "idle_after", "input_idle", "max_future", "checkpoint_every",
                     "batch_window", "rebalance_timeout", "session_timeout"):
            try:
                parse_duration(getattr(self, name))
            except ValueError as error:
                raise SettingsError(f"{name}: {error}") from None
        if self.partitions < 1:
            raise SettingsError("partitions: must be at least 1")
        host, _, port = self.http.rpartition(":")
        if not host or not port.isdigit():
            raise SettingsError(f"http: expected HOST:PORT, got {self.http!r}")
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):
            raise SettingsError(f"timezone: {self.timezone!r} is not a time zone this machine "
                                "knows; an IANA name such as Asia/Shanghai") from None

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite://{Path(self.data_dir).resolve() / 'center.db'}"

    @property
    def base_url(self) -> str:
        return (self.external_url or f"http://{self.http}").rstrip("/")

    def ms(self, name: str) -> int:
        return parse_duration(getattr(self, name))

    @property
    def journal_limit_bytes(self) -> int:
        return self.journal_limit_mb * 1024 * 1024

    @property
    def lateness_ms(self) -> int:
        return self.ms("lateness")

    @property
    def http_host(self) -> str:
        return self.http.rpartition(":")[0]

    @property
    def http_port(self) -> int:
        return int(self.http.rpartition(":")[2])

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def _from_text(kind: str, value: str, where: str) -> Any:
    if kind == "int":
        try:
            return int(value)
        except ValueError:
            raise SettingsError(f"{where}: expected an integer, got {value!r}") from None
    if kind == "bool":
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise SettingsError(f"{where}: expected true or false, got {value!r}")
    return [item for item in value.split(",") if item]


def _webhooks(value: Any, where: str) -> list[dict]:
    if not isinstance(value, list):
        raise SettingsError(f"{where}: expected a list of webhooks")
    for index, hook in enumerate(value, 1):
        if not isinstance(hook, dict) or not {"name", "url"} <= set(hook):
            raise SettingsError(f"{where}: webhook {index} needs `name` and `url`")
        unknown = set(hook) - {"name", "url", "format", "secret", "templates"}
        if unknown:
            raise SettingsError(f"{where}: webhook {index}: unknown key(s) {sorted(unknown)}")
        if hook.get("format", "json") not in ("json", "alertmanager", "alertmanager-api",
                                              "reply"):
            raise SettingsError(f"{where}: webhook {index}: format is json, alertmanager, "
                                "alertmanager-api or reply")
        templates = hook.get("templates", {})
        if not isinstance(templates, dict) or not all(
                isinstance(text, str) and "{message}" in text for text in templates.values()):
            raise SettingsError(f"{where}: webhook {index}: templates map a language to a text "
                                "with {message} (and {name})")
    return value


def _json(text: str, where: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise SettingsError(f"{where}: expected JSON: {error}") from None
