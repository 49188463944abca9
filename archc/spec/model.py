"""The spec file format (version 1) as pydantic models.

Layer lists are kept as the positioned YAML values (SkipValidation): their entries are
open-ended (built-in kinds, structural kinds and user blocks) and are checked by the
expand pass, which knows every kind's schema and every block in scope.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SkipValidation, Strict, field_validator

from archc.spec.names import IDENTIFIER, MAX_NAME_LENGTH, identifier_problem, network_name_problem


def _identifier(name: str) -> str:
    # a full match, checked here rather than by a pydantic pattern, so that the message
    # says what a name is instead of quoting a regular expression
    problem = identifier_problem(name)
    if problem:
        raise ValueError(problem)
    return name


# the pattern is for the JSON Schema (editors); _identifier is what checks
Identifier = Annotated[str, Strict(), AfterValidator(_identifier),
                       Field(json_schema_extra={"pattern": f"^{IDENTIFIER.pattern}$", "maxLength": MAX_NAME_LENGTH})]
PARAM_TYPES = ("int", "float", "bool", "str", "list")


class BlockDef(BaseModel):
    """A parametric block: `params` maps a name to a type (required) or a default value."""

    model_config = ConfigDict(extra="forbid")
    description: str = ""
    params: dict[Identifier, Any] = {}
    layers: SkipValidation[Any]

    @field_validator("params")
    @classmethod
    def _no_reserved_params(cls, params: dict) -> dict:
        for name in params:
            if name in ("name", "from", "merge", "when", "trainable", "i", "in"):
                raise ValueError(f"'{name}' is reserved and cannot be a block parameter")
        return params


class SpecDoc(BaseModel):
    """A network spec: `archc build` compiles one of these."""

    model_config = ConfigDict(extra="forbid")
    archc: Literal[1] = Field(description="format version")
    name: Identifier = Field(description="the network's name; its module class is named after it")
    description: str = ""
    input: Annotated[list[Annotated[int, Strict(), Field(gt=0)] | Identifier], Field(min_length=1, max_length=4)] = Field(
        description="input shape without the batch: (channels, *spatial) or (features,); "
                    "spatial sizes may be names (H, W) for symbolic shapes"
    )
    imports: list[str] = Field(default=[], description="block files (relative paths) or 'std', 'std/<family>'")
    defaults: dict[str, dict[str, Any]] = Field(default={}, description="per-kind default arguments")
    blocks: dict[Identifier, BlockDef] = {}
    layers: SkipValidation[Any]

    @field_validator("name")
    @classmethod
    def _name_is_a_safe_file_name(cls, name: str) -> str:
        problem = network_name_problem(name)
        if problem:
            raise ValueError(problem)
        return name

    @field_validator("input")
    @classmethod
    def _channels_are_concrete(cls, shape: list) -> list:
        if isinstance(shape[0], str):
            raise ValueError("the channel count (first entry) must be a number; only spatial sizes may be names")
        return shape


class BlockFileDoc(BaseModel):
    """A file of blocks that specs import."""

    model_config = ConfigDict(extra="forbid")
    archc: Literal[1]
    description: str = ""
    imports: list[str] = []
    blocks: dict[Identifier, BlockDef] = {}
