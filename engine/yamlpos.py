"""YAML decoding that remembers where each value came from, for `FILE:LINE` errors.

PyYAML's composed node tree keeps positions; this turns it into plain dicts and lists whose
subclasses carry the 1-based line of the container and of each item, and refuses duplicate keys
(which plain YAML loaders silently resolve to the last one).

>>> doc = load("rules:\\n  - id: a\\n    when: value > 1\\n", "f.yaml")
>>> doc["rules"][0].line_of("when")
3
"""
from __future__ import annotations

import re
from typing import Any

import yaml
from yaml._yaml import CParser
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.resolver import Resolver

__all__ = ["Located", "LocatedDict", "LocatedList", "YamlError", "load", "plain"]


class YamlError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class Located:
    line: int
    lines: dict

    def line_of(self, key: Any) -> int:
        return self.lines.get(key, self.line)


class LocatedDict(dict, Located):
    pass


class LocatedList(list, Located):
    pass


class _Constructor(SafeConstructor):
    pass


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false. YAML 1.1 also reads on/off/yes/no as booleans, which
    would turn a rule's `on:` key into True."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                              re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

# No base-60 numbers either (YAML 1.1 reads `20:00` as the integer 1200): a time of day in a
# duty roster stays the text it is.
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, re.compile(r"^(?!.*:)(?:" + regexp.pattern + ")", regexp.flags))
            if tag in _NUMBERS else (tag, regexp) for tag, regexp in resolvers]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}


# A rule file is a few levels deep and has no use for aliases; these bounds refuse, with the
# line, what would otherwise cost minutes and gigabytes (an alias "bomb" of 764 bytes expands
# to billions of values) or the interpreter's stack (a document nested thousands deep).
MAX_DEPTH = 32
MAX_ALIASES = 100
MAX_ALIASED_VALUES = 10_000    # what the aliases repeat, all together


class _LimitedLoader(Composer, CParser, SafeConstructor, Resolver):
    """The YAML 1.2 loader, refusing documents nested too deep or with too many aliases.

    libyaml parses (a pack of 10,000 rules in a second rather than in twenty), PyYAML's own
    composer builds the nodes from its events, so that the bounds below apply as they grow."""

    yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers

    def __init__(self, stream: str) -> None:
        CParser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.depth = 0
        self.aliases = 0
        self.aliased = 0                   # values the aliases repeat
        self._sizes: dict[int, int] = {}   # node id -> values it expands to

    def compose_node(self, parent: Any, index: Any) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1
        alias = isinstance(event, yaml.AliasEvent)
        if alias:
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise YamlError(line, f"more than {MAX_ALIASES} YAML aliases (*name)")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise YamlError(line, f"nested more than {MAX_DEPTH} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        if alias:
            self.aliased += self._size(node)
            if self.aliased > MAX_ALIASED_VALUES:
                raise YamlError(line, f"the aliases repeat more than {MAX_ALIASED_VALUES:,} "
                                      "values (each alias repeats all that it names)")
        return node

    def _size(self, node: yaml.Node) -> int:
        known = self._sizes.get(id(node))
        if known is None:
            if isinstance(node, yaml.MappingNode):
                known = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
            elif isinstance(node, yaml.SequenceNode):
                known = 1 + sum(self._size(item) for item in node.value)
            else:
                known = 1
            self._sizes[id(node)] = known
        return known


def load(text: str, filename: str = "<string>") -> Any:
    """Decode one YAML document into located values; `YamlError` on a syntax error or past
    one of the bounds above."""
    loader = None
    try:
        loader = _LimitedLoader(text)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        if "maximum nesting depth" in str(error.problem):   # libyaml's own bound, scanning ahead
            raise YamlError(line, f"nested more than {MAX_DEPTH} levels deep") from None
        raise YamlError(line, f"invalid YAML: {error.problem or error}") from None
    except yaml.YAMLError as error:    # a reader error: a character YAML does not allow
        raise YamlError(_reader_line(text, error), f"invalid YAML: {error}") from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return None
    return _convert(node, _Constructor(), 0)


def _reader_line(text: str, error: yaml.YAMLError) -> int:
    position = getattr(error, "position", None)
    return text.count("\n", 0, position) + 1 if isinstance(position, int) else 1


def _convert(node: yaml.Node, constructor: _Constructor, depth: int) -> Any:
    line = node.start_mark.line + 1
    if depth > MAX_DEPTH:    # an alias placed deep can name a node nested deep
        raise YamlError(line, f"nested more than {MAX_DEPTH} levels deep (through an alias)")
    depth += 1
    if isinstance(node, yaml.MappingNode):
        result = LocatedDict()
        result.line, result.lines = line, {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError(key_node.start_mark.line + 1,
                                "YAML merge keys (<<) are not supported")
            key = _convert(key_node, constructor, depth)
            if isinstance(key, (dict, list)):
                raise YamlError(key_node.start_mark.line + 1, "a mapping key must be a scalar")
            if key in result:
                raise YamlError(key_node.start_mark.line + 1,
                                f"duplicate key {key!r} (first at line {result.lines[key]})")
            result[key] = _convert(value_node, constructor, depth)
            result.lines[key] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        result = LocatedList(_convert(item, constructor, depth) for item in node.value)
        result.line = line
        result.lines = {index: item.start_mark.line + 1 for index, item in enumerate(node.value)}
        return result
    try:
        return constructor.construct_object(node, deep=True)
    except ConstructorError as error:
        raise YamlError(line, f"invalid YAML value: {error.problem}") from None


def plain(value: Any) -> Any:
    """The same value with plain dicts and lists, for code that checks exact types."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
