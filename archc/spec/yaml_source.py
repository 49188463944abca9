"""Safe YAML loading that remembers where every value came from.

PyYAML's composer gives nodes with marks; we build plain dicts and lists from them
ourselves so that (1) only YAML's standard scalar tags are accepted (no Python objects),
(2) duplicate keys are an error instead of silently keeping the last, and (3) aliases
are expanded under a node budget, so an alias bomb fails fast in little memory.
"""
from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from archc.errors import ArchcError, Loc

MAX_FILE_BYTES = 2_000_000
MAX_NODES = 50_000  # a large real spec (DenseNet-201 written out) is a few hundred values

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class YMap(dict):
    """A mapping from YAML, with the position of itself, each key and each value."""

    loc: Loc
    key_locs: dict
    value_locs: dict


class YList(list):
    """A sequence from YAML, with the position of itself and each item."""

    loc: Loc
    item_locs: list


def _loc(file: str, node: yaml.Node) -> Loc:
    return Loc(file, node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, file: str, max_nodes: int):
        self.file = file
        self.budget = max_nodes
        self.scalars = SafeConstructor()

    def build(self, node: yaml.Node) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise ArchcError(
                "yaml-too-large",
                "the document expands to too many values (aliases nest too deeply?)",
                _loc(self.file, node),
                expected=f"at most {MAX_NODES:,} values after expanding aliases",
                found="more",
                hint="anchors and aliases are allowed, but not nested expansions this large",
            )
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                raise ArchcError(
                    "yaml-tag",
                    f"YAML tag '{node.tag}' is not allowed in a spec",
                    _loc(self.file, node),
                    expected="plain strings, numbers, booleans, null, lists and mappings",
                    found=node.tag,
                    hint="specs are data: tags that construct objects are refused",
                )
            return self.scalars.construct_object(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, "tag:yaml.org,2002:seq")
            out = YList(self.build(item) for item in node.value)
            out.loc = _loc(self.file, node)
            out.item_locs = [_loc(self.file, item) for item in node.value]
            return out
        if isinstance(node, yaml.MappingNode):
            self._check_tag(node, "tag:yaml.org,2002:map")
            out = YMap()
            out.loc = _loc(self.file, node)
            out.key_locs, out.value_locs = {}, {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise ArchcError(
                        "yaml-merge-key",
                        "YAML merge keys ('<<') are not supported",
                        _loc(self.file, key_node),
                        hint="use 'defaults:' for shared arguments or define a block",
                    )
                key = self.build(key_node)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise ArchcError(
                        "yaml-key", "a mapping key must be a plain scalar",
                        _loc(self.file, key_node), found=type(key).__name__,
                    )
                if key in out:
                    first = out.key_locs[key]
                    raise ArchcError(
                        "duplicate-key",
                        f"key '{key}' appears twice in one mapping",
                        _loc(self.file, key_node),
                        expected="each key once",
                        found=f"'{key}' first at line {first.line}, again at line {key_node.start_mark.line + 1}",
                        hint="YAML would silently keep only the last one; remove or rename one",
                    )
                out.key_locs[key] = _loc(self.file, key_node)
                out.value_locs[key] = _loc(self.file, value_node)
                out[key] = self.build(value_node)
            return out
        raise TypeError(f"PyYAML composed an unexpected node type {type(node).__name__}")  # cannot happen

    def _check_tag(self, node: yaml.Node, standard: str) -> None:
        if node.tag != standard:
            raise ArchcError(
                "yaml-tag", f"YAML tag '{node.tag}' is not allowed in a spec", _loc(self.file, node),
                expected="no explicit tags", found=node.tag,
                hint="specs are data: tags that construct objects are refused",
            )


def parse_yaml(data: bytes | str, file: str, max_nodes: int = MAX_NODES) -> Any:
    """Parse one YAML document into YMap/YList/scalars, with positions; never runs code."""
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            raise ArchcError(
                "file-too-large", "the file is too large to be a spec", Loc(file, 1, 1),
                expected=f"at most {MAX_FILE_BYTES:,} bytes", found=f"{len(data):,} bytes",
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise ArchcError(
                "not-utf8", "the file is not valid UTF-8 text", Loc(file, line, col),
                found=f"byte 0x{data[exc.start]:02x}", hint="save the spec as UTF-8",
            ) from None
    else:
        text = data
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:  # scanner, parser and composer errors, with a position
        mark = exc.problem_mark or exc.context_mark
        raise ArchcError(
            "yaml-syntax", f"{exc.problem or 'invalid YAML'}" + (f" ({exc.context})" if exc.context else ""),
            Loc(file, mark.line + 1, mark.column + 1) if mark else Loc(file, 1, 1),
        ) from None
    except yaml.YAMLError as exc:
        raise ArchcError("yaml-syntax", f"invalid YAML: {exc}", Loc(file, 1, 1)) from None
    if node is None:
        raise ArchcError("empty-spec", "the file is empty", Loc(file, 1, 1),
                         expected="a mapping with archc, name, input and layers")
    return _Builder(file, max_nodes).build(node)


def value_loc(container: Any, key: Any, fallback: Loc | None) -> Loc | None:
    """Where container[key] was written, or the fallback when unknown."""
    if isinstance(container, YMap):
        return container.value_locs.get(key, container.loc)
    if isinstance(container, YList) and isinstance(key, int) and 0 <= key < len(container.item_locs):
        return container.item_locs[key]
    return getattr(container, "loc", fallback)


def key_loc(container: Any, key: Any, fallback: Loc | None) -> Loc | None:
    """Where a key of a mapping was written."""
    if isinstance(container, YMap):
        return container.key_locs.get(key, container.loc)
    return getattr(container, "loc", fallback)


def locate(root: Any, path: tuple, fallback: Loc | None) -> Loc | None:
    """Follow a pydantic-style error path through YMap/YList to the nearest known position."""
    here, loc = root, getattr(root, "loc", fallback)
    for step in path:
        if isinstance(here, (YMap, YList)):
            try:
                loc = value_loc(here, step, loc)
                here = here[step]
                continue
            except (KeyError, IndexError, TypeError):
                if isinstance(here, YMap) and step not in here:
                    return loc
        break
    return loc
