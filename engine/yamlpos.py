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
from yaml.constructor import ConstructorError, SafeConstructor

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


def load(text: str, filename: str = "<string>") -> Any:
    """Decode one YAML document into located values; `YamlError` on a syntax error."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise YamlError(mark.line + 1 if mark else 1,
                        f"invalid YAML: {error.problem or error}") from None
    if node is None:
        return None
    return _convert(node, _Constructor())


def _convert(node: yaml.Node, constructor: _Constructor) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result = LocatedDict()
        result.line, result.lines = line, {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError(key_node.start_mark.line + 1,
                                "YAML merge keys (<<) are not supported")
            key = _convert(key_node, constructor)
            if isinstance(key, (dict, list)):
                raise YamlError(key_node.start_mark.line + 1, "a mapping key must be a scalar")
            if key in result:
                raise YamlError(key_node.start_mark.line + 1,
                                f"duplicate key {key!r} (first at line {result.lines[key]})")
            result[key] = _convert(value_node, constructor)
            result.lines[key] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        result = LocatedList(_convert(item, constructor) for item in node.value)
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
