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

# the arguments that hold layer lists (and branches: a mapping of names to layer lists)
LAYER_LISTS = ("layers", "body", "shortcut", "after")
