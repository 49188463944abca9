"""Symbolic sizes: `input: [3, H, W]` gives every spatial size as an exact floor formula.

Every convolution and pooling maps a size of the form ⌊(v + b) / c⌋ to another of the same
form, because ⌊(⌊x / c⌋ + k) / s⌋ = ⌊(x + k·c) / (c·s)⌋ for integers. So one small closed
type, SymSize, carries a size through the same shape functions concrete sizes go through
(archc/shapes.py); where those functions require something of a size (the kernel fits,
the output is at least 1) the requirement is recorded as a Constraint instead of checked.
The constraints together are exactly the set of input sizes the network accepts.
"""
from __future__ import annotations

import contextvars
import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SymSize:
    """⌊(var + b) / c⌋, c ≥ 1."""

    var: str
    b: int = 0
    c: int = 1

    def __add__(self, k):
        if isinstance(k, SymSize):
            raise NeedsConcrete(f"{self} + {k}")
        return SymSize(self.var, self.b + k * self.c, self.c)

    __radd__ = __add__

    def __sub__(self, k):
        if isinstance(k, SymSize):
            raise NeedsConcrete(f"{self} − {k}")
        return self + (-k)

    def __floordiv__(self, s):
        if isinstance(s, SymSize) or s <= 0:
            raise NeedsConcrete(f"{self} // {s}")
        return SymSize(self.var, self.b, self.c * s)

    def __mul__(self, k):
        raise NeedsConcrete(f"{self} × {k}")

    __rmul__ = __mul__

    def evaluate(self, env: dict[str, int]) -> int:
        return (env[self.var] + self.b) // self.c

    def __str__(self) -> str:
        inner = self.var if self.b == 0 else f"{self.var} {'+' if self.b > 0 else '−'} {abs(self.b)}"
        if self.c > 1:
            return f"⌊({inner})/{self.c}⌋"
        return inner if self.b == 0 else f"({inner})"  # parenthesised: it sits inside products like 6×(H − 4)

    def __format__(self, spec: str) -> str:
        return str(self)


class NeedsConcrete(Exception):
    """An operation symbolic sizes cannot express exactly (a product, a ceil-mode correction)."""


def is_symbolic(value) -> bool:
    return isinstance(value, SymSize)


def evaluate(value, env: dict[str, int]) -> int:
    return value.evaluate(env) if isinstance(value, SymSize) else value


@dataclass(frozen=True)
class AtLeast:
    """size ≥ bound, where the network needs it (e.g. the kernel must fit)."""

    size: SymSize
    bound: int
    why: str

    def holds(self, env) -> bool:
        return self.size.evaluate(env) >= self.bound

    def smallest(self) -> int:
        """The smallest value of the variable that satisfies this (⌊(v+b)/c⌋ ≥ m ⟺ v ≥ m·c − b)."""
        return self.bound * self.size.c - self.size.b

    def __str__(self) -> str:
        return f"{self.size} ≥ {self.bound} ({self.why})"


@dataclass(frozen=True)
class Equal:
    """Two sizes that must agree (branches merged by concat, add or mul)."""

    left: SymSize | int
    right: SymSize | int
    why: str

    def holds(self, env) -> bool:
        return evaluate(self.left, env) == evaluate(self.right, env)

    def __str__(self) -> str:
        return f"{self.left} = {self.right} ({self.why})"


@dataclass
class Constraints:
    """Everything a symbolic network requires of its input sizes."""

    items: list = field(default_factory=list)

    def variables(self) -> list[str]:
        names = []
        for c in self.items:
            for v in (getattr(c, "size", None), getattr(c, "left", None), getattr(c, "right", None)):
                if isinstance(v, SymSize) and v.var not in names:
                    names.append(v.var)
        return names

    def holds(self, env: dict[str, int]) -> bool:
        return all(c.holds(env) for c in self.items)

    def binding(self) -> list:
        """The constraints that decide the answer: per variable the tightest lower bound (when
        above 1), and every equality between branches."""
        out = []
        for var in self.variables():
            bounds = [c for c in self.items if isinstance(c, AtLeast) and c.size.var == var]
            tightest = max(bounds, key=lambda c: c.smallest(), default=None)
            if tightest is not None and tightest.smallest() > 1:
                out.append(tightest)
        return out + [c for c in self.items if isinstance(c, Equal)]

    def describe(self, variables: list[str]) -> list[str]:
        """Each variable's valid values in plain words: a lower bound, and a period where
        branches must agree (found exactly by scanning one whole period past the bound)."""
        lines = []
        for var in variables:
            mine = [c for c in self.items if _mentions(c, var)]
            lower = max([1] + [c.smallest() for c in mine if isinstance(c, AtLeast)])
            period = math.lcm(*[s.c for c in mine for s in _sizes(c)] or [1])
            others = {v: 10**6 for v in variables if v != var}  # other variables large and free
            window = range(lower, lower + 2 * period + 64)
            good = [v for v in window if all(c.holds({**others, var: v}) for c in mine)]
            if len(good) == len(window):
                lines.append(f"{var} ≥ {lower}")
            elif good and all((v + period in good) == (v in good) for v in window if v + period < window.stop):
                residues = sorted({v % period for v in good})
                lines.append(f"{var} ≥ {good[0]} and {var} mod {period} ∈ {{{', '.join(map(str, residues))}}}")
            elif good:
                lines.append(f"{var} ∈ {{{', '.join(map(str, good[:12]))}{', …' if len(good) > 12 else ''}}}")
            else:
                lines.append(f"no value of {var} works")
        return lines


def _sizes(c) -> list[SymSize]:
    return [v for v in (getattr(c, "size", None), getattr(c, "left", None), getattr(c, "right", None))
            if isinstance(v, SymSize)]


def _mentions(c, var: str) -> bool:
    return any(s.var == var for s in _sizes(c))


# The constraints being collected by the running inference (None: sizes are all concrete).
_COLLECTOR: contextvars.ContextVar[Constraints | None] = contextvars.ContextVar("archc_constraints", default=None)


def collecting(constraints: Constraints):
    return _COLLECTOR.set(constraints)


def stop_collecting(token) -> None:
    _COLLECTOR.reset(token)


def require_at_least(size, bound: int, why: str) -> bool:
    """True when size ≥ bound; a symbolic size records the requirement and is assumed to meet it."""
    if isinstance(size, SymSize):
        collector = _COLLECTOR.get()
        if collector is None:
            raise NeedsConcrete(str(size))
        collector.items.append(AtLeast(size, bound, why))
        return True
    return size >= bound


def require_equal(left, right, why: str) -> bool:
    """True when two sizes agree; symbolic ones record the requirement (refused if it never holds)."""
    if not isinstance(left, SymSize) and not isinstance(right, SymSize):
        return left == right
    if left == right:
        return True
    collector = _COLLECTOR.get()
    if collector is None:
        raise NeedsConcrete(f"{left} = {right}")
    constraint = Equal(left, right, why)
    if len({s.var for s in _sizes(constraint)}) > 1:  # H = W (a permute swapped them): not a bound on one size
        raise NeedsConcrete(f"{left} = {right}")
    var = (left if isinstance(left, SymSize) else right).var
    period = math.lcm(*(s.c for s in _sizes(constraint)))
    if not any(constraint.holds({var: v}) for v in range(1, 4 * period + 4096)):
        return False
    collector.items.append(constraint)
    return True


class Unknown:
    """A count (MACs, elements, bytes) that depends on symbolic sizes: absorbs arithmetic,
    compares as within any limit, prints as '—'."""

    def __add__(self, other):
        return self

    __radd__ = __mul__ = __rmul__ = __truediv__ = __floordiv__ = __add__

    def __gt__(self, other) -> bool:
        return False

    __lt__ = __ge__ = __le__ = __gt__

    def __format__(self, spec: str) -> str:
        return "—"

    def __str__(self) -> str:
        return "—"


UNKNOWN = Unknown()
