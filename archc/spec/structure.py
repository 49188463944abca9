"""The structural kinds of the language (sequential, repeat, residual, parallel, dense) and
their arguments. Layer lists inside them stay positioned YAML (SkipValidation): the expand
pass reads them. The JSON Schema is derived from these same models."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SkipValidation, Strict

Count = Annotated[int, Strict(), Field(ge=0)]


class _Structural(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SequentialArgs(_Structural):
    layers: SkipValidation[Any]


class RepeatArgs(_Structural):
    times: Count
    layers: SkipValidation[Any]
    prefix: Annotated[str, Strict()] | None = None


class ResidualArgs(_Structural):
    body: SkipValidation[Any]
    shortcut: SkipValidation[Any] = None
    shortcut_name: Annotated[str, Strict()] = "shortcut"
    after: SkipValidation[Any] = None
    merge: str = "add"


class ParallelArgs(_Structural):
    branches: SkipValidation[Any]
    merge: str = "concat"


class DenseArgs(_Structural):
    units: Count
    layers: SkipValidation[Any]
    prefix: Annotated[str, Strict()] | None = None


STRUCTURAL: dict[str, type[_Structural]] = {
    "sequential": SequentialArgs,
    "repeat": RepeatArgs,
    "residual": ResidualArgs,
    "parallel": ParallelArgs,
    "dense": DenseArgs,
}

# what each structural kind does and what its layer-holding arguments hold, for `archc kinds`
SUMMARIES: dict[str, str] = {
    "sequential": "its layers in order, grouped as one module (an nn.Sequential)",
    "repeat": "its layers `times` times over; `i` (0-based) is bound inside; unnamed it splices into the "
              "enclosing list, named it is a Sequential; prefix names iterations prefix1, prefix2, …",
    "residual": "merge(body(x), shortcut(x)), then `after`; no shortcut (or all dropped by when:) is the identity",
    "parallel": "named branches side by side on the same input (Inception), merged",
    "dense": "DenseNet: `units` copies of its layers, each unit's output concatenated onto its input",
}
ARGUMENT_TYPES: dict[str, str] = {
    "layers": "list of layers",
    "body": "list of layers",
    "shortcut": "list of layers",
    "after": "list of layers (after the merge)",
    "branches": "mapping of branch name → list of layers",
    "merge": "add | concat | mul",
}

# the arguments that hold layer lists (and branches: a mapping of names to layer lists)
LAYER_LISTS = ("layers", "body", "shortcut", "after")
