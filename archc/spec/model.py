"""The spec file format (version 1) as pydantic models.

Layer lists are kept as the positioned YAML values (SkipValidation): their entries are
open-ended (built-in kinds, structural kinds and user blocks) and are checked by the
expand pass, which knows every kind's schema and every block in scope.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SkipValidation, Strict, field_validator, model_validator

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
RESERVED_PARAMS = ("name", "from", "merge", "when", "trainable", "i", "in", "size_of")

Shape = Annotated[list[Annotated[int, Strict(), Field(gt=0)] | Identifier], Field(min_length=1, max_length=4)]
# a reference to a value: a name, a dotted path (backbone.layer3) or a negative position (-1)
Reference = Annotated[str, Strict(), Field(min_length=1, max_length=200)] | Annotated[int, Strict(), Field(lt=0)]
OutputKey = Annotated[str, Strict(), Field(min_length=1, max_length=MAX_NAME_LENGTH)]
Outputs = dict[OutputKey, Reference] | Annotated[list[Reference], Field(min_length=1)] | None


class ParameterDef(BaseModel):
    """A learnable tensor a block's (or the network's) module owns itself (ConvNeXt's
    layer_scale, ViT's class_token): its full shape, how it starts, and whether its first
    dim is a batch of one (broadcast, and expanded by concat, to the batch)."""

    model_config = ConfigDict(extra="forbid")
    shape: Annotated[list[Any], Field(min_length=1, max_length=6)]
    init: Any = "zeros"
    batched: Annotated[bool, Strict()] = False


def _reserved(params: dict) -> dict:
    for name in params:
        if name in RESERVED_PARAMS:
            raise ValueError(f"'{name}' is reserved and cannot be a parameter")
    return params


class BlockDef(BaseModel):
    """A parametric block: `params` maps a name to a type (required) or a default value."""

    model_config = ConfigDict(extra="forbid")
    description: str = ""
    params: dict[Identifier, Any] = {}
    inputs: Annotated[list[Identifier], Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="the block's input names (default: one input named 'input')")
    parameters: dict[Identifier, ParameterDef] = Field(default={}, description="learnable tensors the block's module owns")
    layers: SkipValidation[Any]
    outputs: Outputs = Field(default=None, description="named outputs (a dict), a list (a tuple) or none (the last value)")
    order: Annotated[list[Identifier], Field(min_length=1)] | None = Field(
        default=None, description="modules registered first, in this order (the state_dict order), when it "
                                  "differs from the order they run in (Ultralytics' C2f registers cv2 before m)")

    @field_validator("params")
    @classmethod
    def _no_reserved_params(cls, params: dict) -> dict:
        return _reserved(params)


class SpecDoc(BaseModel):
    """A network spec: `archc build` compiles one of these."""

    model_config = ConfigDict(extra="forbid")
    archc: Literal[1] = Field(description="format version")
    name: Identifier = Field(description="the network's name; its module class is named after it")
    description: str = ""
    input: Shape | None = Field(
        default=None,
        description="input shape without the batch: (channels, *spatial) or (features,); "
                    "spatial sizes may be names (H, W) for symbolic shapes"
    )
    inputs: Annotated[dict[Identifier, Shape], Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="several named inputs (instead of input:), in forward()'s order")
    params: dict[Identifier, Any] = Field(default={}, description="parameters (with defaults) a spec that reuses "
                                                                  "this network may set")
    parameters: dict[Identifier, ParameterDef] = Field(default={}, description="learnable tensors the network's module owns")
    imports: list[str] = Field(default=[], description="block files or network specs (relative paths), 'std', 'std/<family>'")
    defaults: dict[str, dict[str, Any]] = Field(default={}, description="per-kind default arguments")
    blocks: dict[Identifier, BlockDef] = {}
    layers: SkipValidation[Any]
    outputs: Outputs = Field(default=None, description="named outputs (a dict), a list (a tuple) or none (the last value)")

    @field_validator("params")
    @classmethod
    def _no_reserved_params(cls, params: dict) -> dict:
        return _reserved(params)

    @field_validator("name")
    @classmethod
    def _name_is_a_safe_file_name(cls, name: str) -> str:
        problem = network_name_problem(name)
        if problem:
            raise ValueError(problem)
        return name

    @field_validator("input")
    @classmethod
    def _channels_are_concrete(cls, shape: list | None) -> list | None:
        if shape is not None and isinstance(shape[0], str):
            raise ValueError("the channel count (first entry) must be a number; only spatial sizes may be names")
        return shape

    @field_validator("inputs")
    @classmethod
    def _each_input_has_concrete_channels(cls, inputs: dict | None) -> dict | None:
        for shape in (inputs or {}).values():
            cls._channels_are_concrete(shape)
        return inputs

    @model_validator(mode="after")
    def _one_way_to_give_inputs(self) -> "SpecDoc":
        if (self.input is None) == (self.inputs is None):
            raise ValueError("give exactly one of 'input' (one input) and 'inputs' (named inputs)")
        return self

    def input_shapes(self) -> dict[str, list]:
        """Each input's shape by name; `input:` is one input named 'input'."""
        return dict(self.inputs) if self.inputs is not None else {"input": self.input}


class BlockFileDoc(BaseModel):
    """A file of blocks that specs import."""

    model_config = ConfigDict(extra="forbid")
    archc: Literal[1]
    description: str = ""
    imports: list[str] = []
    blocks: dict[Identifier, BlockDef] = {}
