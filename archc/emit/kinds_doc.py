"""`archc kinds`: every built-in layer kind with its arguments, from the kinds' own schemas;
then the structural kinds (from their models in spec/structure.py) and the standard
library's blocks with their parameters (from the std/*.yaml files themselves)."""
from __future__ import annotations

import json

from archc.errors import ArchcError, did_you_mean
from archc.layers import KINDS
from archc.spec.model import PARAM_TYPES
from archc.spec.structure import ARGUMENT_TYPES, STRUCTURAL, SUMMARIES


def _type_text(schema: dict) -> str:
    if "anyOf" in schema:
        return " | ".join(_type_text(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if "const" in schema:
        return str(schema["const"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type_text(schema.get('items', {}))}"
    text = {"integer": "int", "number": "number", "boolean": "bool", "string": "str", "null": "none"}.get(kind, kind or "any")
    for key, op in (("exclusiveMinimum", ">"), ("minimum", "≥"), ("maximum", "≤")):
        if key in schema:
            text += f" {op} {schema[key]}"
    return text


def kinds_text(only: str | None = None) -> str:
    """Everything (built-in kinds, structural kinds, std blocks), or the one entry `only`
    names: a kind, a structural kind, 'std', a family ('std/resnet') or a block ('basic_block')."""
    from archc.spec.load import std_blocks

    families = std_blocks()
    if only is None:
        return "\n\n".join([builtin_text(), "structural kinds:", structural_text(),
                             "standard-library blocks (imports: [std], or one family such as std/resnet):",
                             std_text(families)])
    if any(only in names for names in _families()):
        return builtin_text(only)
    if only in STRUCTURAL:
        return structural_text(only)
    if only == "std" or only in families:
        return std_text(families, family=None if only == "std" else only)
    if any(only in blocks for blocks in families.values()):
        return std_text(families, block=only)
    known = [*KINDS, *STRUCTURAL, "std", *families, *(b for blocks in families.values() for b in blocks)]
    raise ArchcError("unknown-kind", f"unknown layer kind '{only}'",
                     expected="a built-in or structural kind, std/<family> or a standard-library block",
                     found=f"'{only}'", hint=did_you_mean(only, known))


def _families() -> list[list[str]]:
    """The built-in kinds' names, those of one class together (max_pool1d / max_pool2d / …)."""
    seen: dict[int, list[str]] = {}
    for name, kind in KINDS.items():
        seen.setdefault(id(kind), []).append(name)
    return list(seen.values())


def _argument_rows(schema: dict, types: dict[str, str]) -> list[str]:
    required = set(schema.get("required", []))
    rows = []
    for arg, prop in schema.get("properties", {}).items():
        default = "required" if arg in required else f"default {json.dumps(prop.get('default'))}"
        rows.append((arg, types.get(arg) or _type_text(prop), default))
    width = max([len(r[0]) for r in rows] + [0])
    type_width = max([len(r[1]) for r in rows] + [0])
    return [f"  {a:<{width}}  {t:<{type_width}}  {d}" for a, t, d in rows] or ["  (no arguments)"]


def builtin_text(only: str | None = None) -> str:
    """One section per kind family: names, what it is, then each argument's type and default."""
    blocks = []
    for names in _families():
        if only and only not in names:
            continue
        kind = KINDS[names[0]]
        rows = _argument_rows(kind.Args.model_json_schema(), {})
        blocks.append("\n".join([f"{' / '.join(names)}: {kind.summary}", *rows]))
    return "\n\n".join(blocks)


def structural_text(only: str | None = None) -> str:
    """sequential, repeat, residual, parallel, dense: what each does and its arguments."""
    blocks = []
    for name, model in STRUCTURAL.items():
        if only and only != name:
            continue
        rows = _argument_rows(model.model_json_schema(), ARGUMENT_TYPES)
        blocks.append("\n".join([f"{name}: {SUMMARIES[name]}", *rows]))
    return "\n\n".join(blocks)


def std_text(families: dict, family: str | None = None, block: str | None = None) -> str:
    """Each std family (its import name) and its blocks, one line each with their parameters
    (a type: required; a value: the default) and description."""
    sections = []
    for shown, blocks in families.items():
        if family and family != shown or block and block not in blocks:
            continue
        lines = [shown]
        for name, definition in blocks.items():
            if block and block != name:
                continue
            params = ", ".join(f"{p}: {v}" if isinstance(v, str) and v in PARAM_TYPES else f"{p} = {json.dumps(v)}"
                               for p, v in definition.params.items())
            about = " ".join(definition.description.split())
            lines.append(f"  {name}({params})" + (f": {about}" if about else ""))
        sections.append("\n".join(lines))
    return "\n\n".join(sections)
