"""What a layer kind is: argument schema, shape rule, counts and torch constructor together."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from archc.shapes import ShapeError, format_shape


def _number_only(value: Any) -> Any:
    # YAML gives real numbers; refuse strings and booleans that pydantic would coerce.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("expected a number")
    return value


Int = Annotated[int, Strict()]
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
Bool = Annotated[bool, Strict()]
Number = Annotated[float, BeforeValidator(_number_only)]
Probability = Annotated[float, BeforeValidator(_number_only), Field(ge=0, le=1)]
Sizes = PositiveInt | list[PositiveInt]  # an int for every spatial dim, or one per dim
PadSizes = NonNegativeInt | list[NonNegativeInt]


class Args(BaseModel):
    """Base of every kind's arguments: unknown keys refused, values frozen after checking."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(Args):
    pass


@dataclass(frozen=True)
class Inferred:
    """What shape inference learns about one layer."""

    shape: tuple[int, ...]
    params: int = 0
    macs: int = 0


@dataclass(frozen=True)
class TorchCall:
    """A torch.nn constructor call: the one description both emitters use.

    The module emitter calls getattr(torch.nn, cls)(*args, **kwargs); the source emitter
    prints `nn.<cls>(...)` from the same values, so the two cannot disagree. With
    runtime=True the class is one of archc's runtime modules (plain PyTorch that the
    generated source inlines), for operations torch.nn has no module for.
    """

    cls: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    runtime: bool = False


class Kind:
    """One family of layer kinds (e.g. conv1d/conv2d/conv3d share a class)."""

    names: ClassVar[tuple[str, ...]] = ()
    family: ClassVar[str] = ""
    Args: ClassVar[type[Args]] = NoArgs
    summary: ClassVar[str] = ""

    def infer(self, kind: str, a: Args, shape: tuple[int, ...]) -> Inferred:
        raise NotImplementedError

    def torch_call(self, kind: str, a: Args, shape: tuple[int, ...]) -> TorchCall:
        raise NotImplementedError

    def label(self, kind: str, a: Args) -> str:
        """Compact notation for diagrams and tables, e.g. 'conv2d 11×11/4, p1 → 96'."""
        return kind

    def param_shapes(self, kind: str, a: Args, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """The shape of each learnable parameter, by torch's attribute name."""
        return {}

    def explain(self, kind: str, a: Args, shape: tuple[int, ...], out: Inferred) -> list[str]:
        """The arithmetic behind this layer's output, in the lecture's terms."""
        return [f"{kind}: elementwise, shape unchanged ({format_shape(shape)})"]


def spatial_rank(kind: str) -> int:
    """1, 2 or 3 from a kind name ending in 1d/2d/3d."""
    return int(kind[-2])


def expect_rank(kind: str, shape: tuple[int, ...], ranks: tuple[int, ...], what: str, hint: str = "") -> None:
    """Refuse an input whose number of dims (batch left out) is not one of `ranks`."""
    if len(shape) not in ranks:
        raise ShapeError(
            "wrong-rank",
            f"{kind} needs a {what} input",
            expected=" or ".join(f"{r} dims" for r in ranks) + " (batch left out)",
            found=f"{len(shape)} dims ({format_shape(shape)})",
            hint=hint,
        )


def per_dim(value: int | list[int], rank: int, name: str) -> tuple[int, ...]:
    """Expand an int to one value per spatial dim; check a list has exactly `rank` items."""
    if isinstance(value, int):
        return (value,) * rank
    if len(value) != rank:
        raise ShapeError(
            "wrong-length", f"'{name}' needs one value per spatial dimension",
            expected=f"an int or a list of {rank}", found=f"a list of {len(value)}: {value}",
        )
    return tuple(value)


def explain_windows(kind: str, spatial, kernel, stride, pads, dilation, ceil_mode=False, pooling=False) -> list[str]:
    """One formula per spatial dim (one line when every dim is the same computation)."""
    from archc.shapes import window_formula

    names = {1: ["length"], 2: ["height", "width"], 3: ["depth", "height", "width"]}[len(spatial)]
    parts = [window_formula(n, k, s, lo + hi, d, ceil_mode, lo, pooling)[0]
             for n, k, s, (lo, hi), d in zip(spatial, kernel, stride, pads, dilation)]
    setting = f"{kind} {'×'.join(map(str, kernel))}, stride {compact(stride)}, padding {compact(tuple(lo for lo, _ in pads))}"
    if any(d != 1 for d in dilation):
        setting += f", dilation {compact(dilation)}"
    if ceil_mode:
        setting += ", ceil_mode"
    if len(set(parts)) == 1:
        return [f"{setting} on {spatial[0]}: {parts[0]}"]
    return [setting] + [f"  {name} {n}: {part}" for name, n, part in zip(names, spatial, parts)]


def compact(values: tuple[int, ...], sep: str = "×") -> str:
    """'3' for (3, 3), '3×5' for (3, 5)."""
    return str(values[0]) if len(set(values)) == 1 else sep.join(map(str, values))


def plain(value: Any) -> Any:
    """A tuple for torch where the spec gave a list; ints stay ints."""
    return tuple(value) if isinstance(value, list) else value
