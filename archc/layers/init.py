"""`init:` on a layer: how its parameters start, by torch.nn.init function or as literal values.

    init: kaiming_normal                         # the weight, by name
    init: {weight: {normal: {std: 0.01}}, bias: zeros}
    init: {weight: [[[[0, 1], [2, 3]]]]}          # literal values (teaching examples)
    init: {weight: 0.5}                          # a constant

Each function's arguments are listed explicitly (no pass-through), so a typo is an error.
"""
from __future__ import annotations

from typing import Any

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
