"""`init:` on a layer: how its parameters start, by torch.nn.init function or as literal values.

    init: kaiming_normal                         # the weight, by name
    init: {weight: {normal: {std: 0.01}}, bias: zeros}
    init: {weight: [[[[0, 1], [2, 3]]]]}          # literal values (teaching examples)
    init: {weight: 0.5}                          # a constant

Each function's arguments are listed explicitly (no pass-through), so a typo is an error.
"""
from __future__ import annotations

import math
import struct
from typing import Any

from archc.layers.base import FLOAT32_MAX
from archc.shapes import ShapeError

MAX_LITERAL_ELEMENTS = 100_000

# function -> the arguments it takes (those of torch.nn.init.<function>_)
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "zeros": (), "ones": (), "constant": ("val",),
    "normal": ("mean", "std"), "uniform": ("a", "b"), "trunc_normal": ("mean", "std", "a", "b"),
    "kaiming_normal": ("a", "mode", "nonlinearity"), "kaiming_uniform": ("a", "mode", "nonlinearity"),
    "xavier_normal": ("gain",), "xavier_uniform": ("gain",), "orthogonal": ("gain",),
}
_CHOICES = {"mode": ("fan_in", "fan_out"),
            "nonlinearity": ("linear", "conv1d", "conv2d", "conv3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu")}


class InitError(ValueError):
    def __init__(self, message: str, expected: str = "", found: str = ""):
        super().__init__(message)
        self.message, self.expected, self.found = message, expected, found


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def literal_shape(value: Any) -> tuple[int, ...]:
    """The shape of a nested list of numbers; ragged or non-numeric lists are refused."""
    if _number(value):
        return ()
    if not isinstance(value, list) or not value:
        raise InitError("a literal tensor must be a number or a non-empty nested list of numbers", found=repr(value)[:60])
    shapes = {literal_shape(v) for v in value}
    if len(shapes) != 1:
        raise InitError("a literal tensor's rows must all have the same shape", found=f"rows of shapes {sorted(shapes)}")
    return (len(value), *shapes.pop())


def parse_one(value: Any) -> tuple[str, Any]:
    """One parameter's init as (function, arguments), ('tensor', values) or ('constant', …)."""
    if isinstance(value, str):
        value = {value: {}}
    if _number(value):
        return ("constant", {"val": value})
    if isinstance(value, list):
        shape = literal_shape(value)
        count = 1
        for size in shape:
            count *= size
        if count > MAX_LITERAL_ELEMENTS:
            raise InitError("literal tensor too large", expected=f"at most {MAX_LITERAL_ELEMENTS:,} values", found=f"{count:,}")
        return ("tensor", value)
    if isinstance(value, dict) and len(value) == 1:
        (name, args), = value.items()
        if name not in FUNCTIONS:
            from archc.errors import did_you_mean

            raise InitError(f"unknown init function '{name}'", expected="one of " + ", ".join(FUNCTIONS),
                            found=f"'{name}'" + (f" ({did_you_mean(name, FUNCTIONS)})" if did_you_mean(name, FUNCTIONS) else ""))
        args = {} if args is None else args
        if not isinstance(args, dict):
            raise InitError(f"arguments of '{name}' must be a mapping", found=repr(args))
        for key, arg in args.items():
            if key not in FUNCTIONS[name]:
                raise InitError(f"'{name}' takes no argument '{key}'",
                                expected="one of " + (", ".join(FUNCTIONS[name]) or "(none)"), found=f"'{key}'")
            if key in _CHOICES and arg not in _CHOICES[key]:
                raise InitError(f"invalid {key} '{arg}'", expected=" | ".join(_CHOICES[key]), found=repr(arg))
            if key not in _CHOICES and not _number(arg):
                raise InitError(f"'{key}' must be a number", found=repr(arg))
        if name == "constant" and "val" not in args:  # constant_ has no default value
            raise InitError("'constant' needs its value", expected="constant: {val: <number>}", found=repr(dict(args)))
        return (name, dict(args))
    raise InitError("invalid init", expected="a function name, {function: {args}}, a number or a nested list",
                    found=repr(value)[:60])


def parse_init(value: Any) -> dict[str, tuple[str, Any]]:
    """`init:` as {parameter name: (how, value)}; a bare function or literal applies to the weight."""
    if isinstance(value, dict) and value and all(k not in FUNCTIONS for k in value):
        return {str(param): parse_one(v) for param, v in value.items()}
    return {"weight": parse_one(value)}


def check_against(init: dict[str, tuple[str, Any]], shapes: dict[str, tuple[int, ...]], kind: str) -> None:
    """Every initialised parameter exists, and literal tensors have its exact shape."""
    for param, (how, value) in init.items():
        if param not in shapes:
            raise ShapeError("bad-init", f"{kind} has no parameter '{param}' to initialise",
                             expected="one of " + (", ".join(shapes) or "(no parameters)"), found=f"'{param}'")
        if how == "tensor" and literal_shape(value) != shapes[param]:
            from archc.shapes import format_shape

            raise ShapeError("bad-init", f"the literal {param} has the wrong shape",
                             expected=format_shape(shapes[param]) + f" ({param} of this {kind})",
                             found=format_shape(literal_shape(value)))
        if how == "orthogonal" and len(shapes[param]) < 2 or how.startswith(("kaiming", "xavier")) and len(shapes[param]) < 2:
            raise ShapeError("bad-init", f"'{how}' needs a parameter with at least 2 dims",
                             expected="a weight", found=f"'{param}' of shape {shapes[param]}")
        try:
            check_values(how, value, shapes[param])
        except InitError as exc:
            raise ShapeError("bad-init", f"{param}: {exc.message}", expected=exc.expected, found=exc.found) from None


# -- the values torch.nn.init accepts ---------------------------------------------------------
# Each function below repeats the scalar arithmetic of its torch.nn.init namesake (torch 2.x),
# then the checks the ATen kernel it ends in makes, so that what check accepts, build can do.

# trunc_normal_ may redraw values until each lands in [a, b]: bound its expected rounds and draws
MAX_TRUNC_NORMAL_ROUNDS = 100_000
MAX_TRUNC_NORMAL_DRAWS = 10**9


def check_values(how: str, value: Any, shape: tuple[int, ...]) -> None:
    """Refuse, as InitError, init values that torch.nn.init would refuse (or loop on)."""
    if how == "tensor":
        for number in _numbers(value):
            try:
                float(number)  # torch.tensor(…, dtype=float32) converts each number so
            except OverflowError:
                raise InitError("a literal value is too large", expected=f"at most ±{FLOAT32_MAX:.4g}",
                                found=f"{number:.4g}") from None
        return
    try:
        _CHECKS.get(how, _scalar_args)(shape, **value)
    except InitError:
        raise
    except (ArithmeticError, ValueError) as exc:  # the same arithmetic in torch's Python fails
        raise InitError(f"'{how}' cannot be computed with these arguments", found=f"{value} ({exc})") from None


def _scalar_args(shape, **args) -> None:
    # orthogonal_ multiplies by its gain, fill_ takes the constant: an int there must fit
    # ATen's 64-bit Scalar (signed or unsigned)
    for key, arg in args.items():
        if isinstance(arg, int) and not -2**63 <= arg < 2**64:
            raise InitError(f"'{key}' is too large", expected="an integer in [−2**63, 2**64) (or write a float)",
                            found=f"{arg:.4g}")


def _numbers(value: Any):
    if isinstance(value, list):
        for item in value:
            yield from _numbers(item)
    else:
        yield value


def _fill(shape, val: float = 0.0) -> None:
    _scalar_args(shape, val=val)
    if math.isfinite(val) and abs(val) > FLOAT32_MAX:
        raise InitError("the constant does not fit float32", expected=f"at most ±{FLOAT32_MAX:.4g}, or ±inf, or nan",
                        found=repr(val))


def _normal(shape, mean: float = 0.0, std: float = 1.0) -> None:
    mean, std = float(mean), float(std)  # as Python passes them to ATen (too large an int: OverflowError)
    if not std >= 0:  # NaN too, as ATen's normal_ checks it
        raise InitError("the standard deviation must not be negative", expected="std ≥ 0", found=f"std {std:g}")


def _uniform(shape, a: float = 0.0, b: float = 1.0, what: str = "uniform") -> None:
    a, b = float(a), float(b)
    for name, bound in (("a (from)", a), ("b (to)", b)):
        if not (math.isfinite(bound) and abs(bound) <= FLOAT32_MAX):
            raise InitError(f"{what}'s bound {name} is out of float32's range",
                            expected=f"a finite number within ±{FLOAT32_MAX:.4g}", found=f"{bound:g}")
    if a > b:
        raise InitError(f"{what}'s range is empty", expected="a ≤ b", found=f"a {a:g} > b {b:g}")
    if b - a > FLOAT32_MAX:
        raise InitError(f"{what}'s range is wider than float32 can hold", expected=f"b − a ≤ {FLOAT32_MAX:.4g}",
                        found=f"b − a = {b - a:g}")


def _trunc_normal(shape, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> None:
    def cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if std == 0:
        raise InitError("trunc_normal's std must not be 0", expected="std > 0", found="std 0")
    p = cdf((b - mean) / std) - cdf((a - mean) / std)
    if p > 0.3:  # torch draws normal values and redraws those outside [a, b]
        _normal(shape, mean, std)
        return
    # otherwise it draws uniformly in [a, b] and accepts by the density's ratio to its peak
    mode = max(a, min(mean, b))
    log_peak = -0.5 * ((mode - mean) / std) ** 2
    _uniform(shape, a, b, "trunc_normal")
    _scalar_args(shape, mean=mean, std=std)  # candidates.sub_(mean).div_(std)
    rate = _acceptance(float(mean), float(std), float(a), float(b), float(mode), log_peak)
    values = math.prod(shape)
    # every round redraws the values still pending; the last of n needs about (ln n + 1) / rate rounds
    rounds = (math.log(values) + 1) / rate if rate > 0 else math.inf
    if rounds > MAX_TRUNC_NORMAL_ROUNDS or rounds * values > MAX_TRUNC_NORMAL_DRAWS:
        raise InitError("trunc_normal would redraw values almost without end: [a, b] lies far in the tail",
                        expected=f"at most {MAX_TRUNC_NORMAL_ROUNDS:,} rounds of draws (a, b nearer the mean, or a larger std)",
                        found=f"about 1 draw in {1 / rate:,.0f} accepted" if rate > 0 else "no draw ever accepted")


def _f32(x: float) -> float:
    """x rounded to float32, as torch's float32 arithmetic holds it (±inf beyond its range)."""
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def _acceptance(mean: float, std: float, a: float, b: float, mode: float, log_peak: float) -> float:
    """The share of uniform draws on [a, b] that trunc_normal_ accepts, computing the test
    `log u > log_pdf(x) − log_peak` in float32 as torch does (where it gives NaN, torch accepts)."""
    peak = _f32(log_peak)
    if math.isnan(peak) or peak == -math.inf:
        return 1.0  # every candidate's test is +inf − … or NaN: all accepted at once
    if b == a:
        return 1.0
    # away from the mode the ratio is negligible: integrate within 40 std of it
    lo, hi = max(a, mode - 40 * abs(std)), min(b, mode + 40 * abs(std))
    steps = 256
    width = (hi - lo) / steps
    mean32, std32, total = _f32(mean), _f32(std), 0.0
    for i in range(steps):
        x = _f32(lo + (i + 0.5) * width)
        z = _f32(_f32(x - mean32) / std32) if std32 else (math.nan if x == mean32 else math.inf)
        test = _f32(_f32(_f32(z * z) * -0.5) - peak)
        total += 1.0 if math.isnan(test) else math.exp(min(test, 0.0))
    return total * width / (b - a)


def _gain(nonlinearity: str = "leaky_relu", a: float = 0.0) -> float:
    # torch.nn.init.calculate_gain
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + a ** 2))
    return {"tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 3.0 / 4}.get(nonlinearity, 1.0)


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _kaiming_std(shape, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> float:
    fan_in, fan_out = _fans(shape)
    return _gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def _xavier_std(shape, gain: float = 1.0) -> float:
    if not float(gain) >= 0:  # NaN too: torch would draw from an empty or undefined range
        raise InitError("the gain must not be negative", expected="gain ≥ 0", found=f"gain {float(gain):g}")
    fan_in, fan_out = _fans(shape)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def _bound(std: float) -> float:
    return math.sqrt(3.0) * std


_CHECKS = {
    "constant": lambda shape, val: _fill(shape, val),
    "normal": _normal,
    "uniform": _uniform,
    "trunc_normal": _trunc_normal,
    "kaiming_normal": lambda shape, **kw: _normal(shape, 0.0, _kaiming_std(shape, **kw)),
    "kaiming_uniform": lambda shape, **kw: _uniform(shape, -_bound(_kaiming_std(shape, **kw)), _bound(_kaiming_std(shape, **kw))),
    "xavier_normal": lambda shape, **kw: _normal(shape, 0.0, _xavier_std(shape, **kw)),
    "xavier_uniform": lambda shape, **kw: _uniform(shape, -_bound(_xavier_std(shape, **kw)), _bound(_xavier_std(shape, **kw))),
}
