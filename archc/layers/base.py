"""What a layer kind is: argument schema, shape rule, counts and torch constructor together."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict

from archc.shapes import ShapeError, format_shape


def _number_only(value: Any) -> Any:
    # YAML gives real numbers; refuse strings and booleans that pydantic would coerce.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("expected a number")
    return value


# Sizes, strides, paddings, channels …: at most 2**31 − 1. ATen's pooling and local response
# norm kernels hold them in 32-bit ints (a larger one is a torch error at build time), and no
# activation within the element limit has a dim anywhere near that, so nothing real is lost.
MAX_SIZE = 2**31 - 1
# The largest finite float32: a scalar torch folds into a float32 tensor op must fit it.
FLOAT32_MAX = 3.4028234663852886e38


def _fits_float32(value: float) -> float:
    # torch refuses ("cannot be converted to type float without overflow"); inf and nan pass
    if math.isfinite(value) and abs(value) > FLOAT32_MAX:
        raise ValueError(f"a number within float32's range (±{FLOAT32_MAX:.4g}), or ±inf")
    return value


def _positive(value: float) -> float:
    if value <= 0:  # as torch writes it: NaN passes
        raise ValueError("a number above 0")
    return value


Int = Annotated[int, Strict()]
PositiveInt = Annotated[int, Strict(), Field(gt=0, le=MAX_SIZE)]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0, le=MAX_SIZE)]
Bool = Annotated[bool, Strict()]
Number = Annotated[float, BeforeValidator(_number_only)]
Float32 = Annotated[float, BeforeValidator(_number_only), AfterValidator(_fits_float32)]  # a tensor-op scalar
PositiveNumber = Annotated[float, BeforeValidator(_number_only), AfterValidator(_positive)]
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


# ATen's CPU pooling reads about 1.2 billion window elements a second where a convolution does
# about 13 billion multiply-accumulates (measured on this project's 2-core machines): one read
# costs about ten MACs of time
WINDOW_READ_COST = 10


class Kind:
    """One family of layer kinds (e.g. conv1d/conv2d/conv3d share a class)."""

    names: ClassVar[tuple[str, ...]] = ()
    family: ClassVar[str] = ""
    Args: ClassVar[type[Args]] = NoArgs
    summary: ClassVar[str] = ""

    def infer(self, kind: str, a: Args, shape: tuple[int, ...]) -> Inferred:
        raise NotImplementedError

    def output_shapes(self, kind: str, a: Args, shape: tuple[int, ...]) -> list[tuple[int, ...]] | None:
        """For a kind with several outputs (chunk, split): each output's shape; None for one."""
        return None

    def torch_call(self, kind: str, a: Args, shape: tuple[int, ...]) -> TorchCall:
        raise NotImplementedError

    def label(self, kind: str, a: Args) -> str:
        """Compact notation for diagrams and tables, e.g. 'conv2d 11×11/4, p1 → 96'."""
        return kind

    def workspace(self, kind: str, a: Args, shape: tuple[int, ...]) -> int:
        """Elements (one sample's) that the forward allocates besides its output, at its peak:
        temporaries freed when it returns, which the memory estimate must still cover."""
        return 0

    def work(self, kind: str, a: Args, shape: tuple[int, ...], out: tuple[int, ...]) -> int:
        """The cost (one sample's) of a forward that does more than its multiply-accumulates
        say, in MAC equivalents: a pooling window's reads for every output. Elementwise work is
        bounded by the memory limit already, so it counts 0 here."""
        return 0

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


def explain_windows(kind: str, spatial, kernel, stride, pads, dilation, ceil_mode=False, pooling=False,
                    same: bool = False) -> list[str]:
    """One formula per spatial dim (one line when every dim is the same computation).

    Padding is shown as added: 1 on both sides is 'padding 1' and 2·1 in the formula;
    'same' with an even kernel adds one more after ('1 left + 2 right')."""
    from archc.shapes import window_formula

    names = {1: ["length"], 2: ["height", "width"], 3: ["depth", "height", "width"]}[len(spatial)]
    parts = [window_formula(n, k, s, lo + hi, d, ceil_mode, lo, pooling)[0]
             for n, k, s, (lo, hi), d in zip(spatial, kernel, stride, pads, dilation)]
    if all(lo == hi for lo, hi in pads):
        padding = compact(tuple(lo for lo, _ in pads))
    else:
        padding = compact(tuple(f"{lo} left + {hi} right = {lo + hi}" for lo, hi in pads), sep=" × ")
    if same:
        padding = f"same ({padding})" if any(lo or hi for lo, hi in pads) else "same (none needed)"
    setting = f"{kind} {'×'.join(map(str, kernel))}, stride {compact(stride)}, padding {padding}"
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


def changed_arguments(a: Args, defaults: tuple[tuple[str, Any], ...]) -> dict:
    """The arguments that differ from torch's defaults, as torch takes them: a constructor
    call that names only these reads like hand-written code."""
    return {name: plain(getattr(a, name)) for name, default in defaults if getattr(a, name) != default}
