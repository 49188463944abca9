"""Safe YAML loading that remembers where every value came from.

PyYAML's composer gives nodes with marks; we build plain dicts and lists from them
ourselves so that (1) only YAML's standard scalar tags are accepted (no Python objects),
(2) duplicate keys are an error instead of silently keeping the last, (3) aliases are
expanded under a budget, so an alias bomb fails fast in little memory (an honest document
is bounded by the file size instead), (4) nesting is bounded, so no document can exhaust
Python's stack, and (5) every scalar is one Python can hold and print (no integer too long
to convert, no lone surrogate).
"""
from __future__ import annotations

import contextlib
import gc
import re
from typing import Any

import yaml
import yaml.composer
import yaml.constructor
import yaml.resolver
from yaml.constructor import SafeConstructor

from archc.errors import ArchcError, Loc, value_kind
from archc.spec.files import MAX_FILE_BYTES
from archc.spec.yaml_errors import syntax_error

MAX_NODES = 50_000  # values reached through aliases; a large real spec uses a few hundred
MAX_DEPTH = 200  # nesting of lists and mappings (a deeply nested real spec needs ~40)
MAX_INT_CHARS = 4_300  # Python's own limit on converting decimal text to int
_MAX_INT_BITS = 14_000  # about 4,300 decimal digits: anything longer cannot even be printed
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def _joined_pair(match: re.Match) -> str:
    high, low = match.group()
    return chr(0x10000 + ((ord(high) - 0xD800) << 10) + (ord(low) - 0xDC00))


_STR = "tag:yaml.org,2002:str"
_SCALAR_TAGS = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


class _TooDeep(Exception):
    def __init__(self, mark):
        self.mark = mark


class _DepthLimit:
    """A composer (PyYAML's recurses once per level) that refuses deep nesting before
    Python's stack runs out."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _PureLoader(_DepthLimit, yaml.SafeLoader):
    """PyYAML's safe loader in Python: the reference, and the one whose error messages
    yaml_errors knows."""


try:
    from yaml._yaml import CParser
except ImportError:  # PyYAML built without libyaml
    CParser = None

if CParser is not None:
    class _FastLoader(_DepthLimit, yaml.composer.Composer, CParser, yaml.constructor.SafeConstructor,
                      yaml.resolver.Resolver):
        """libyaml's parser (ten times faster on a 10,000-layer spec) under PyYAML's Python
        composer, so nesting stays bounded: libyaml's own composer recurses in C, unchecked."""

        def __init__(self, stream):
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)


# PyYAML resolves YAML 1.1, whose floats need a '.' and a signed exponent: 1e-5 and 1.0e5
# would be text. Specs are written with PyTorch's numbers (eps=1e-5), and YAML 1.2 and JSON
# read them as floats, so archc does too (a quoted "1e-5" stays text).
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
for _loader in (_PureLoader, *([_FastLoader] if CParser is not None else [])):
    _loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


def _compose(text: str) -> yaml.Node | None:
    if CParser is not None:
        try:
            return yaml.compose(text, Loader=_FastLoader)
        except (yaml.YAMLError, UnicodeEncodeError):
            pass  # the pure loader finds the same problem and reports it in words we know
    return yaml.compose(text, Loader=_PureLoader)


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


def _too_deep(loc: Loc) -> ArchcError:
    return ArchcError("yaml-too-deep", "lists and mappings nest too deeply", loc,
                      expected=f"at most {MAX_DEPTH} levels of nesting", found="more",
                      hint="a spec never needs this much nesting; use blocks to structure a network")


class _Builder:
    """Builds YMap/YList/scalars from composed nodes. PyYAML's composer hands an aliased node
    back as the very node object its anchor made, so a node met a second time is reached
    through an alias: those values, and only those, spend the alias budget."""

    def __init__(self, file: str, max_nodes: int):
        self.file = file
        self.max_nodes = max_nodes
        self.budget = max_nodes
        self.scalars = SafeConstructor()
        self.built: set[int] = set()  # ids of nodes built at least once
        self.open: set[int] = set()  # ids of the nodes being built now (to find cycles)
        self.depth = 0

    def build(self, node: yaml.Node, via_alias: bool = False) -> Any:
        if id(node) in self.open:
            raise ArchcError(
                "yaml-recursive-alias", "an alias refers to the value it is part of", _loc(self.file, node),
                expected="an alias to a value defined before it", found="an alias inside its own anchor",
                hint="a value cannot contain itself; copy the part you need instead",
            )
        via_alias = via_alias or id(node) in self.built
        self.built.add(id(node))
        if via_alias:
            self.budget -= 1
            if self.budget < 0:
                raise ArchcError(
                    "yaml-too-large",
                    "aliases expand to too many values (an alias bomb?)",
                    _loc(self.file, node),
                    expected=f"at most {self.max_nodes:,} values reached through aliases",
                    found="more",
                    hint="anchors and aliases are allowed, but not nested expansions this large",
                )
        if self.depth >= MAX_DEPTH:  # aliases can nest what the composer saw as shallow
            raise _too_deep(_loc(self.file, node))
        self.depth += 1
        self.open.add(id(node))
        try:
            return self._build(node, via_alias)
        finally:
            self.open.discard(id(node))
            self.depth -= 1

    def _build(self, node: yaml.Node, via_alias: bool) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, "tag:yaml.org,2002:seq")
            out = YList(self.build(item, via_alias) for item in node.value)
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
                key = self.build(key_node, via_alias)
                if not isinstance(key, (str, int, float, bool)) or key is None:
                    raise ArchcError(
                        "yaml-key", "a mapping key must be a plain value (text or a number)",
                        _loc(self.file, key_node), found=value_kind(key),
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
                out[key] = self.build(value_node, via_alias)
            return out
        raise TypeError(f"PyYAML composed an unexpected node type {type(node).__name__}")  # cannot happen

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise ArchcError(
                "yaml-tag",
                f"YAML tag '{node.tag}' is not allowed in a spec",
                _loc(self.file, node),
                expected="plain strings, numbers, booleans, null, lists and mappings",
                found=node.tag,
                hint="specs are data: tags that construct objects are refused",
            )
        if node.tag == "tag:yaml.org,2002:int" and len(node.value) > MAX_INT_CHARS:
            # checked on the text: converting it (sexagesimal 1:2:3…, long decimals) is the cost
            raise self._long_int(node, f"{len(node.value):,} characters")
        try:
            # SafeConstructor's own function for the tag, without its cache of every node built
            value = node.value if node.tag == _STR else SafeConstructor.yaml_constructors[node.tag](self.scalars, node)
        except ValueError:  # an integer Python refuses to convert
            raise self._long_int(node, "a number too long to convert") from None
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > _MAX_INT_BITS:
            raise self._long_int(node, f"a number of {value.bit_length():,} bits")
        if isinstance(value, str):
            # JSON writes a character beyond U+FFFF as a UTF-16 pair of escapes, and PyYAML keeps the
            # halves: join them, as a JSON reader does; a half alone is not a character
            value = _SURROGATE_PAIR.sub(_joined_pair, value)
            bad = _SURROGATE.search(value)
            if bad:
                raise ArchcError(
                    "yaml-string", "a string holds a lone surrogate, which is not a character",
                    _loc(self.file, node), expected="text made of characters",
                    found=f"\\u{ord(bad.group()):04x} at offset {bad.start()} of the string",
                    hint="\\ud800-\\udfff escapes are halves of UTF-16 pairs, not characters; "
                         "write the character itself or its \\U escape",
                )
        return value

    def _long_int(self, node: yaml.Node, found: str) -> ArchcError:
        return ArchcError("yaml-number", "this integer is too long to be a number in a spec", _loc(self.file, node),
                          expected=f"at most {MAX_INT_CHARS:,} digits", found=found,
                          hint="no size in a network needs this many digits")

    def _check_tag(self, node: yaml.Node, standard: str) -> None:
        if node.tag != standard:
            raise ArchcError(
                "yaml-tag", f"YAML tag '{node.tag}' is not allowed in a spec", _loc(self.file, node),
                expected="no explicit tags", found=node.tag,
                hint="specs are data: tags that construct objects are refused",
            )


def parse_yaml(data: bytes | str, file: str, max_nodes: int = MAX_NODES) -> Any:
    """Parse one YAML document into YMap/YList/scalars, with positions; never runs code."""
    if len(data) > MAX_FILE_BYTES * (1 if isinstance(data, bytes) else 4):
        raise ArchcError(
            "file-too-large", "the file is too large to be a spec", Loc(file, 1, 1),
            expected=f"at most {MAX_FILE_BYTES:,} bytes", found=f"{len(data):,} {'bytes' if isinstance(data, bytes) else 'characters'}",
        )
    if isinstance(data, bytes):
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
    with _gc_paused():
        try:
            node = _compose(text)
        except _TooDeep as exc:
            raise _too_deep(Loc(file, exc.mark.line + 1, exc.mark.column + 1)) from None
        except yaml.YAMLError as exc:
            raise syntax_error(exc, file, text) from None
        if node is None:
            raise ArchcError("empty-spec", "the file is empty", Loc(file, 1, 1),
                             expected="a mapping with archc, name, input and layers")
        return _Builder(file, max_nodes).build(node)


@contextlib.contextmanager
def _gc_paused():
    """Python's cycle collector runs again and again while tens of thousands of nodes are
    made, and finds nothing (they are all alive): pausing it halves a large spec's parse."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
