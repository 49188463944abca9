"""archc's own small expression language for `$p` and `${...}` in specs.

Expressions are parsed with Python's `ast` (parsing only, never `eval`) and walked over a
closed set of node types: numbers, names bound by the spec (block parameters, the repeat
index `i`, the incoming shape `in`), arithmetic, comparisons, boolean logic, conditional
expressions and the calls min/max/abs. Anything else is refused with a located error.
`in` is a Python keyword, so `in.` is rewritten to a private name before parsing.
"""
from __future__ import annotations

import ast
import functools
import io
import math
import operator
import re
import tokenize
from dataclasses import dataclass, field
from typing import Any

MAX_EXPR_CHARS = 500
MAX_ABS_VALUE = 2**62  # results and operands beyond this are refused: no runaway integers
MAX_DEPTH = 40

_IN = "__archc_in__"
_FULL = re.compile(r"^\$\{(.*)\}$", re.S)
_PARAM = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$")
_EMBEDDED = re.compile(r"\$\{([^{}]*)\}")


class ExprError(Exception):
    """An expression that cannot be evaluated; carries code, message and a hint."""

    def __init__(self, code: str, message: str, hint: str = ""):
        # messages quote the parsed expression (ast.unparse), where `in` has its internal name
        message, hint = message.replace(_IN, "in"), hint.replace(_IN, "in")
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


class NeedsInput(Exception):
    """The expression reads `in` and must wait until the incoming shape is known."""


@dataclass(frozen=True)
class InShape:
    """What `in` means inside an expression: the incoming tensor's shape (batch left out)."""

    shape: tuple[int, ...]

    @property
    def channels(self) -> int:
        return self.shape[0]


class Anchor:
    """The block instance whose input `in` means, for expressions written as its parameters."""

    node: Any = None


@dataclass(frozen=True)
class Deferred:
    """An expression that reads `in` (or a parameter that does); evaluated by shape inference
    once `in` is known. With an anchor, `in` is that block's input, not the using layer's."""

    source: str
    bindings: tuple  # (name, value) pairs captured where the expression was written
    anchor: Any = field(default=None, compare=False)

    def evaluate(self, incoming: InShape) -> Any:
        if self.anchor is not None and self.anchor.node is not None and self.anchor.node.in_shape is not None:
            incoming = InShape(self.anchor.node.in_shape)
        names = {k: v.evaluate(incoming) if isinstance(v, Deferred) else v for k, v in self.bindings}
        return evaluate(self.source, names, incoming)

    def anchored(self, anchor: Anchor) -> "Deferred":
        return self if self.anchor is not None else Deferred(self.source, self.bindings, anchor)

    def __repr__(self) -> str:
        return "${" + self.source + "}"


_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
    ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}
def _whole(function):
    """round/ceil/floor of one number, to an int (Ultralytics' scaling uses round and ceil)."""
    def call(*args):
        if len(args) != 1:
            raise TypeError("takes exactly one number")
        return function(args[0])
    return call


_CALLS = {"min": min, "max": max, "abs": abs,
          "round": _whole(round), "ceil": _whole(math.ceil), "floor": _whole(math.floor)}
_IN_ATTRS = ("channels", "shape")


def _rewrite_in(source: str) -> str:
    """Replace the keyword `in` used as a name (`in.channels`) by a private identifier."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise ExprError("expr-syntax", f"cannot parse expression '{source}': {exc}") from None
    out = []
    for index, tok in enumerate(tokens):
        following = tokens[index + 1].string if index + 1 < len(tokens) else ""
        if tok.type == tokenize.NAME and tok.string == "in" and following == ".":
            tok = tok._replace(string=_IN)
        out.append(tok)
    return tokenize.untokenize(out)


def _check_number(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        raise ExprError("expr-overflow", "the result is not a number (nan)", "values must be finite numbers")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_ABS_VALUE:
        raise ExprError("expr-overflow", f"value {_magnitude(value)} is too large", "values must stay within ±2**62")
    if isinstance(value, complex):  # cannot happen: _power refuses what would give one
        raise ExprError("expr-type", "the result is not a real number")
    return value


def _magnitude(value: int | float) -> str:
    """A short form of a huge number, without converting a long int to str or float (both fail)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"{'-' if value < 0 else ''}about 2**{value.bit_length() - 1}"
    return f"{value:.3g}"


def _power(left: int | float, right: int | float, shown: str) -> int | float:
    """left ** right, refused before it is computed when it would leave ±2**62 (so no huge
    integer is ever built and no float overflows) or would not be a real number."""
    if left == 0:
        if right < 0:
            raise ExprError("expr-division-by-zero", f"0 raised to a negative power in '{shown}'")
        return left ** right
    if left < 0 and isinstance(right, float) and not right.is_integer():
        raise ExprError("expr-type", f"'{shown}': a negative number to a fractional power is not a real number")
    if abs(left) != 1 and right * math.log2(abs(left)) > 62:
        raise ExprError("expr-overflow", f"'{shown}' would be too large", "values must stay within ±2**62")
    if abs(left) == 1 and isinstance(right, int):
        right = right % 2  # ±1 to any integer power: no need to multiply that many times
    return left ** right


class _Evaluator:
    def __init__(self, source: str, names: dict[str, Any], incoming: InShape | None):
        self.source, self.names, self.incoming = source, names, incoming

    def visit(self, node: ast.AST, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ExprError("expr-too-deep", "expression nests too deeply")
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise ExprError(
                "expr-not-allowed", f"'{ast.unparse(node)}' is not allowed in an expression",
                "expressions may use numbers, parameters, i, in.channels, in.shape, "
                "+ - * / // % **, comparisons, and/or/not, 'a if c else b', min/max/abs",
            )
        return _check_number(method(node, depth + 1))

    def visit_Expression(self, node, d):
        return self.visit(node.body, d)

    def visit_Constant(self, node, d):
        if isinstance(node.value, (int, float, bool, str)):
            return node.value
        raise ExprError("expr-not-allowed", f"constant {node.value!r} is not allowed")

    def visit_Name(self, node, d):
        if node.id == _IN:
            if self.incoming is None:
                raise NeedsInput()
            return self.incoming
        if node.id in self.names:
            value = self.names[node.id]
            if isinstance(value, Deferred):  # a parameter that reads `in`: this expression waits too
                raise NeedsInput()
            return value
        if node.id in ("True", "False"):
            return node.id == "True"
        from archc.errors import did_you_mean

        if node.id == "i":
            hint = ("'i' is a repeat's iteration index: it exists only among the repeat's own layers; "
                    "a block receives it as a parameter (params: {i: 0} in the block, my_block: {i: '${i}'} "
                    "where it is used)")
        else:
            available = sorted(self.names)
            hint = did_you_mean(node.id, [*available, "in"]) or (
                "names available here: " + ", ".join([*available, "in (the layer's input)"]))
        raise ExprError("expr-unknown-name", f"unknown name '{node.id}' in expression", hint)

    def visit_Attribute(self, node, d):
        base = self.visit(node.value, d)
        if isinstance(base, InShape) and node.attr in _IN_ATTRS:
            value = getattr(base, node.attr)
            return list(value) if isinstance(value, tuple) else value
        raise ExprError(
            "expr-not-allowed", f"attribute '.{node.attr}' is not allowed",
            "only in.channels and in.shape can be read",
        )

    def visit_Subscript(self, node, d):
        base = self.visit(node.value, d)
        index = self.visit(node.slice, d)
        if not isinstance(base, list) or not isinstance(index, int) or isinstance(index, bool):
            raise ExprError("expr-type", "only a list can be indexed, by an integer")
        try:
            return base[index]
        except IndexError:
            raise ExprError("expr-index", f"index {index} is out of range for {base}") from None

    def visit_UnaryOp(self, node, d):
        value = self.visit(node.operand, d)
        if isinstance(node.op, ast.Not):
            return not value
        self._numbers(value)
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return +value
        raise ExprError("expr-not-allowed", "operator not allowed")

    def visit_BinOp(self, node, d):
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise ExprError("expr-not-allowed", f"operator in '{ast.unparse(node)}' is not allowed")
        left, right = self.visit(node.left, d), self.visit(node.right, d)
        self._numbers(left, right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right, ast.unparse(node))
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise ExprError("expr-division-by-zero", f"division by zero in '{ast.unparse(node)}'")
        try:  # operands are within ±2**62, so only float arithmetic can still overflow
            return op(left, right)
        except OverflowError:
            raise ExprError("expr-overflow", f"'{ast.unparse(node)}' would be too large",
                            "values must stay within ±2**62") from None

    def visit_BoolOp(self, node, d):
        if isinstance(node.op, ast.And):
            result = True
            for value in node.values:
                result = self.visit(value, d)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = self.visit(value, d)
            if result:
                return result
        return result

    def visit_Compare(self, node, d):
        left = self.visit(node.left, d)
        for op_node, right_node in zip(node.ops, node.comparators):
            op = _CMPOPS.get(type(op_node))
            if op is None:
                raise ExprError("expr-not-allowed", "only == != < <= > >= comparisons are allowed")
            right = self.visit(right_node, d)
            try:
                if not op(left, right):
                    return False
            except TypeError:
                raise ExprError("expr-type", f"cannot compare {left!r} with {right!r}") from None
            left = right
        return True

    def visit_IfExp(self, node, d):
        return self.visit(node.body, d) if self.visit(node.test, d) else self.visit(node.orelse, d)

    def visit_Call(self, node, d):
        if not isinstance(node.func, ast.Name) or node.func.id not in _CALLS or node.keywords:
            raise ExprError("expr-not-allowed", f"call '{ast.unparse(node.func)}' is not allowed",
                            "the only calls are min(...), max(...), abs(...), round(x), ceil(x) and floor(x)")
        args = [self.visit(a, d) for a in node.args]
        self._numbers(*args)
        if node.func.id in ("min", "max") and len(args) < 2:
            raise ExprError("expr-type", f"{node.func.id} takes two or more numbers, here {len(args)}",
                            f"e.g. {node.func.id}(a, b)")
        try:
            return _CALLS[node.func.id](*args)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExprError("expr-type", f"{node.func.id}: {exc}") from None

    def visit_List(self, node, d):
        return [self.visit(e, d) for e in node.elts]

    visit_Tuple = visit_List

    @staticmethod
    def _numbers(*values):
        for v in values:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise ExprError("expr-type", f"expected a number, found {v!r}")


def evaluate(source: str, names: dict[str, Any], incoming: InShape | None = None) -> Any:
    """Evaluate one expression. Raises NeedsInput if it reads `in` and none is given."""
    return _Evaluator(source, names, incoming).visit(_parse(source))


@functools.lru_cache(maxsize=4096)
def _parse_or_error(source: str) -> ast.AST | ExprError:
    if len(source) > MAX_EXPR_CHARS:
        return ExprError("expr-too-long", f"expression longer than {MAX_EXPR_CHARS} characters")
    try:
        return ast.parse(_rewrite_in(source.strip()), mode="eval")
    except ExprError as exc:
        return exc
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        return ExprError("expr-syntax", f"cannot parse expression '{source}': {getattr(exc, 'msg', exc)}")


def _parse(source: str) -> ast.AST:
    """The syntax tree of an expression. Parsing (tokenizing, mostly) costs far more than
    evaluating, and a repeat evaluates the same few sources again and again: remembered."""
    tree = _parse_or_error(source)
    if isinstance(tree, ExprError):
        raise ExprError(tree.code, tree.message, tree.hint)
    return tree


def substitute(value: Any, names: dict[str, Any]) -> Any:
    """Resolve `$p`, `${expr}` and embedded `${...}` in one string value.

    Returns the value unchanged when it holds no reference, a Deferred when a whole-value
    expression reads `in`, or the evaluated result.
    """
    if not isinstance(value, str) or "$" not in value:
        return value
    match = _PARAM.match(value)
    if match:
        name = match.group(1)
        if name in names:
            return names[name]  # a Deferred parameter stays Deferred (with its anchor)
        from archc.errors import did_you_mean

        raise ExprError("expr-unknown-name", f"unknown parameter '${name}'",
                        did_you_mean(name, names) or f"names available here: {', '.join(sorted(names)) or '(none)'}")
    match = _FULL.match(value)
    if match and "${" not in match.group(1):
        try:
            return evaluate(match.group(1), names)
        except NeedsInput:
            return Deferred(match.group(1), tuple(sorted(names.items(), key=lambda kv: kv[0])))

    def one(m: re.Match) -> str:
        try:
            result = evaluate(m.group(1), names)
        except NeedsInput:
            raise ExprError("expr-in-string", "'in' cannot be used inside a longer string",
                            "use a whole-value expression like \"${in.channels // 2}\"") from None
        return str(result)

    return _EMBEDDED.sub(one, value)
