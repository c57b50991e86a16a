"""Fuzz targets: the event decoder, the HTTP ingest, the rule loader and the expression compiler.

Each target is a hypothesis strategy of hostile inputs (random and mutated JSON and YAML, deep
nesting, huge values, code-execution attempts) and a check of one input that returns None when
the code under test behaved (answered, or refused with its own error) or the reason it did not.
`run(target, cases)` drives hypothesis over a target and gathers the figures; `bench/fuzz`
runs 100,000 cases of each, the test suite 1,000.
"""
from __future__ import annotations

import asyncio
import gc
import string
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.anomaly.hst  # noqa: F401  river loads in a second or two: not inside a case
from engine.events import EventError, decode
from engine.expr import ExpressionError, compile_expression
from engine.rulefile import RuleFileError, load_text

CANARY = Path("/tmp/ewe-fuzz-canary")
# Attempts to run code, in each language the targets read; the canary must stay absent.
ESCAPES = [
    f"__import__('os').system('touch {CANARY}')",
    f"open('{CANARY}', 'w')",
    "().__class__.__bases__[0].__subclasses__()",
    f"!!python/object/apply:os.system ['touch {CANARY}']",
    f"!!python/object/new:os.system ['touch {CANARY}']",
    "eval('1')", "exec('x=1')", "lambda: 1", "e.__class__", "_E", "__builtins__",
]

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 63, 2 ** 64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=20) | st.sampled_from(ESCAPES),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=10)

_FIELDS = ["kind", "id", "ts", "source", "location", "attrs", "device_id", "type", "value",
           "unit", "channel", "text", "category", "reporter", "scores"]
_GOOD = {"kind": "reading", "id": "r1", "ts": 1782864000000, "device_id": "d1",
         "type": "water_level", "value": 0.3, "location": {"grid": "G1", "building": "B1"}}


@st.composite
def _mutated_event(draw: Any) -> bytes:
    event = dict(_GOOD)
    if draw(st.booleans()):
        event.update(kind="report", text=draw(st.text(max_size=60)),
                     category=draw(st.sampled_from(["water_leak", "gas_smell", None])))
    for _ in range(draw(st.integers(0, 4))):
        event[draw(st.sampled_from(_FIELDS))] = draw(_json)
    if draw(st.booleans()):
        event["ts"] = draw(st.sampled_from(["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
                                            "2026-07-01T08:00:00+08:00", "yesterday", 2 ** 64 - 1,
                                            -1, 1782864000, "2026-07-01T08:00:00"]))
    return orjson.dumps(event)


@st.composite
def _deep(draw: Any) -> bytes:
    depth = draw(st.sampled_from([20, 200, 2_000, 30_000]))
    opening, closing = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    inner = opening * depth + b"1" + closing * depth
    return b'{"kind":"reading","id":"r","ts":1782864000000,"attrs":{"x":' + inner + b"}}"


_raw_bytes = st.binary(max_size=200)
_huge = st.sampled_from([b'{"kind":"report","id":"t","ts":1782864000000,"text":"'
                         + b"x" * 100_000 + b'"}', b"[" + b"{}," * 10_000 + b"{}]",
                         b'{"kind":"reading","id":"' + b"1" * 5000 + b'"}'])
EVENT_BYTES = st.one_of(_mutated_event(), _json.map(orjson.dumps), _raw_bytes, _deep(), _huge)


def check_decode(raw: bytes) -> str | None:
    try:
        t, event = decode(raw)
    except EventError:
        return None
    except Exception as error:   # anything else is a bug the fuzzer found
        return f"{type(error).__name__}: {error}"
    if not isinstance(t, int):
        return f"event time {t!r} is not an integer"
    return None


# -- rule files ----------------------------------------------------------------------------------
_NAMES = ["value", "text", "type", "category", "attrs.floor", "location.grid", "device_id",
          "valu", "reporter.phone", "e", "_x", "scores"]
_FUNCTIONS = ["count", "avg", "min", "max", "sum", "stddev", "delta", "rate", "distinct",
              "first_seen", "avg_count", "previous", "score", "abs", "round", "lower",
              "contains", "matches", "exists", "eval", "getattr"]
_OPERATORS = ["and", "or", "not", "in", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/",
              "%", "(", ")", "[", "]", ",", ".", ":"]
_REGEXES = ['"(a+)+$"', '"(a|a)*b"', '"燃气味|煤气味"', '"(?=x)"', '"\\\\1"', '"["', '"a{1000}"']


@st.composite
def expression_text(draw: Any) -> str:
    """Token soup close enough to the language to reach deep into the parser."""
    tokens = draw(st.lists(st.one_of(
        st.sampled_from(_NAMES), st.sampled_from(_OPERATORS),
        st.sampled_from(_FUNCTIONS).map(lambda name: name + "("),
        st.integers(-10 ** 6, 10 ** 6).map(str), st.floats(allow_nan=True).map(repr),
        st.sampled_from(["10m", "1h", "0s", "7d", "999999w", "1e999", "9" * 50]),
        st.text(alphabet=string.printable + "漏水燃气", max_size=8).map(repr),
        st.sampled_from(_REGEXES), st.sampled_from(ESCAPES)), max_size=40))
    if draw(st.integers(0, 20)) == 0:
        tokens = ["("] * draw(st.integers(30, 300)) + tokens
    if draw(st.integers(0, 20)) == 0:
        tokens = ["not"] * draw(st.integers(30, 2000)) + tokens
    return " ".join(tokens)


_SAMPLE_EVENTS = [decode(orjson.dumps(_GOOD))[1],
                  decode(orjson.dumps({**_GOOD, "kind": "report", "text": "aaaaaaaaaaaaaaaaaaaaaa"
                                       "aaaaaaaab燃气味", "category": "gas_smell"}))[1]]


def check_expression(source: str) -> str | None:
    try:
        compiled = compile_expression(source)
    except ExpressionError:
        return None
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    windows = [_Window() for _ in compiled.windows]
    for event in _SAMPLE_EVENTS:
        try:
            compiled.test(event, windows)
        except Exception as error:   # `test` treats what is undefined as false: never raises
            return f"test raised {type(error).__name__}: {error}"
    return None


class _Window:
    value = 3


_RULE_KEYS = ["id", "title", "on", "match", "key", "when", "for", "severity", "clear",
              "clear_for", "cooldown", "labels", "summary", "absent_for", "sequence", "within",
              "stale_after", "whn", "<<"]


@st.composite
def rule_file(draw: Any) -> str:
    """YAML rule files: well-formed ones with hostile values, and broken or hostile YAML."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.text(max_size=300))
    if kind == 1:
        bomb = "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else '1'}]\n"
                       for i in range(draw(st.integers(2, 9))))
        return bomb + "rules: []\n"
    if kind == 2:
        depth = draw(st.integers(10, 3000))
        return "rules: " + "[" * depth + "]" * depth
    if kind == 3:
        return f"rules:\n  - {draw(st.sampled_from(ESCAPES))}\n"
    rules = []
    for n in range(draw(st.integers(1, 4))):
        rule: dict[str, Any] = {"id": f"r.{n}", "on": draw(st.sampled_from(
            ["reading", "report", ["reading", "report"], "both", 1])),
            "severity": draw(st.sampled_from(["blue", "red", "purple",
                                              [{"when": "value > 1", "level": "red"}]]))}
        for key in draw(st.lists(st.sampled_from(_RULE_KEYS), max_size=5)):
            rule[key] = draw(st.one_of(expression_text(), _json, st.sampled_from(
                ["5m", "5 minutes", "400d", "{value:9999999}", "{text}", "{reporter.phone}"])))
        rules.append(rule)
    document: dict[str, Any] = {"rules": rules}
    if draw(st.booleans()):
        document["models"] = [{"id": "m", "detector": draw(st.sampled_from(
            ["zscore", "composite", "magic", "half_space_trees"])), "on": "reading",
            "params": draw(st.dictionaries(st.sampled_from(
                ["fading_factor", "fading_factr", "warmup", "cusum", "width", "n_trees"]),
                _json, max_size=3))}]
    import yaml
    return yaml.safe_dump(document, allow_unicode=True)


def check_rule_file(text: str) -> str | None:
    try:
        load_text(text, "fuzz.yaml")
    except RuleFileError as error:
        if not all(problem.file == "fuzz.yaml" and problem.line >= 1
                   for problem in error.errors):
            return f"an error without file and line: {error}"
        return None
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


# -- the HTTP ingest -----------------------------------------------------------------------------
BODIES = st.one_of(EVENT_BYTES, st.lists(_mutated_event(), max_size=20).map(
    lambda events: b"[" + b",".join(events) + b"]"), st.sampled_from([
        b"", b"null", b"[]", b"[[]]", b"[" * 100_000, b"\xff\xfe", b'{"kind":"reading"}' * 3]))


class HttpIngest:
    """The worker's HTTP face over ASGI, its ingest producing to a real broker."""

    def __init__(self, bootstrap: str) -> None:
        import httpx

        from ewe.clock import wall_ms
        from streams.http import http_app
        from streams.ingest import Ingest
        from streams.journal import Journal
        from streams.metrics import PipelineMetrics
        from streams.settings import Settings

        settings = Settings.resolve(environ={"EWE_TOPIC_PREFIX": "fuzz."})
        self.loop = asyncio.new_event_loop()
        self.ingest = Ingest(settings, bootstrap, PipelineMetrics(), clock=wall_ms,
                             journal=Journal(tempfile.mkdtemp()), durable_broker=True)
        self.loop.run_until_complete(self._prepare(bootstrap, settings))
        app = http_app(self.ingest, None, PipelineMetrics(), lambda: {"status": "ok"})
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://fuzz")

    async def _prepare(self, bootstrap: str, settings: Any) -> None:
        from streams.runtime import prepare_cluster
        await prepare_cluster(bootstrap, settings)
        await self.ingest.start()

    def check(self, body: bytes) -> str | None:
        try:
            answer = self.loop.run_until_complete(self.client.post("/v1/events", content=body))
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        if answer.status_code >= 500 or answer.status_code not in (202, 400, 413):
            return f"answered {answer.status_code}: {answer.text[:200]}"
        return None

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self.ingest.stop())
        self.loop.close()


# -- driving -------------------------------------------------------------------------------------
@dataclass
class Figures:
    cases: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)   # (input, reason)
    slowest: tuple[float, str] = (0.0, "")

    def line(self, name: str) -> str:
        seconds, case = self.slowest
        return (f"{name:<12} cases {self.cases:>7,}  failures {len(self.failures):>3}  "
                f"slowest {seconds * 1000:8.1f} ms  ({case[:60]!r})")


def run(strategy: st.SearchStrategy, check: Callable[[Any], str | None], cases: int,
        seed: int = 0) -> Figures:
    """Feed `cases` inputs of `strategy` to `check`, recording failures and the slowest case
    instead of stopping at the first, so one run shows everything."""
    figures = Figures()

    @settings(max_examples=cases, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(strategy)
    def property_(value: Any) -> None:
        # The case's own time: the collector's pauses over this process's heap (hypothesis,
        # the cases so far) are not the code's, so it waits for the case to end.
        gc.disable()
        try:
            began = time.perf_counter()
            reason = check(value)
            elapsed = time.perf_counter() - began
        finally:
            gc.enable()
        figures.cases += 1
        if elapsed > figures.slowest[0]:
            figures.slowest = (elapsed, _shown(value))
        if reason is None and elapsed > 1.0:
            reason = f"took {elapsed:.2f} s"
        if reason is not None and len(figures.failures) < 20:
            figures.failures.append((_shown(value), reason))

    property_._hypothesis_internal_use_seed = seed
    property_()
    return figures


def _shown(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= 300 else f"{text[:300]}… ({len(text):,} characters)"
