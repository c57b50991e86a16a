r"""Rule files: strict decoding of YAML into validated `RuleSpec`s, with every error located.

Loading never stops at the first problem: it collects every error of every file, each with file,
line, rule index and id, and raises one `RuleFileError` holding them all, so a rule author fixes a
file in one pass. Nothing of a file with an error is used.

>>> specs, models, reading = load_text('''
... rules:
...   - id: waterlogging.level.high
...     on: reading
...     match: {type: water_level}
...     when: value >= 0.15
...     for: 5m
...     severity: yellow
... ''', "waterlogging.yaml")
>>> specs[0].for_ms
300000
>>> try:
...     load_text("rules:\n  - id: x\n    on: reading\n    whn: value > 1\n", "bad.yaml")
... except RuleFileError as error:
...     print(error)
bad.yaml:2: rule 1 "x": a rule needs `when`, `absent_for` or `sequence`
bad.yaml:2: rule 1 "x": `severity` is required: blue, yellow, orange, red or a ladder
bad.yaml:4: rule 1 "x": unknown key 'whn' (did you mean 'when'?)
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from engine.durations import parse_duration
from engine.expr import Expression, ExpressionError, WindowSpec, compile_expression, field_code
from engine.lifecycle import Level
from engine.reports.categories import Reading, merge, read_sections
from engine.suggest import hint
from engine.template import Template
from engine.yamlpos import LocatedDict, LocatedList, YamlError, load, plain

__all__ = ["RuleSpec", "ModelSpec", "Step", "RuleError", "RuleFileError", "Loaded", "load_text",
           "load_paths", "rule_files"]

_RULE_KEYS = ("id", "title", "description", "on", "match", "key", "when", "for", "severity",
              "clear", "clear_for", "cooldown", "labels", "summary", "absent_for", "sequence",
              "within", "stale_after", "evidence")
_STEP_KEYS = ("match", "when")
_PRESENTATION = ("id", "title", "description", "summary", "labels")   # not in `logic`
_MODEL_KEYS = ("id", "description", "detector", "params", "on", "match", "per", "features",
               "warmup")
_TOP_KEYS = ("rules", "models", "categories", "reports")
MAX_EVIDENCE = 100
_KINDS = ("reading", "report")
_LANGUAGES = ("zh", "en")
_RULE_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]*")
REPORT_STALE_AFTER_MS = 3_600_000
# A city's pack runs to thousands of rules over many files; far beyond that is a mistake or an
# attack, and loading it would take minutes.
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_RULES = 20_000


class RuleError(ValueError):
    """One problem in a rule file, printed as `FILE:LINE: rule N "id": message`."""

    def __init__(self, file: str, line: int, message: str, *, index: int | None = None,
                 rule_id: str | None = None, what: str = "rule") -> None:
        self.file, self.line, self.message = file, line, message
        self.index, self.rule_id = index, rule_id
        where = f"{what} {index}" + (f" {rule_id!r}".replace("'", '"') if rule_id else "") \
            + ": " if index is not None else ""
        super().__init__(f"{file}:{line}: {where}{message}")


class RuleFileError(ValueError):
    """Every error found while loading a set of rule files; nothing of them is to be used."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(error) for error in errors))


@dataclass
class Step:
    match: dict[str, tuple]
    when: Expression | None
    kinds: tuple[str, ...]
    windows: list[WindowSpec] = field(default_factory=list)


@dataclass
class RuleSpec:
    id: str
    file: str
    line: int
    on: tuple[str, ...]
    match: dict[str, tuple]
    key: tuple[str, ...]
    title: dict[str, str]
    summary: dict[str, Template]
    labels: dict[str, str]
    severity: list[tuple[Expression | None, Level]]
    label_templates: dict[str, Template] = field(default_factory=dict)   # "{category}"
    evidence: int = 0       # events kept as evidence, the alert updated with each; 0: the last 5
    when: Expression | None = None
    clear: Expression | None = None
    for_ms: int = 0
    clear_for_ms: int = 0
    cooldown_ms: int = 0
    absent_for_ms: int = 0
    sequence: list[Step] = field(default_factory=list)
    within_ms: int = 0
    stale_after_ms: int = 0
    windows: list[WindowSpec] = field(default_factory=list)
    fingerprint: str = ""
    logic: str = ""   # the fingerprint of all that decides its alerts: not id, texts or labels

    @property
    def models(self) -> set[str]:
        """The anomaly models whose scores the rule reads."""
        expressions = [self.when, self.clear, *(c for c, _ in self.severity)]
        expressions += [step.when for step in self.sequence]
        return {model for e in expressions if e is not None for model in e.models}

    @property
    def shape(self) -> str:
        if self.absent_for_ms:
            return "absence"
        if self.sequence:
            return "sequence"
        return "condition"


@dataclass
class ModelSpec:
    """An anomaly model: a detector per key, fed with features of the matching events."""

    id: str
    file: str
    line: int
    detector: str
    params: dict[str, Any]
    on: tuple[str, ...]
    match: dict[str, tuple]
    key: tuple[str, ...]
    features: list[Expression]
    windows: list[WindowSpec]
    warmup: int
    fingerprint: str


class Loaded(NamedTuple):
    """What a pack's files hold: rules, anomaly models, and how reports are read."""

    specs: list[RuleSpec]
    models: list[ModelSpec]
    reading: Reading


def rule_files(paths: list[str | Path]) -> list[Path]:
    """The rule files named by paths: files as given, directories searched for `*.yaml`.

    Rule unit tests (`*.test.yaml`) and the duty list (`duty.yaml`) are not rule files.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.y*ml") if _is_rule_file(p)))
        else:
            files.append(path)
    return files


def _is_rule_file(path: Path) -> bool:
    return (path.suffix in (".yaml", ".yml") and not path.name.endswith((".test.yaml", ".test.yml"))
            and path.stem != "duty" and "tests" not in path.parts[-2:-1])


def load_paths(paths: list[str | Path]) -> Loaded:
    """Load and validate every rule file under paths; one `RuleFileError` lists all problems."""
    files = rule_files(paths)
    if not files:
        raise RuleFileError([RuleError(str(paths[0]) if paths else ".", 1, "no rule files found")])
    texts: dict[str, str] = {}
    errors: list[RuleError] = []
    for path in files:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                errors.append(_too_large(str(path)))
                continue
            texts[str(path)] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            errors.append(RuleError(str(path), 1, f"cannot read: {error}"))
    return load_texts(texts, errors)


def _too_large(filename: str) -> RuleError:
    return RuleError(filename, 1, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: split "
                                  "the pack into several files")


def load_texts(texts: dict[str, str], errors: list[RuleError] | None = None) -> Loaded:
    """Validate the rule files given as {file name: text} together, as one pack."""
    specs: list[RuleSpec] = []
    models: list[ModelSpec] = []
    readings: list[Reading] = []
    errors = list(errors or [])
    for filename, text in texts.items():
        if len(text) > MAX_FILE_BYTES:
            errors.append(_too_large(filename))
            continue
        try:
            file_specs, file_models, file_reading = _load_document(text, filename)
        except RuleFileError as error:
            errors.extend(error.errors)
            continue
        specs.extend(file_specs)
        models.extend(file_models)
        readings.append(file_reading)
    reading = merge(readings, lambda file, line, message: errors.append(
        RuleError(file, line, message)))
    errors.extend(_duplicate_ids(specs) + _duplicate_ids(models) + _unknown_models(specs, models))
    if len(specs) > MAX_RULES:
        errors.append(RuleError(specs[MAX_RULES].file, specs[MAX_RULES].line,
                                f"more than {MAX_RULES:,} rules in the pack"))
    if errors:
        order = {name: index for index, name in enumerate(texts)}
        errors.sort(key=lambda error: (order.get(error.file, -1), error.line))  # stable
        raise RuleFileError(errors)
    return Loaded(specs, models, reading)


def load_text(text: str, filename: str) -> Loaded:
    """Validate the rules and models of one file's text; `RuleFileError` with every problem."""
    return load_texts({filename: text})


def _load_document(text: str, filename: str) -> Loaded:
    try:
        document = load(text, filename)
    except YamlError as error:
        raise RuleFileError([RuleError(filename, error.line, error.message)]) from None
    loader = _FileLoader(filename)
    loaded = loader.document(document)
    if loader.errors:
        raise RuleFileError(loader.errors)
    return loaded


def _unknown_models(specs: list[RuleSpec], models: list[ModelSpec]) -> list[RuleError]:
    known = {model.id for model in models}
    errors = []
    for index, spec in enumerate(specs):
        for model in sorted(spec.models - known):
            errors.append(RuleError(spec.file, spec.line, f"score({model!r}): no model of that "
                                    f"id (models: {', '.join(sorted(known)) or 'none'})",
                                    rule_id=spec.id, index=index + 1))
    return errors


def _duplicate_ids(specs: list) -> list[RuleError]:
    first: dict[str, Any] = {}
    errors = []
    for spec in specs:
        if spec.id in first:
            other = first[spec.id]
            if other.file == spec.file and other.line == spec.line:
                continue
            what = "model" if isinstance(spec, ModelSpec) else "rule"
            errors.append(RuleError(spec.file, spec.line, f"duplicate {what} id {spec.id!r} "
                                    f"(first defined at {other.file}:{other.line})"))
        else:
            first[spec.id] = spec
    return errors


class _Invalid(Exception):
    """A rule that already reported its errors and cannot be built."""


class _FileLoader:
    def __init__(self, filename: str) -> None:
        self.file = filename
        self.errors: list[RuleError] = []
        self.index: int | None = None
        self.rule_id: str | None = None
        self.what = "rule"

    def error(self, line: int, message: str) -> None:
        self.errors.append(RuleError(self.file, line, message, index=self.index,
                                     rule_id=self.rule_id, what=self.what))

    def document(self, document: Any) -> Loaded:
        if document is None:
            self.error(1, "empty file: expected a mapping with a `rules:` list")
            return Loaded([], [], Reading())
        if not isinstance(document, LocatedDict):
            self.error(getattr(document, "line", 1), "expected a mapping with a `rules:` list")
            return Loaded([], [], Reading())
        self.unknown_keys(document, _TOP_KEYS)
        models = self.models(document.get("models"), document.line_of("models"))
        reading = read_sections(document, self.error, self.file)
        rules = document.get("rules")
        if rules is None and any(key in document for key in _TOP_KEYS):
            return Loaded([], models, reading)    # a file of categories, or of models
        if not isinstance(rules, LocatedList):
            self.error(document.line_of("rules"), "`rules:` must be a list of rules")
            return Loaded([], models, reading)
        return Loaded(self.each(rules, "rule", self.rule), models, reading)

    # -- models --------------------------------------------------------------------------------
    def models(self, models: Any, line: int) -> list[ModelSpec]:
        if models is None:
            return []
        if not isinstance(models, LocatedList):
            self.error(line, "`models:` must be a list of models")
            return []
        return self.each(models, "model", self.model)

    def each(self, items: LocatedList, what: str, build: Any) -> list:
        """Build every item of a `rules:` or `models:` list, keeping those without errors."""
        specs = []
        self.what = what
        for index, item in enumerate(items, start=1):
            self.index, self.rule_id = index, None
            if not isinstance(item, LocatedDict):
                self.error(items.line_of(index - 1), f"a {what} must be a mapping")
                continue
            errors_before = len(self.errors)
            try:
                spec = build(item)
            except _Invalid:
                continue
            if len(self.errors) == errors_before:
                specs.append(spec)
        self.index = self.rule_id = None
        self.what = "rule"
        return specs

    def model(self, model: LocatedDict) -> ModelSpec:
        from engine.anomaly import DETECTORS  # the detector names, without loading river
        from engine.anomaly.params import check_params

        model_id = self.identify(model, _MODEL_KEYS, "water-level")
        detector = model.get("detector")
        if detector not in DETECTORS:
            self.error(model.line_of("detector"), f"unknown detector {detector!r} "
                                                  f"(known: {', '.join(sorted(DETECTORS))})")
        params = model.get("params", {})
        if not isinstance(params, dict):
            self.error(model.line_of("params"), "`params` must map parameter names to values")
            params = {}
        elif detector in DETECTORS:
            for name, problem in check_params(str(detector), plain(params)):
                line = params.line_of(name) if name and isinstance(params, LocatedDict) else \
                    model.line_of("params")
                self.error(line, f"params: {problem}")
        on = self.kinds(model)
        windows: list[WindowSpec] = []
        features = _rejoin(model.get("features", ["value"]))
        if not isinstance(features, list) or not features:
            self.error(model.line_of("features"), "`features` must list fields or window "
                                                  "functions, e.g. [value, delta(value, 10m)]")
            features = []
        compiled = []
        for source in features:
            try:
                compiled.append(compile_expression(str(source), windows=windows))
            except ExpressionError as error:
                self.error(model.line_of("features"), f"features: {source}: {error}")
        warmup = model.get("warmup", 0)
        if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 0:
            self.error(model.line_of("warmup"), "`warmup` is a number of events (0 or more)")
            warmup = 0
        key = self.key(model, on, name="per")
        return ModelSpec(
            id=model_id, file=self.file, line=model.line, detector=str(detector),
            params=dict(params), on=on, match=self.match(model, "match", model, on), key=key,
            features=compiled, windows=windows, warmup=warmup,
            fingerprint=hashlib.blake2b(text_of(model), digest_size=8).hexdigest())

    def unknown_keys(self, mapping: LocatedDict, allowed: tuple[str, ...]) -> None:
        for key in mapping:
            if key not in allowed:
                why = hint(key, allowed)
                if not re.fullmatch(r"[A-Za-z_][\w.]*", str(key)):
                    why = ("a {...} mapping ends each value at a comma: quote the expression "
                           "or write the mapping as a block")
                self.error(mapping.line_of(key), f"unknown key {key!r} ({why})")

    # -- one rule ------------------------------------------------------------------------------
    def identify(self, item: LocatedDict, allowed: tuple[str, ...], example: str) -> str:
        """The id of a rule or model (refusing it without one), and its keys checked."""
        item_id = item.get("id")
        if not isinstance(item_id, str) or not _RULE_ID.fullmatch(item_id):
            self.error(item.line_of("id"), "`id` is required: lowercase letters, digits and "
                                           f". _ -, e.g. {example}")
            item_id = ""    # the rest is still checked, so that one pass shows every problem
        else:
            self.rule_id = item_id
        self.unknown_keys(item, allowed)
        return item_id

    def rule(self, rule: LocatedDict) -> RuleSpec:
        rule_id = self.identify(rule, _RULE_KEYS, "waterlogging.level.high")
        on = self.kinds(rule)
        windows: list[WindowSpec] = []
        shape_keys = [k for k in ("when", "absent_for", "sequence") if k in rule]
        if len(shape_keys) > 1:
            first, second = shape_keys[:2]
            self.error(rule.line_of(second), f"`{second}` cannot be combined with `{first}` "
                                             f"(line {rule.line_of(first)}): a rule has one shape")
        if not shape_keys:
            self.error(rule.line, "a rule needs `when`, `absent_for` or `sequence`")
        shape = shape_keys[0] if shape_keys else "when"
        for name, allowed_with in (("for", ("when",)), ("clear", ("when",)),
                                   ("within", ("sequence",)), ("stale_after", ("when",))):
            if name in rule and shape not in allowed_with:
                self.error(rule.line_of(name), f"`{name}` does not apply to a rule with `{shape}`")
        if shape == "sequence" and "within" not in rule:
            self.error(rule.line_of("sequence"), "a `sequence` needs `within` (e.g. within: 10m)")
        match = self.match(rule, "match", rule, on)
        key = self.key(rule, on)
        spec = RuleSpec(
            id=rule_id, file=self.file, line=rule.line, on=on, match=match, key=key,
            title=self.texts(rule, "title", default=rule_id),
            summary=self.templates(rule, "summary", default=rule.get("title", rule_id)),
            labels=self.labels(rule),
            label_templates=self.label_templates(rule),
            severity=self.severity(rule, windows),
            for_ms=self.duration(rule, "for"),
            clear_for_ms=self.duration(rule, "clear_for"),
            cooldown_ms=self.duration(rule, "cooldown"),
            absent_for_ms=self.duration(rule, "absent_for", positive=True)
            if shape == "absent_for" else 0,
            within_ms=self.duration(rule, "within", positive=True),
            windows=windows,
            fingerprint=hashlib.blake2b(text_of(rule), digest_size=8).hexdigest(),
            logic=hashlib.blake2b(text_of({name: value for name, value in rule.items()
                                           if name not in _PRESENTATION}),
                                  digest_size=8).hexdigest(),
        )
        if shape == "when" and "when" in rule:
            spec.when = self.expression(rule, "when", windows)
            if "clear" in rule:
                spec.clear = self.expression(rule, "clear", windows)
        if shape == "sequence":
            spec.sequence = self.steps(rule, on)
        if "evidence" in rule:
            spec.evidence = self.evidence(rule, shape)
        if "stale_after" in rule:
            spec.stale_after_ms = self.duration(rule, "stale_after", positive=True)
        elif shape == "when" and on == ("report",):
            spec.stale_after_ms = REPORT_STALE_AFTER_MS
        return spec

    def kinds(self, rule: LocatedDict) -> tuple[str, ...]:
        on = rule.get("on")
        kinds = on if isinstance(on, list) else [on]
        if on is None or not kinds or any(kind not in _KINDS for kind in kinds):
            self.error(rule.line_of("on"), "`on` must be reading, report or [reading, report]")
            raise _Invalid
        return tuple(dict.fromkeys(kinds))

    def match(self, owner: LocatedDict, name: str, rule: LocatedDict,
              on: tuple[str, ...]) -> dict[str, tuple]:
        match = owner.get(name, {})
        if not isinstance(match, dict):
            self.error(owner.line_of(name), "`match` must be a mapping of field: value or "
                                            "field: [values]")
            return {}
        result = {}
        for path, wanted in match.items():
            values = wanted if isinstance(wanted, list) else [wanted]
            line = match.line_of(path) if isinstance(match, LocatedDict) else owner.line_of(name)
            if not isinstance(path, str) or not re.fullmatch(r"[A-Za-z]\w*(\.\w+)*", path):
                self.error(line, f"match: {path!r} is not a field name (e.g. type, attrs.profile)")
                continue
            if not self.known_field(path, line, "match"):
                continue
            if not values or any(isinstance(v, (dict, list)) or v is None for v in values):
                self.error(line, f"match: {path} must be a value or a list of values")
                continue
            result[path] = tuple(values)
        kinds = result.get("kind")
        if kinds and not set(kinds) <= set(on):
            self.error(owner.line_of(name), f"match: kind {list(kinds)} is not among "
                                            f"`on: {list(on)}`")
        return result

    def key(self, rule: LocatedDict, on: tuple[str, ...], name: str = "key") -> tuple[str, ...]:
        if name not in rule:
            if "report" in on:
                self.error(rule.line, f"{'rules' if name == 'key' else 'models'} on reports "
                                      f"need a `{name}` (e.g. location.grid)")
            return ("device_id",)
        key = rule[name]
        paths = key if isinstance(key, list) else [key]
        if not paths or not all(isinstance(p, str) and re.fullmatch(r"[A-Za-z]\w*(\.\w+)*", p)
                                for p in paths):
            self.error(rule.line_of(name), f"`{name}` must be a field (e.g. location.building) "
                                           "or a list of fields")
            return ("device_id",)
        for path in paths:
            self.known_field(path, rule.line_of(name), name)
        return tuple(paths)

    def known_field(self, path: str, line: int, where: str) -> bool:
        try:
            field_code(path.split("."))
            return True
        except ValueError as error:
            self.error(line, f"{where}: {error}")
            return False

    def texts(self, rule: LocatedDict, name: str, default: Any) -> dict[str, str]:
        value = rule.get(name, default)
        if isinstance(value, str):
            return {lang: value for lang in _LANGUAGES}
        if isinstance(value, LocatedDict) and value and all(
                lang in _LANGUAGES and isinstance(text, str) for lang, text in value.items()):
            return dict(value)
        self.error(rule.line_of(name), f"`{name}` must be a text or {{zh: ..., en: ...}}")
        return {}

    def templates(self, rule: LocatedDict, name: str, default: Any) -> dict[str, Template]:
        compiled: dict[str, Template] = {}
        for text in self.texts(rule, name, default).values():
            if text not in compiled:
                try:
                    compiled[text] = Template(text)
                except ValueError as error:
                    self.error(rule.line_of(name), f"{name}: {error}")
                    compiled[text] = Template("")
                    continue
                for path in compiled[text].fields:
                    self.known_field(".".join(path), rule.line_of(name), name)
        return {lang: compiled[text] for lang, text in self.texts(rule, name, default).items()}

    def labels(self, rule: LocatedDict) -> dict[str, str]:
        """The labels that are plain texts (those naming fields are `label_templates`)."""
        labels = rule.get("labels", {})
        if not isinstance(labels, dict) or not all(
                isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
                for k, v in labels.items()):
            self.error(rule.line_of("labels"), "`labels` must map names to texts")
            return {}
        return {k: str(v) for k, v in labels.items() if "{" not in str(v)}

    def label_templates(self, rule: LocatedDict) -> dict[str, Template]:
        """Labels naming event fields, e.g. `category: "{category}"`: rendered from the event
        that raised the alert."""
        labels = rule.get("labels", {})
        if not isinstance(labels, dict):
            return {}
        templates = {}
        for name, value in labels.items():
            if isinstance(value, str) and "{" in value:
                try:
                    templates[name] = Template(value)
                except ValueError as error:
                    self.error(rule.line_of("labels"), f"labels.{name}: {error}")
                    continue
                for path in templates[name].fields:
                    self.known_field(".".join(path), rule.line_of("labels"), f"labels.{name}")
        return templates

    def evidence(self, rule: LocatedDict, shape: str) -> int:
        count = rule["evidence"]
        if shape != "when":
            self.error(rule.line_of("evidence"), "`evidence` applies to a rule with `when`")
        elif isinstance(count, bool) or not isinstance(count, int) or \
                not 1 <= count <= MAX_EVIDENCE:
            self.error(rule.line_of("evidence"), f"`evidence` is how many events the alert "
                       f"lists, from 1 to {MAX_EVIDENCE}; not {count!r}")
        else:
            return count
        return 0

    def severity(self, rule: LocatedDict, windows: list[WindowSpec]) -> list:
        severity = rule.get("severity")
        line = rule.line_of("severity")
        if severity is None:
            self.error(rule.line, "`severity` is required: blue, yellow, orange, red or a ladder")
            return []
        if isinstance(severity, str):
            return [(None, self.level(severity, line))]
        if not isinstance(severity, LocatedList) or not severity:
            self.error(line, "`severity` must be a level or a list of {when: ..., level: ...}")
            return []
        ladder = []
        for index, step in enumerate(severity):
            step_line = severity.line_of(index)
            if not isinstance(step, LocatedDict) or "level" not in step:
                self.error(step_line, "each severity step is {when: EXPRESSION, level: LEVEL}")
                continue
            self.unknown_keys(step, ("when", "level"))
            condition = self.expression(step, "when", windows) if "when" in step else None
            ladder.append((condition, self.level(step["level"], step.line_of("level"))))
        return ladder

    def level(self, name: Any, line: int) -> Level:
        try:
            return Level[name]
        except (KeyError, TypeError):
            self.error(line, f"unknown severity {name!r} (blue, yellow, orange, red)")
            return Level.blue

    def duration(self, rule: LocatedDict, name: str, positive: bool = False) -> int:
        if name not in rule:
            return 0
        try:
            value = parse_duration(rule[name])
        except ValueError as error:
            self.error(rule.line_of(name), f"{name}: {error}")
            return 0
        if positive and value <= 0:
            self.error(rule.line_of(name), f"{name}: must be longer than zero")
        return value

    def expression(self, owner: LocatedDict, name: str,
                   windows: list[WindowSpec]) -> Expression | None:
        source = owner.get(name)
        line = owner.line_of(name)
        if isinstance(source, bool):
            source = "true" if source else "false"
        if not isinstance(source, (str, int, float)):
            self.error(line, f"`{name}` must be an expression")
            return None
        try:
            expression = compile_expression(str(source), windows=windows)
        except ExpressionError as error:
            self.error(line, f"{name}: {error}")
            return None
        if expression.result not in ("bool", "any"):
            self.error(line, f"{name}: {source!r} is not a condition (it gives a "
                             f"{'number' if expression.result == 'num' else 'text'}); "
                             "compare it, e.g. value > 1")
            return None
        return expression

    def steps(self, rule: LocatedDict, on: tuple[str, ...]) -> list[Step]:
        sequence = rule["sequence"]
        if not isinstance(sequence, LocatedList) or len(sequence) < 2:
            self.error(rule.line_of("sequence"), "`sequence` must list at least two steps")
            return []
        steps = []
        for index, step in enumerate(sequence):
            if not isinstance(step, LocatedDict):
                self.error(sequence.line_of(index), "a sequence step is {match: ..., when: ...}")
                continue
            self.unknown_keys(step, _STEP_KEYS)
            match = self.match(step, "match", rule, on)
            kinds = match.get("kind", on)
            step_windows: list[WindowSpec] = []
            when = self.expression(step, "when", step_windows) if "when" in step else None
            steps.append(Step(match, when, tuple(kinds), step_windows))
        return steps


def _rejoin(items: Any) -> Any:
    """A flow list `[value, delta(value, 10m)]` reaches us split at every comma, inside the
    parentheses too; join the pieces back until the parentheses balance."""
    if not isinstance(items, list):
        return items
    joined: list[Any] = []
    for item in items:
        previous = joined[-1] if joined else None
        if isinstance(previous, str) and isinstance(item, (str, int, float)) and \
                previous.count("(") > previous.count(")"):
            joined[-1] = f"{previous}, {item}"
        else:
            joined.append(item)
    return joined


def text_of(rule: dict) -> bytes:
    """A canonical serialisation of a rule's definition, for its fingerprint."""
    return orjson.dumps(rule, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
