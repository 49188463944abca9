"""`archc kinds`: every built-in layer kind with its arguments, from the kinds' own schemas."""
from __future__ import annotations

import json

from archc.layers import KINDS


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
    """One section per kind family: names, what it is, then each argument's type and default."""
    seen: dict[int, list[str]] = {}
    for name, kind in KINDS.items():
        seen.setdefault(id(kind), []).append(name)
    blocks = []
    for names in seen.values():
        if only and only not in names:
            continue
        kind = KINDS[names[0]]
        schema = kind.Args.model_json_schema()
        required = set(schema.get("required", []))
        rows = []
        for arg, prop in schema.get("properties", {}).items():
            default = "required" if arg in required else f"default {json.dumps(prop.get('default'))}"
            rows.append((arg, _type_text(prop), default))
        width = max([len(r[0]) for r in rows] + [0])
        type_width = max([len(r[1]) for r in rows] + [0])
        lines = [f"{' / '.join(names)}: {kind.summary}"]
        lines += [f"  {a:<{width}}  {t:<{type_width}}  {d}" for a, t, d in rows] or ["  (no arguments)"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
