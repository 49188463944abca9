"""Values as Python source: the one way anything from a spec reaches generated code.

A spec's strings, numbers and lists are written as literals that evaluate back to the
same value, never pasted into other text, so no description, name or number can end a
string or a comment early and run as code.
"""
from __future__ import annotations

import keyword
import math

# int → str refuses more than 4,300 digits (sys.int_max_str_digits); hex is not limited
_DECIMAL_BITS = 10_000


def py_literal(value: object) -> str:
    """`value` (None, bool, int, float, str, or lists, tuples and dicts of them) as a Python
    expression that evaluates to it. Any other type is refused rather than written by repr."""
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return repr(value)  # a str's repr escapes quotes, backslashes, newlines and surrogates
    if kind is int:
        return repr(value) if value.bit_length() < _DECIMAL_BITS else hex(value)
    if kind is float:
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(value)
    if kind is list:
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if kind is tuple:
        inner = ", ".join(py_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if kind is dict:
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write a {kind.__name__} as a Python literal")


def identifier(name: str) -> str:
    """`name` to be written as an identifier (an argument or attribute name): refused unless
    it is a plain ASCII identifier and not a keyword."""
    if type(name) is not str or not name.isidentifier() or not name.isascii() or keyword.iskeyword(name):
        raise ValueError(f"{name!r} cannot be written as an identifier")
    return name


def comment(text: str) -> str:
    """`text` for a `#` comment: anything unprintable (a line break would end the comment, a
    NUL makes the file unreadable to Python, a lone surrogate unwritable as UTF-8) becomes a space."""
    return "".join(ch if ch.isprintable() else " " for ch in str(text))
