"""`ewe`: check, test and replay rules; simulate a city; score a series for anomalies; try
the report classifier.

The command only wires things together: every decision is made in `engine/`.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson

from engine.anomaly import DETECTORS, make_detector
from engine.backtest import score
from engine.durations import parse_duration
from engine.duty import load_duty_file
from engine.evaluator import Evaluator
from engine.events import EventError, format_timestamp, parse_timestamp
from engine.pack import Pack
from engine.rulefile import RuleFileError, rule_files
from engine.ruletest import run_file
from engine.simulation import DEFAULT_START_MS, simulate
from engine.timestamps import format_local
from engine.tuning import tune_gc
from ewe.classify import add_parser as add_classify_parser
from ewe.clock import wall_ms
from ewe.detect import parse_params, score_csv
from ewe.replay import ReplayCounts, replay
from ewe.shipped import SHIPPED_RULES


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except BrokenPipeError:
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ewe", description="Event-driven early warnings for "
                                     "city and community operations centers.")
    parser.add_argument("--version", action="version", version=f"ewe {_version()}")
    commands = parser.add_subparsers(title="commands")

    rules = commands.add_parser("rules", help="check and unit-test rule files")
    rules.set_defaults(run=lambda _: rules.print_help(sys.stderr) or 2)
    rule_commands = rules.add_subparsers(title="rule commands")
    check = rule_commands.add_parser("check", help="validate rule files; errors as FILE:LINE")
    check.add_argument("paths", nargs="+", metavar="PATH", help="rule files or directories")
    check.set_defaults(run=_rules_check)
    test = rule_commands.add_parser("test", help="run rule unit tests (*.test.yaml)")
    test.add_argument("files", nargs="+", metavar="FILE", help="test files or directories")
    test.set_defaults(run=_rules_test)
    push = rule_commands.add_parser("push", help="validate a pack and publish it to the workers")
    push.add_argument("paths", nargs="+", metavar="PATH", help="rule files or directories")
    push.add_argument("--broker", metavar="kafka://HOST:PORT", default=os.environ.get(
        "EWE_BROKER"), help="the cluster the workers read (default: $EWE_BROKER)")
    push.add_argument("--topic-prefix", default=os.environ.get("EWE_TOPIC_PREFIX", "ewe."))
    push.add_argument("--at", type=_timestamp("--at"), metavar="TIME",
                      help="event time from which the pack applies (default: now + 5s)")
    push.add_argument("--key-file", type=Path, metavar="FILE",
                      help="the cluster's rules key (default: $EWE_RULES_KEY, else "
                           "DATA_DIR/rules.key of `ewe run`)")
    push.add_argument("--data-dir", default="ewe-data", metavar="DIR",
                      help="the data dir of the `ewe run` to push to (default ./ewe-data)")
    push.set_defaults(run=_rules_push)

    replay = commands.add_parser(
        "replay", help="evaluate a JSON-lines file of events",
        description="Evaluate a file of events, in event time, with the same engine as the "
                    "live service, and write each alert change as a JSON line: the same events "
                    "give the same alerts, live or replayed. Rejected lines are counted and "
                    "reported on stderr.")
    replay.add_argument("events", metavar="EVENTS.jsonl", help="events, one JSON object a line "
                        "(- for standard input)")
    replay.add_argument("--rules", nargs="+", default=[str(SHIPPED_RULES)], metavar="PATH",
                        help="rule files or directories (default: the shipped rules/)")
    replay.add_argument("--out", metavar="FILE", help="write alert records here, not stdout")
    replay.add_argument("--truth", metavar="FILE", help="score the alerts against incidents")
    replay.add_argument("--lateness", default="2m", type=_duration,
                        help="how far out of order events may arrive (default 2m)")
    replay.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                        help="progress bar on stderr (auto: on a terminal, for big inputs)")
    replay.set_defaults(run=_replay)

    detect = commands.add_parser("detect", help="score a CSV series (timestamp,value) with an "
                                 "anomaly detector")
    detect.add_argument("--detector", required=True, metavar="NAME",
                        help=f"one of {', '.join(sorted(DETECTORS))}")
    detect.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a detector parameter, e.g. fading_factor=0.02 (repeatable)")
    detect.add_argument("input", metavar="IN.csv")
    detect.add_argument("--out", required=True, metavar="OUT.csv",
                        help="timestamp,value,anomaly_score; each score given before learning")
    detect.set_defaults(run=_detect)

    for name, summary in (("run", "start everything: the embedded broker (unless --broker), a "
                                  "worker, the HTTP ingest, the operations center and its API, "
                                  "/metrics"),
                          ("worker", "run one worker against an existing Kafka cluster")):
        serve = commands.add_parser(name, help=summary, description=summary + ". Settings "
                                    "come from defaults, then --config (or $EWE_CONFIG), then "
                                    "EWE_* variables, then these flags; see docs/operations.md.")
        serve.add_argument("--config", metavar="FILE", help="YAML settings file")
        serve.add_argument("--broker", required=name == "worker" and not os.environ.get(
            "EWE_BROKER"), metavar="kafka://HOST:PORT",
            help="an existing Kafka cluster" + (" (default: start the embedded broker)"
                                                 if name == "run" else ""))
        serve.add_argument("--rules", nargs="+", metavar="PATH",
                           help="rule files or directories (default: the shipped rules/)")
        serve.add_argument("--http", metavar="HOST:PORT", help="base URL's address "
                           "(default 127.0.0.1:8080)")
        serve.add_argument("--data-dir", metavar="DIR", help="checkpoints (default ./ewe-data)")
        serve.add_argument("--lateness", metavar="DURATION",
                           help="how far out of order events may arrive (default 2s)")
        serve.add_argument("--partitions", type=int, help="partitions of the input topics")
        serve.add_argument("--mqtt", metavar="mqtt://HOST:PORT", help="bridge an MQTT broker")
        serve.add_argument("--mqtt-topic", dest="mqtt_topics", action="append",
                           metavar="PATTERN", help="MQTT topic pattern (default ewe/events/#)")
        serve.add_argument("--store", metavar="URL", help="the center's ledger: "
                           "postgresql://… or sqlite://PATH (default DATA_DIR/center.db)")
        serve.add_argument("--duty", metavar="FILE", help="duty list (default rules/duty.yaml)")
        serve.add_argument("--open-ingest", action="store_true", default=None,
                           help="take events over HTTP without a token (a trusted network "
                                "only; by default POST /v1/events needs an ingest token)")
        if name == "run":
            serve.add_argument("--no-center", dest="center", action="store_false",
                               default=None, help="run without the operations center")
            serve.add_argument("--demo", action="store_true", default=None,
                               help="also feed a simulated city, live")
        else:
            serve.add_argument("--center", dest="center", action="store_true", default=None,
                               help="also run the operations center (ledger and API)")
        serve.set_defaults(run=_serve, run_name=name)

    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(title="token commands", required=True)
    create = token_commands.add_parser("create", help="create an API token and print it once")
    create.add_argument("--role", required=True,
                        choices=["viewer", "operator", "rule_author", "admin", "ingest"])
    create.add_argument("--name", help="who or what uses it (default: the role)")
    create.add_argument("--expires", type=_duration, metavar="DURATION",
                        help="valid for this long, e.g. 12h or 30d (default: until revoked)")
    create.add_argument("--scope", type=_scope, metavar="LEVEL=NAME",
                        help="only this area's alerts, e.g. district=渝中区 (a district, street "
                             "or community; viewer, operator and rule_author tokens)")
    listing = token_commands.add_parser("list", help="list tokens (ids, holders, roles)")
    revoke = token_commands.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", help="the token's id (tok-...), as `ewe token list` shows it")
    center = commands.add_parser("center", help="look after the operations center's ledger")
    center_commands = center.add_subparsers(title="center commands", required=True)
    archive = center_commands.add_parser(
        "archive", help="move finished alerts out of the ledger into a JSON-lines file")
    archive.add_argument("--before", required=True, type=_timestamp("--before"), metavar="TIME",
                         help="alerts whose chain ended before this time (ISO 8601)")
    archive.add_argument("--out", required=True, type=Path, metavar="FILE",
                         help="the archive to write (refused if it exists)")
    archive.add_argument("--with-contacts", action="store_true",
                         help="also write the reporters' contact details and original texts "
                              "(personal data: left out unless asked for)")
    backup = center_commands.add_parser(
        "backup", help="copy a SQLite ledger, consistent, while ewe runs (PostgreSQL: pg_dump)")
    backup.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="the copy to write (refused if it exists)")
    migrate = center_commands.add_parser(
        "migrate", help="bring the ledger's schema up to this ewe's, and print its version")
    for command, run in ((create, _create_token), (listing, _list_tokens),
                         (revoke, _revoke_token), (archive, _archive), (backup, _backup),
                         (migrate, _migrate)):
        command.add_argument("--config", metavar="FILE", help="YAML settings file")
        command.add_argument("--data-dir", metavar="DIR",
                             help="where `ewe run` keeps its ledger")
        command.add_argument("--store", metavar="URL",
                             help="the ledger (default DATA_DIR/center.db)")
        command.set_defaults(run=run)

    sim = commands.add_parser(
        "simulate", help="generate a deterministic city's events and truth",
        description="Generate a simulated city (districts, grids, buildings and their "
                    "devices) and its events: readings, resident reports and injected incidents "
                    "(floods, fires, gas leaks, trapped lifts, residents who stop using water). "
                    "The same seed gives the same file; --truth writes the incidents, for "
                    "`ewe replay --truth` to score against.")
    sim.add_argument("--seed", type=int, default=1, help="the random seed (default 1)")
    sim.add_argument("--duration", type=_duration, default="6h",
                     help="how much event time, e.g. 6h, 1d, 2d (default 6h)")
    sim.add_argument("--devices", type=int, default=500,
                     help="devices in the city, about four a building (default 500)")
    sim.add_argument("--start", type=_timestamp("--start"), default=DEFAULT_START_MS,
                     help="ISO 8601 start (default 2026-07-01T00:00:00+08:00)")
    sim.add_argument("--out", required=True, metavar="FILE", help="events, JSON lines")
    sim.add_argument("--truth", metavar="FILE", help="injected incidents, JSON lines")
    sim.set_defaults(run=_simulate)
    add_classify_parser(commands, SHIPPED_RULES)
    health = commands.add_parser(
        "health", help="exit 0 if a running ewe answers its /healthz (a container's health check)")
    health.add_argument("url", nargs="?", default=os.environ.get(
        "EWE_HEALTH_URL", "http://127.0.0.1:8080/healthz"),
                        help="default $EWE_HEALTH_URL, else http://127.0.0.1:8080/healthz")
    health.set_defaults(run=_health)
    return parser


def _version() -> str:
    try:
        return metadata.version("ewe")
    except metadata.PackageNotFoundError:   # a checkout run without installing
        return "unknown"


def _health(args: argparse.Namespace) -> int:
    try:
        response = httpx.get(args.url, timeout=5)
    except httpx.HTTPError as error:
        print(f"ewe health: {args.url}: {error}", file=sys.stderr)
        return 1
    if response.status_code != 200:
        print(f"ewe health: {args.url}: HTTP {response.status_code} {response.text[:200]}",
              file=sys.stderr)
        return 1
    return 0


def _duration(text: str) -> int:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _scope(text: str) -> tuple[str, str]:
    level, _, name = text.partition("=")
    if not name:
        raise argparse.ArgumentTypeError(f"expected LEVEL=NAME, e.g. district=渝中区, not {text!r}")
    return level, name


def _timestamp(flag: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            return parse_timestamp(text, flag)
        except EventError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return parse


# -- rules ---------------------------------------------------------------------------------------
def _print_errors(error: RuleFileError) -> None:
    for problem in error.errors:
        print(problem, file=sys.stderr)


def _rules_check(args: argparse.Namespace) -> int:
    """Rule files as a pack, and any duty list (`duty.yaml`) among the paths on its own."""
    paths = [Path(path) for path in args.paths]
    duty_files = [path for path in paths if path.is_file() and path.stem == "duty"]
    duty_files += [found for path in paths if path.is_dir() for found in sorted(
        path.rglob("duty.y*ml")) if "tests" not in found.parts]
    rule_paths = [path for path in paths if path not in duty_files]
    errors: list = []
    pack = None
    try:
        if rule_paths or not duty_files:
            pack = Pack.load(rule_paths)
    except RuleFileError as error:
        errors += error.errors
    for path in duty_files:
        try:
            load_duty_file(path)
        except RuleFileError as error:
            errors += error.errors
    if errors:
        _print_errors(RuleFileError(errors))
        print(f"{len(errors)} error{'s' if len(errors) != 1 else ''}", file=sys.stderr)
        return 1
    files = rule_files(rule_paths) if pack is not None else []
    print(f"ok: {len(pack) if pack else 0} rules in {len(files)} file"
          f"{'s' if len(files) != 1 else ''}"
          + (f"; duty list {', '.join(map(str, duty_files))}" if duty_files else ""))
    return 0


def _rules_test(args: argparse.Namespace) -> int:
    files: list[Path] = []
    for name in map(Path, args.files):
        files.extend(sorted(name.rglob("*.test.yaml")) if name.is_dir() else [name])
    if not files:
        print("no test files found", file=sys.stderr)
        return 1
    passed = failed = 0
    for file in files:
        try:
            results = run_file(file)
        except RuleFileError as error:
            _print_errors(error)
            failed += 1
            continue
        for result in results:
            if result.passed:
                passed += 1
                continue
            failed += 1
            print(f"FAILED {result.file}:{result.line}: {result.name}")
            for line in result.diff:
                print(f"    {line}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


# -- replay --------------------------------------------------------------------------------------
def _replay(args: argparse.Namespace) -> int:
    if args.rules == [str(SHIPPED_RULES)] and not SHIPPED_RULES.is_dir():
        print(f"ewe replay: the shipped rules are not at {SHIPPED_RULES} (a checkout has them "
              "in rules/, an installed ewe in <prefix>/share/ewe/rules); name a pack with "
              "--rules PATH", file=sys.stderr)
        return 1
    try:
        pack = Pack.load(args.rules)
    except RuleFileError as error:
        _print_errors(error)
        return 1
    evaluator = Evaluator(pack, lateness_ms=args.lateness)
    tune_gc()
    source = sys.stdin.buffer if args.events == "-" else open(args.events, "rb")
    out = open(args.out, "wb") if args.out else sys.stdout.buffer
    severities: Counter[tuple[str, str]] = Counter()
    kept: list[dict] | None = [] if args.truth else None
    progress = _Progress(source, args.progress)
    started = time.perf_counter()
    try:
        counts = replay(source, evaluator, lambda alerts: _write(out, alerts, severities, kept),
                        progress.update)
    finally:
        progress.close()
        if args.out:
            out.close()
        else:
            out.flush()
        if source is not sys.stdin.buffer:
            source.close()
    elapsed = time.perf_counter() - started
    _summary(counts, evaluator, severities, elapsed, args.lateness)
    if args.truth:
        truth = [orjson.loads(line) for line in Path(args.truth).read_bytes().splitlines()
                 if line.strip()]
        for line in score(kept, truth).lines():
            print(line, file=sys.stderr)
    return 0


def _write(out: BinaryIO, alerts: list[dict], severities: Counter, keep: list | None) -> None:
    if not alerts:
        return
    out.write(b"".join(orjson.dumps(alert) + b"\n" for alert in alerts))
    for alert in alerts:
        if alert["change"] == "fired":
            severities[alert["rule"], alert["severity"]] += 1
    if keep is not None:
        keep.extend(alerts)


def _summary(counts: ReplayCounts, evaluator: Evaluator, severities: Counter, elapsed: float,
             lateness: int) -> None:
    def say(text: str = "") -> None:
        print(text, file=sys.stderr)

    stats = evaluator.stats()
    rejected = counts.rejected
    say(f"events read {counts.lines}, rejected {sum(rejected.values())}, late {stats['late']} "
        f"(older than the {lateness // 1000}s lateness), duplicates {stats['duplicates']} "
        f"(time and id seen before), evaluated {stats['events']} "
        f"in {elapsed:.2f}s ({counts.lines / elapsed if elapsed else 0:,.0f} events/s)")
    for reason in counts.first_rejects:
        say(f"  rejected {reason}")
    if rejected:
        say("  rejected by field: " + ", ".join(f"{f} {n}" for f, n in rejected.most_common()))
    for held in evaluator.quarantined.values():
        at = format_timestamp(held.at) if held.at is not None else "?"
        say(f"quarantined: {held.id} failed at event time {at} and evaluated nothing after: "
            f"{held.reason}")
    levels = ("blue", "yellow", "orange", "red")
    rules = sorted({rule for rule, _ in severities})
    say(f"alerts fired: {sum(severities.values())}")
    if rules:
        width = max(len(rule) for rule in rules) + 2
        say(f"  {'rule':<{width}}" + "".join(f"{level:>8}" for level in levels))
        for rule in rules:
            say(f"  {rule:<{width}}" + "".join(f"{severities[rule, level] or '':>8}"
                                               for level in levels))


class _Progress:
    """A one-line progress bar on a terminal, for inputs over 50 MB."""

    def __init__(self, source: BinaryIO, mode: str) -> None:
        self.source = source
        try:
            self.total = os.fstat(source.fileno()).st_size
        except (OSError, ValueError):
            self.total = 0
        self.enabled = self.total > 0 and (mode == "always" or (
            mode == "auto" and sys.stderr.isatty() and self.total > 50_000_000))
        self.shown = -1

    def update(self) -> None:
        if not self.enabled:
            return
        done = self.source.tell() / self.total
        percent = int(done * 100)
        if percent != self.shown:
            self.shown = percent
            bar = "#" * (percent // 4)
            print(f"\r[{bar:<25}] {percent:3d}%", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


# -- detect --------------------------------------------------------------------------------------
def _detect(args: argparse.Namespace) -> int:
    try:
        detector = make_detector(args.detector, **parse_params(args.param))
        with open(args.input, newline="") as source, open(args.out, "w", newline="") as out:
            rows = score_csv(detector, source, out)
    except (ValueError, OSError) as error:
        print(f"ewe detect: {error}", file=sys.stderr)
        return 1
    print(f"{rows} rows scored by {detector!r}", file=sys.stderr)
    return 0


# -- simulate ------------------------------------------------------------------------------------
def _simulate(args: argparse.Namespace) -> int:
    run = simulate(seed=args.seed, duration_ms=args.duration, devices=args.devices,
                   start_ms=args.start)
    count = 0
    with open(args.out, "wb") as out:
        buffer = []
        for event in run.events:
            buffer.append(orjson.dumps(event))
            count += 1
            if len(buffer) >= 8192:
                out.write(b"\n".join(buffer) + b"\n")
                buffer = []
        if buffer:
            out.write(b"\n".join(buffer) + b"\n")
    if args.truth:
        with open(args.truth, "wb") as out:
            out.write(b"".join(orjson.dumps(item) + b"\n" for item in run.truth))
    kinds = Counter(item["type"] for item in run.truth)
    print(f"{count} events from {len(run.city.devices)} devices; {len(run.truth)} incidents"
          + (": " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())) if kinds
             else ""), file=sys.stderr)
    return 0


# -- service -------------------------------------------------------------------------------------
def _private_files() -> None:
    """Files this process creates (ledger, WAL, checkpoints, keys) are its owner's alone: the
    ledger holds residents' contact details."""
    os.umask(0o077)


def _serve(args: argparse.Namespace) -> int:
    _private_files()
    from center.store import StoreError, open_store
    from ewe.center import attach_center, closed_ingest, contact_keeper, ingest_guard, open_center
    from streams.runtime import serve
    from streams.settings import Settings, SettingsError
    flags = {name: getattr(args, name, None) for name in (
        "broker", "rules", "http", "data_dir", "lateness", "partitions", "mqtt", "mqtt_topics",
        "demo", "store", "duty", "center", "open_ingest")}
    try:
        settings = Settings.resolve(config_file=args.config, flags=flags)
        if settings.center is None:    # workers scale out alone; the center runs once
            settings.center = args.run_name == "run"
        pack = Pack.load(settings.rules or [str(SHIPPED_RULES)])
        attach = keep_contacts = None
        guard = closed_ingest
        if settings.center:
            store, duty = open_center(settings)
            attach = attach_center(settings, store, duty, pack.reading.categories)
            keep_contacts = contact_keeper(store)
            guard = ingest_guard(store)
        elif settings.store:    # a worker's ingest uses the cluster's ledger
            store = open_store(settings.store_url)
            keep_contacts, guard = contact_keeper(store), ingest_guard(store)
        if settings.open_ingest:
            guard = None
    except (SettingsError, StoreError) as error:
        print(f"ewe: {error}", file=sys.stderr)
        return 2
    except RuleFileError as error:
        _print_errors(error)
        return 1
    return serve(settings, pack, clock=wall_ms, attach=attach, keep_contacts=keep_contacts,
                 guard=guard)


def _with_ledger(args: argparse.Namespace, work: Callable[[Any, Any], int], *,
                 create: bool = False) -> int:
    """Run `work(store, settings)` on the ledger that the settings name; exit 2 when it cannot
    be opened. A SQLite ledger must exist, unless `create` (then its directory must): a command
    run from the wrong directory says so rather than answering from an empty ledger."""
    _private_files()
    from center.store import StoreError, open_store
    from streams.settings import Settings, SettingsError
    try:
        settings = Settings.resolve(config_file=args.config,
                                    flags={"data_dir": args.data_dir, "store": args.store})
        ledger = settings.store_url.removeprefix("sqlite://")
        if ledger != settings.store_url and not (
                Path(ledger).parent.is_dir() if create else Path(ledger).is_file()):
            print(f"ewe: no ledger at {ledger}: `ewe run` creates it in its --data-dir "
                  "(default ./ewe-data); name it with --data-dir DIR or --store URL",
                  file=sys.stderr)
            return 2
        store = open_store(settings.store_url)
    except (SettingsError, StoreError) as error:
        print(f"ewe: {error}", file=sys.stderr)
        return 2
    try:
        return work(store, settings)
    finally:
        store.close()


def _create_token(args: argparse.Namespace) -> int:
    from center.auth import create_token

    def create(store: Any, _: Any) -> int:
        now = wall_ms()
        try:
            print(create_token(store, role=args.role, name=args.name or args.role, now=now,
                               expires_at=now + args.expires if args.expires else None,
                               scope=args.scope))
        except ValueError as error:
            print(f"ewe: {error}", file=sys.stderr)
            return 2
        return 0
    return _with_ledger(args, create, create=True)


def _list_tokens(args: argparse.Namespace) -> int:
    from center.auth import list_tokens

    def show(store: Any, settings: Any) -> int:
        def local(ms: int) -> str:
            return format_local(ms, settings.timezone)

        for row in list_tokens(store):
            ending = "  ".join(f"{word} {local(row[column])}" for word, column in
                               (("expires", "expires_at"), ("revoked", "revoked_at"))
                               if row[column] is not None)
            area = "  ".join(f"{level}={name}" for level, name in (row["scope"] or {}).items())
            print(f"{row['id']}  {row['role']:<11} {row['name']:<24} "
                  f"created {local(row['created_at'])}  {area or 'city'}  {ending}".rstrip())
        return 0
    return _with_ledger(args, show)


def _archive(args: argparse.Namespace) -> int:
    from center.ledger import Ledger
    from ewe.center import duty_list

    def archive(store: Any, settings: Any) -> int:
        try:
            duty = duty_list(settings)      # it gives the archived views their SLA
            out = open(args.out, "xb")
        except RuleFileError as error:
            print(f"ewe: {error}", file=sys.stderr)
            return 2
        except OSError as error:
            print(f"ewe: {args.out}: {error.strerror}", file=sys.stderr)
            return 2

        def keep(alerts: list[dict]) -> None:
            out.write(b"".join(orjson.dumps(alert) + b"\n" for alert in alerts))
            out.flush()
            os.fsync(out.fileno())      # on disk before the ledger lets them go

        with out:
            count = Ledger(store, duty, clock=wall_ms).archive(
                args.before, keep, contacts=args.with_contacts)
        print(f"archived {count} alerts whose chain ended before "
              f"{format_local(args.before, settings.timezone)} to {args.out}", file=sys.stderr)
        return 0
    return _with_ledger(args, archive)


def _backup(args: argparse.Namespace) -> int:
    from center.store import SqliteStore

    def backup(store: Any, _: Any) -> int:
        if not isinstance(store, SqliteStore):
            print("ewe: a PostgreSQL ledger is backed up with pg_dump (see the operator guide)",
                  file=sys.stderr)
            return 2
        if args.out.exists():
            print(f"ewe: {args.out} exists: a backup is never overwritten", file=sys.stderr)
            return 2
        store.backup(args.out)
        print(f"ledger at schema version {store.version()} copied to {args.out}",
              file=sys.stderr)
        return 0
    return _with_ledger(args, backup)


def _migrate(args: argparse.Namespace) -> int:
    def report(store: Any, _: Any) -> int:      # opening it migrated it
        print(f"ledger at schema version {store.version()}")
        return 0
    return _with_ledger(args, report)


def _revoke_token(args: argparse.Namespace) -> int:
    from center.auth import revoke_token

    def revoke(store: Any, _: Any) -> int:
        if not revoke_token(store, args.id, now=wall_ms()):
            print(f"ewe: no token {args.id!r} (see `ewe token list`)", file=sys.stderr)
            return 1
        print(f"revoked {args.id}")
        return 0
    return _with_ledger(args, revoke)


def _rules_push(args: argparse.Namespace) -> int:
    import asyncio

    from streams.control import push_pack
    if not args.broker:
        print("ewe rules push: --broker (or $EWE_BROKER) is required", file=sys.stderr)
        return 2
    from streams.control import rules_key_file
    if args.key_file is not None:
        key = args.key_file.read_bytes().strip() if args.key_file.exists() else None
    elif os.environ.get("EWE_RULES_KEY"):
        key = os.environ["EWE_RULES_KEY"].encode()
    else:
        key = rules_key_file(args.data_dir, create=False)
    if not key:
        print("ewe rules push: no rules key: workers apply only packs signed with their "
              "cluster's key; give --key-file, $EWE_RULES_KEY or the --data-dir of `ewe run`",
              file=sys.stderr)
        return 2
    files = rule_files(args.paths)
    try:
        texts = {path.name: path.read_text(encoding="utf-8") for path in files}
        pack = Pack.from_texts(texts) if texts else Pack.load(args.paths)
    except RuleFileError as error:
        _print_errors(error)
        print("refused: nothing was pushed", file=sys.stderr)
        return 1
    at = args.at if args.at is not None else wall_ms() + 5_000
    version = asyncio.run(push_pack(args.broker, args.topic_prefix + "rules", texts, at, key))
    print(f"pushed {len(pack)} rules as {version}, applying from event time "
          f"{format_timestamp(at)}")
    return 0
