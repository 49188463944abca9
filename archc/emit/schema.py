"""`archc schema`: the JSON Schema of spec files, for editors' completion and checking.

Built from the same pydantic models archc validates with: the top level (SpecDoc), each
built-in kind's Args, and the structural kinds. Every argument also accepts `$param` and
`${expr}` strings, and a one-key mapping whose key is not a built-in kind is a block use.
"""
from __future__ import annotations

import copy
from typing import Any

from archc.graph import MERGES
from archc.layers import KINDS
from archc.spec.model import BlockDef, SpecDoc
from archc.spec.structure import LAYER_LISTS, STRUCTURAL

SCHEMA_ID = "https://archc.dev/schema/spec-v1.json"
_EXPR = {"type": "string", "pattern": r"^\$", "description": "a parameter ($p) or an expression (${...})"}
_LAYERS = {"$ref": "#/$defs/layers"}
_META = {
    "name": {"type": "string", "pattern": r"^([A-Za-z_][A-Za-z0-9_-]*|.*\$\{.*)$", "description": "module name (state_dict key)"},
    "from": {"anyOf": [{"type": "string"}, {"type": "integer", "maximum": -1},
                       {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer", "maximum": -1}]}}],
             "description": "read earlier values instead of the previous one: a name, a dotted path "
                            "(backbone.layer3) or -1 for the previous value"},
    "merge": {"enum": list(MERGES), "description": "how several 'from' inputs combine"},
    "when": {"anyOf": [{"type": "boolean"}, _EXPR], "description": "false drops this layer"},
    "trainable": {"anyOf": [{"type": "boolean"}, _EXPR], "description": "false freezes its parameters"},
}


def _init_schema() -> dict:
    from archc.layers.init import FUNCTIONS

    one = {"anyOf": [{"enum": list(FUNCTIONS)}, {"type": "number"}, {"type": "array"},
                     {"type": "object", "maxProperties": 1, "propertyNames": {"enum": list(FUNCTIONS)}}]}
    return {"anyOf": [one, {"type": "object", "additionalProperties": one}],
            "description": "how parameters start: a torch.nn.init function, a constant or literal values"}


def _allow_expressions(prop: dict) -> dict:
    if "$ref" in prop and "layers" in prop["$ref"]:
        return prop
    return {"anyOf": [prop, _EXPR], **{k: prop[k] for k in ("description", "default") if k in prop}}


def _args_schema(properties: dict, required: list[str], description: str = "") -> dict:
    props = {name: _allow_expressions(p) for name, p in properties.items()}
    props.update(_META)
    out = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    if description:
        out["description"] = description
    return out


def _kind_entry(kind: str, args: dict, takes_no_required: bool) -> dict:
    entry = {"type": "object", "properties": {kind: args}, "required": [kind], "additionalProperties": False}
    if takes_no_required:  # `- relu` and `- relu: {inplace: true}` and `- relu:` all work
        entry["properties"][kind] = {"anyOf": [args, {"type": "null"}]}
    return entry


def _structural_properties(raw: dict) -> dict:
    """A structural kind's properties, with its layer lists pointing at the layer schema."""
    props = {}
    for name, prop in raw.get("properties", {}).items():
        if name in LAYER_LISTS:
            props[name] = _LAYERS
        elif name == "branches":
            props[name] = {"type": "object", "additionalProperties": _LAYERS, "minProperties": 1}
        elif name == "merge":  # a plain str in the model, so that a typo gets archc's located hint
            props[name] = {"enum": list(MERGES), "default": prop.get("default")}
        else:
            props[name] = prop
    return props


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an archc spec file."""
    entries, bare = [], []
    defs: dict[str, Any] = {}
    for kind in sorted(KINDS):
        model = KINDS[kind].Args
        raw = model.model_json_schema()
        defs.update(raw.pop("$defs", {}))
        # nothing is required here: `defaults:` may supply any argument (archc itself reports
        # what is still missing, with its position)
        properties = dict(raw.get("properties", {}))
        if KINDS[kind].family in ("conv", "linear") or kind.startswith("batch_norm"):
            properties["init"] = _init_schema()
        if kind == "interpolate":
            properties["size_of"] = {"type": "string", "description": "resize to this value's spatial size"}
        entries.append(_kind_entry(kind, _args_schema(properties, [], KINDS[kind].summary), True))
        bare.append(kind)
    for kind, model in STRUCTURAL.items():
        raw = model.model_json_schema()
        entries.append(_kind_entry(kind, _args_schema(_structural_properties(raw), raw.get("required", [])), False))
    block_use = {
        "type": "object", "minProperties": 1, "maxProperties": 1,
        "propertyNames": {"not": {"enum": sorted([*KINDS, *STRUCTURAL])}},
        "additionalProperties": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        "description": "a block in scope, used with its parameters",
    }
    layer = {"anyOf": [{"enum": bare, "description": "a layer kind written bare"},
                       {"type": "string", "description": "a block without parameters"}, *entries, block_use]}
    top = copy.deepcopy(SpecDoc.model_json_schema())
    defs.update(top.pop("$defs", {}))
    top["properties"]["layers"] = _LAYERS
    block = copy.deepcopy(BlockDef.model_json_schema())
    defs.update(block.pop("$defs", {}))
    block["properties"]["layers"] = _LAYERS
    block.pop("title", None)
    top["properties"]["blocks"] = {"type": "object", "additionalProperties": block}
    top["properties"]["defaults"] = {"type": "object", "properties": {
        kind: {"type": "object"} for kind in sorted(KINDS)}, "additionalProperties": False}
    top["required"] = sorted(set(top.get("required", [])) | {"layers"})
    defs["layer"] = layer
    defs["layers"] = {"type": "array", "items": {"$ref": "#/$defs/layer"}, "minItems": 1}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "archc spec", **top, "$defs": defs}
