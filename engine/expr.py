"""The safe expression language of rules, compiled to Python functions.

Rule conditions are written in a small language of their own (numbers, strings, durations,
`and or not`, comparisons, `+ - * / %`, `in`, dotted event fields, and a fixed set of functions).
It is parsed here by a hand-written parser, so nothing outside the language can even be spelled:
no attribute access on objects, no imports, no lambdas, no calls but the listed functions. The
parse tree is then translated to Python source and compiled once, so evaluating a condition costs
one Python call.

A missing field, a comparison between a number and nothing, or a division by zero makes the whole
expression *undefined*, which a condition treats as false (`Expression.test`).

>>> from engine.events import Event, Location
>>> when = compile_expression("value >= 0.15 and location.grid in ['YZ-03-07', 'YZ-03-08']")
>>> here = Location(grid="YZ-03-07")
>>> when.test(Event("reading", "r1", 0, value=0.2, location=here), ())
True
>>> when.test(Event("report", "t1", 0, text="积水", location=here), ())   # no value: false
False
>>> compile_expression("value.__class__")
Traceback (most recent call last):
...
engine.expr.ExpressionError: column 7: '__class__' is not a field name: names starting with '_' are reserved

Window functions (`count(10m)`, `avg(value, 5m)`, ...) are not evaluated here: the compiler lists
them in `Expression.windows`, the rule keeps one window object per entry and per key, and the
compiled function reads their current values from the sequence passed as its second argument.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import re2

from engine.durations import parse_duration
from engine.events import EVENT_FIELDS, LOCATION_FIELDS, Location

__all__ = ["Expression", "ExpressionError", "WindowSpec", "compile_expression", "WINDOW_FUNCTIONS",
           "SCALAR_FUNCTIONS"]


class ExpressionError(ValueError):
    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.message = message


@dataclass(frozen=True)
class WindowSpec:
    """One window function call: its name, the argument's source (or None), its durations."""

    function: str
    argument: str | None
    duration_ms: int
    over_ms: int = 0


# name -> (takes an argument expression, result type)
WINDOW_FUNCTIONS = {
    "count": (False, "num"), "avg": (True, "num"), "min": (True, "num"), "max": (True, "num"),
    "sum": (True, "num"), "stddev": (True, "num"), "delta": (True, "num"), "rate": (True, "num"),
    "distinct": (True, "num"), "first_seen": (True, "bool"), "avg_count": (False, "num"),
}
# name -> (argument count, result type); `min`/`max` with two plain arguments are scalar.
SCALAR_FUNCTIONS = {
    "abs": (1, "num"), "round": (1, "num"), "lower": (1, "str"), "contains": (2, "bool"),
    "matches": (2, "bool"), "exists": (1, "bool"), "min": (2, "num"), "max": (2, "num"),
}
_UNDEFINED_ERRORS = (TypeError, AttributeError, ZeroDivisionError, ValueError)

# Limits that keep a hostile or careless expression from costing more than its rule is worth.
MAX_EXPRESSION_CHARS = 4_000
MAX_NESTING = 32          # parentheses, lists, calls, `not` and unary minus inside each other
MAX_OPERATORS = 512
_MAX_NUMBER_CHARS = 40

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<duration>\d+(?:ms|s|m|h|d|w)(?:\d+(?:ms|s|m|h|d|w))*(?![\w.]))
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?(?![\w]))
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)
  | (?P<op>==|!=|<=|>=|[<>+\-*/%(),.\[\]:])
""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
# `matches()` runs on RE2, in time linear in the text whatever the pattern: a backtracking
# engine takes exponential time on patterns like (a+)+$.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


@dataclass
class Expression:
    """A compiled expression: `evaluate(event, windows)` gives its value (raising when it is
    undefined), `test(event, windows)` its truth (False when undefined)."""

    source: str
    evaluate: Callable[[dict, Any], Any]
    test: Callable[[dict, Any], bool]
    windows: list[WindowSpec] = field(default_factory=list)
    models: set[str] = field(default_factory=set)
    result: str = "any"


def compile_expression(source: str, *, windows: list[WindowSpec] | None = None,
                       allow_windows: bool = True) -> Expression:
    """Parse and compile `source`; `ExpressionError` (with the column) if it is not in the language.

    `windows` may be shared by several expressions of one rule, so that `count(1h)` used in a
    condition and in a severity ladder is one window, not two. `score("model-id")` reads the
    score an anomaly model gave the event; the models named are listed in `Expression.models`.
    """
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(MAX_EXPRESSION_CHARS + 1, f"longer than {MAX_EXPRESSION_CHARS} "
                                                        "characters: split it over several rules")
    parser = _Parser(source, windows if windows is not None else [], allow_windows)
    code, result = parser.parse()
    namespace = dict(_RUNTIME, **parser.constants)
    # One Python call per evaluation: the try/except lives inside the compiled function.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)   # `1 is True`: the loader says why
        exec(compile(f"def evaluate(e, W):\n    return {code}\n"
                     f"def test(e, W):\n    try:\n        return ({code}) is True\n"
                     f"    except _UNDEFINED:\n        return False\n", "<rule expression>",
                     "exec"), namespace)
    return Expression(source, namespace["evaluate"], namespace["test"], parser.windows,
                      parser.models, result)


def _contains(text: Any, part: Any) -> bool:
    return part in text if type(text) is str else False


def _lower(text: Any) -> str:
    return text.lower()


_RUNTIME: dict[str, Any] = {"__builtins__": {}, "_E": {}, "_L": Location(),
                            "_contains": _contains, "_lower": _lower,
                            "_abs": abs, "_round": round, "_min": min, "_max": max,
                            "_UNDEFINED": _UNDEFINED_ERRORS}


class _Parser:
    def __init__(self, source: str, windows: list[WindowSpec], allow_windows: bool) -> None:
        self.source = source
        self.tokens = self._tokenize(source)
        self.index = 0
        self.windows = windows
        self.allow_windows = allow_windows
        self.models: set[str] = set()
        self.constants: dict[str, Any] = {}
        self.depth = 0
        self.operators = 0

    # -- tokens ---------------------------------------------------------------------------------
    @staticmethod
    def _tokenize(source: str) -> list[tuple[str, str, int]]:
        tokens, position = [], 0
        while position < len(source):
            match = _TOKEN.match(source, position)
            if match is None:
                raise ExpressionError(position + 1, f"unexpected character {source[position]!r}")
            kind = match.lastgroup
            if kind != "space":
                text = match.group()
                if kind == "name" and text in _KEYWORDS:
                    kind = text
                tokens.append((kind, text, position + 1))
            position = match.end()
        tokens.append(("end", "", len(source) + 1))
        return tokens

    def _peek(self) -> tuple[str, str, int]:
        return self.tokens[self.index]

    def _take(self, *kinds: str) -> tuple[str, str, int]:
        token = self.tokens[self.index]
        if token[0] not in kinds and token[1] not in kinds:
            found = "the end of the expression" if token[0] == "end" else repr(token[1])
            raise ExpressionError(token[2], f"expected {' or '.join(kinds)}, found {found}")
        self.index += 1
        return token

    def _accept(self, text: str) -> bool:
        if self.tokens[self.index][1] == text and self.tokens[self.index][0] != "string":
            self.index += 1
            return True
        return False

    # -- grammar --------------------------------------------------------------------------------
    def parse(self) -> tuple[str, str]:
        if self._peek()[0] == "end":
            raise ExpressionError(1, "empty expression")
        code, result = self._or()
        kind, text, column = self._peek()
        if kind != "end":
            raise ExpressionError(column, f"unexpected {text!r}")
        return code, result

    def _nest(self, column: int) -> None:
        """One level deeper (parentheses, a list, a call, `not`, a minus); undone by `_unnest`."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExpressionError(column, f"nested more than {MAX_NESTING} levels deep")

    def _unnest(self) -> None:
        self.depth -= 1

    def _operator(self, column: int) -> None:
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            raise ExpressionError(column, f"more than {MAX_OPERATORS} operators: split the "
                                          "expression over several rules")

    def _or(self) -> tuple[str, str]:
        # A chain of `or` (and of `and`) is one flat Python expression, however long.
        codes = [self._and()]
        while self._peek()[1] == "or" and self._peek()[0] == "or":
            self._operator(self._peek()[2])
            self.index += 1
            codes.append(self._and())
        if len(codes) == 1:
            return codes[0]
        return f"({' or '.join(code for code, _ in codes)})", "bool"

    def _and(self) -> tuple[str, str]:
        codes = [self._not()]
        while self._peek()[1] == "and" and self._peek()[0] == "and":
            self._operator(self._peek()[2])
            self.index += 1
            codes.append(self._not())
        if len(codes) == 1:
            return codes[0]
        return f"({' and '.join(code for code, _ in codes)})", "bool"

    def _not(self) -> tuple[str, str]:
        kind, _, column = self._peek()
        if kind == "not" and self.tokens[self.index + 1][0] != "in":
            self.index += 1
            self._nest(column)
            code, _ = self._not()
            self._unnest()
            return f"(not {code})", "bool"
        return self._comparison()

    def _comparison(self) -> tuple[str, str]:
        left, result = self._sum()
        kind, text, column = self._peek()
        if text in ("==", "!=", "<", "<=", ">", ">=") and kind == "op":
            self._operator(column)
            self.index += 1
            right, _ = self._sum()
            if self._peek()[1] in ("==", "!=", "<", "<=", ">", ">=") and self._peek()[0] == "op":
                raise ExpressionError(self._peek()[2], "chained comparisons are not supported; "
                                                       "use `and`")
            return f"({left} {text} {right})", "bool"
        negated = False
        if kind == "not" and self.tokens[self.index + 1][0] == "in":
            self.index += 1
            negated = True
        if self._accept("in"):
            right, _ = self._sum()
            return f"({left} {'not in' if negated else 'in'} {right})", "bool"
        if negated:
            raise ExpressionError(column, "expected `in` after `not`")
        return left, result

    def _sum(self) -> tuple[str, str]:
        code, result = self._term()
        while self._peek()[1] in ("+", "-") and self._peek()[0] == "op":
            self._operator(self._peek()[2])
            operator = self._take("op")[1]
            right, right_type = self._term()
            result = "str" if operator == "+" and result == right_type == "str" else "num"
            code = f"({code} {operator} {right})"
        return code, result

    def _term(self) -> tuple[str, str]:
        code, result = self._unary()
        while self._peek()[1] in ("*", "/", "%") and self._peek()[0] == "op":
            self._operator(self._peek()[2])
            operator = self._take("op")[1]
            right, _ = self._unary()
            code, result = f"({code} {operator} {right})", "num"
        return code, result

    def _unary(self) -> tuple[str, str]:
        if self._peek()[1] == "-" and self._peek()[0] == "op":
            self._nest(self._peek()[2])
            self.index += 1
            code, _ = self._unary()
            self._unnest()
            return f"(-{code})", "num"
        return self._primary()

    def _primary(self) -> tuple[str, str]:
        kind, text, column = self._peek()
        if kind in ("end", "op") and text not in ("(", "["):
            found = "the end of the expression" if kind == "end" else repr(text)
            raise ExpressionError(column, f"expected a value (a number, a text, a field or a "
                                          f"function call), found {found}")
        if kind in ("and", "or", "not", "in"):
            raise ExpressionError(column, f"expected a value, found {text!r}")
        self.index += 1
        if kind == "number":
            return self._number(text, column), "num"
        if kind == "string":
            return repr(self._unquote(text, column)), "str"
        if kind == "duration":
            raise ExpressionError(column, f"a duration ({text}) is only allowed as a window "
                                          "function's argument; write the value in seconds "
                                          "for arithmetic")
        if kind in ("true", "false", "null"):
            return {"true": "True", "false": "False", "null": "None"}[kind], (
                "bool" if kind != "null" else "any")
        if text == "(":
            self._nest(column)
            code, result = self._or()
            self._take(")")
            self._unnest()
            return f"({code})", result
        if text == "[":
            self._nest(column)
            items = []
            if not self._accept("]"):
                items.append(self._or()[0])
                while self._accept(","):
                    items.append(self._or()[0])
                self._take("]")
            self._unnest()
            return f"({', '.join(items)}{',' if len(items) == 1 else ''})", "list"
        if self._peek()[1] == "(" and self._peek()[0] == "op":
            self._nest(column)
            called = self._call(text, column)
            self._unnest()
            return called
        return self._field(text, column)

    @staticmethod
    def _number(text: str, column: int) -> str:
        if len(text) > _MAX_NUMBER_CHARS:
            raise ExpressionError(column, f"a number of more than {_MAX_NUMBER_CHARS} "
                                          "characters")
        number = float(text) if any(c in text for c in ".eE") else int(text)
        if number in (float("inf"), float("-inf")):
            raise ExpressionError(column, f"the number {text} is too large")
        return repr(number)

    def _field(self, first: str, column: int) -> tuple[str, str]:
        path, columns = [first], [column]
        while self._peek()[1] == "." and self._peek()[0] == "op":
            self.index += 1
            _, text, name_column = self._take("name")
            path.append(text)
            columns.append(name_column)
        for part, part_column in zip(path, columns, strict=True):
            if part.startswith("_"):
                raise ExpressionError(part_column, f"{part!r} is not a field name: names "
                                                   "starting with '_' are reserved")
        try:
            return field_code(path), "any"
        except ValueError as error:
            raise ExpressionError(column, str(error)) from None

    def _call(self, name: str, column: int) -> tuple[str, str]:
        self._take("(")
        if name in ("min", "max") and self._arguments_ahead() == (2, False):
            return self._scalar_call(name, column)
        if name in WINDOW_FUNCTIONS:
            return self._window_call(name, column)
        if name in SCALAR_FUNCTIONS:
            return self._scalar_call(name, column)
        if name == "previous":
            return self._previous_call(column)
        if name == "score":
            return self._score_call(column)
        allowed = sorted({*WINDOW_FUNCTIONS, *SCALAR_FUNCTIONS, "previous", "score"})
        raise ExpressionError(column, f"unknown function {name!r} (allowed: {', '.join(allowed)})")

    def _arguments_ahead(self) -> tuple[int, bool]:
        """How many arguments the open call has, and whether one is a bare duration: `max(a, b)`
        is the scalar maximum, `max(value, 10m)` the window function."""
        depth, count, duration, index = 0, 1, False, self.index
        while True:
            kind, text, _ = self.tokens[index]
            if kind == "end":
                return count, duration
            if kind == "duration" and depth == 0:
                duration = True
            elif kind == "op" and text in ("(", "["):
                depth += 1
            elif kind == "op" and text in (")", "]"):
                if depth == 0:
                    return count, duration
                depth -= 1
            elif kind == "op" and text == "," and depth == 0:
                count += 1
            index += 1

    def _scalar_call(self, name: str, column: int) -> tuple[str, str]:
        arity, result = SCALAR_FUNCTIONS[name]
        arguments = [self._or()]
        while self._accept(","):
            arguments.append(self._or())
        self._take(")")
        if len(arguments) != arity:
            raise ExpressionError(column, f"{name}() takes {arity} argument"
                                          f"{'s' if arity > 1 else ''}, got {len(arguments)}")
        codes = [code for code, _ in arguments]
        if name == "exists":
            if not self._is_field(codes[0]):
                raise ExpressionError(column, "exists() takes a field, e.g. exists(attrs.floor)")
            return f"({codes[0]} is not None)", "bool"
        if name == "contains":
            return f"_contains({codes[0]}, {codes[1]})", "bool"
        if name == "matches":
            pattern = self._literal_string(arguments[1], column, "matches()")
            try:
                compiled = re2.compile(pattern, _RE2_OPTIONS)
            except re2.error as error:
                reason = error.args[0].decode() if error.args and isinstance(
                    error.args[0], bytes) else str(error)
                raise ExpressionError(column, f"invalid regular expression {pattern!r}: "
                                              f"{reason} (RE2 syntax: no backreferences or "
                                              "lookaround)") from None
            constant = f"_re{len(self.constants)}"
            self.constants[constant] = compiled.search
            return f"({constant}({codes[0]}) is not None)", "bool"
        if name == "lower":
            return f"_lower({codes[0]})", "str"
        return f"_{name}({', '.join(codes)})", result

    @staticmethod
    def _is_field(code: str) -> bool:
        return code.startswith("e.") or code.startswith("(e.")

    @staticmethod
    def _literal_string(argument: tuple[str, str], column: int, where: str) -> str:
        code, result = argument
        if result != "str" or not (code.startswith("'") or code.startswith('"')):
            raise ExpressionError(column, f"{where} needs a string literal here")
        return eval(code, {"__builtins__": {}})

    def _window_call(self, name: str, column: int) -> tuple[str, str]:
        if not self.allow_windows:
            raise ExpressionError(column, f"window function {name}() is not allowed here")
        takes_argument, result = WINDOW_FUNCTIONS[name]
        argument = None
        if takes_argument:
            argument = self._plain_argument()
            if self._peek()[1] != ",":
                raise ExpressionError(column, f"{name}() takes a field and a duration, "
                                              f"e.g. {name}(value, 10m)")
            self._take(",")
        duration = self._duration(name, column)
        over = 0
        if name == "avg_count":
            # `over 7d`, `over: 7d` and plain `7d` all read the same: `over: 7d` needs quoting
            # in YAML (": " starts a mapping), so the colon is optional.
            if not self._accept(","):
                raise ExpressionError(column, "avg_count() needs a reference period: "
                                              "avg_count(1h, over 7d)")
            if self._accept("over"):
                self._accept(":")
            over = self._duration(name, column)
            if over < 2 * duration:
                raise ExpressionError(column, "avg_count(): the reference period `over` must be at "
                                              "least twice the window")
        self._take(")")
        spec = WindowSpec(name, argument, duration, over)
        if spec not in self.windows:
            self.windows.append(spec)
        return f"W[{self.windows.index(spec)}].value", result

    def _plain_argument(self) -> str:
        """A window function's argument: any expression without window functions, as source."""
        start = self._peek()[2]
        allowed, self.allow_windows = self.allow_windows, False
        try:
            self._or()
        finally:
            self.allow_windows = allowed
        return self.source[start - 1:self._peek()[2] - 1].strip()

    def _duration(self, name: str, column: int) -> int:
        kind, text, token_column = self._peek()
        if kind != "duration":
            raise ExpressionError(token_column, f"{name}() needs a duration such as 10m here, "
                                                f"found {text!r}" if kind != "end" else
                                                f"{name}() is not closed")
        self.index += 1
        try:
            duration = parse_duration(text)
        except ValueError as error:      # a window longer than a year
            raise ExpressionError(token_column, str(error)) from None
        if duration <= 0:
            raise ExpressionError(token_column, "a window must be longer than zero")
        return duration

    def _previous_call(self, column: int) -> tuple[str, str]:
        if not self.allow_windows:
            raise ExpressionError(column, "previous() is not allowed here")
        argument = self._plain_argument()
        self._take(")")
        spec = WindowSpec("previous", argument, 0)
        if spec not in self.windows:
            self.windows.append(spec)
        return f"W[{self.windows.index(spec)}].value", "any"

    def _score_call(self, column: int) -> tuple[str, str]:
        if not self.allow_windows:
            raise ExpressionError(column, "score() is not allowed here")
        _, text, token_column = self._take("string")
        model = self._unquote(text, token_column)
        self._take(")")
        self.models.add(model)   # the loader checks that the pack defines it
        return f"(e.scores or _E).get({model!r})", "num"

    @staticmethod
    def _unquote(text: str, column: int) -> str:
        body, out, index = text[1:-1], [], 0
        while index < len(body):
            char = body[index]
            if char == "\\":
                escaped = body[index + 1]
                if escaped not in _ESCAPES:
                    raise ExpressionError(column, f"unknown escape \\{escaped} in string")
                out.append(_ESCAPES[escaped])
                index += 2
            else:
                out.append(char)
                index += 1
        return "".join(out)


_DICT_FIELDS = ("attrs",)


def field_code(path: list[str] | tuple[str, ...]) -> str:
    """Python source reading a dotted field from the event `e` (None when absent).

    `ValueError` for a field the envelope does not have: a typo in a rule is refused when the
    file is loaded instead of never matching.
    """
    head = path[0]
    if head == "reporter":
        raise ValueError("reporter: contact details are kept for the reply to residents, "
                         "not for rules")
    if head not in EVENT_FIELDS:
        raise ValueError(f"unknown field {head!r}: an event has {', '.join(EVENT_FIELDS)}; "
                         "free fields are attrs.NAME")
    if head == "location" and len(path) > 1:
        if len(path) > 2 or path[1] not in LOCATION_FIELDS:
            raise ValueError(f"unknown field {'.'.join(path)!r}: a location has "
                             f"{', '.join(LOCATION_FIELDS)}")
        return f"(e.location or _L).{path[1]}"
    code = f"e.{head}"
    if head in _DICT_FIELDS:
        for part in path[1:]:
            code = f"({code} or _E).get({part!r})"
    elif len(path) > 1:
        raise ValueError(f"{head!r} has no fields (only location and attrs do)")
    return code


FIELD_NAMESPACE = {"__builtins__": {}, "_E": {}, "_L": Location()}
