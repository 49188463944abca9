"""What expanding a spec costs, counted before it is spent.

Expansion is the one place where a few lines of YAML can ask for unbounded work: repeats
nest, blocks use blocks, and `when: false` drops a layer only after it has been visited.
So the expand pass counts *work*, not only the layers it keeps:

- every layer entry visited costs LAYER_COST units, kept or dropped by `when:`;
- every argument value substituted costs one unit (a list costs one per item), and a string
  holding an expression costs in proportion to its length (parsing and evaluating it is
  the dearest step per character).

Counting as it goes stops a spec at the limit, but a nested repeat would still spend the
whole budget first. `lower_bound` therefore estimates, from the YAML alone, the least that a
layer list can cost (and the fewest nodes it can keep): a repeat multiplies it by its count
before running a single iteration, and refuses at once what cannot fit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archc.layers import KINDS
from archc.spec.expr import substitute
from archc.spec.model import PARAM_TYPES as _PARAM_TYPES
from archc.spec.structure import STRUCTURAL

LAYER_COST = 4  # visiting one layer entry, even one `when:` then drops (~3 µs)
NODE_COST = 16  # keeping it: arguments, a node, names (~15 µs); a unit is about a microsecond
EXPR_COST = 32  # evaluating one expression (parsing it is the dear part), plus per character:
EXPR_COST_PER_CHAR = 4


def value_cost(value: Any) -> int:
    """Units to substitute one argument value (a scalar, or a list or mapping of them)."""
    if isinstance(value, str):
        return EXPR_COST + EXPR_COST_PER_CHAR * len(value) if "$" in value else 1
    if isinstance(value, (list, tuple)):
        return 1 + sum(value_cost(v) for v in value)
    if isinstance(value, dict):
        return 1 + sum(value_cost(v) for v in value.values())
    return 1


@dataclass(frozen=True)
class Cost:
    work: int
    nodes: int

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.work + other.work, self.nodes + other.nodes)

    def times(self, count: int, cap: int) -> "Cost":
        # capped, so nested counts never build huge integers
        return Cost(min(self.work * count, cap), min(self.nodes * count, cap))


_NOTHING = Cost(0, 0)
_VISIT = Cost(LAYER_COST, 0)


def _known(value: Any, names: dict) -> Any:
    """A count or condition as far as it can be told from literal bindings, else None."""
    if isinstance(value, str) and "$" in value:
        try:
            value = substitute(value, names)
        except Exception:  # anything unknown (a name bound at run time, `in`, an error) is unknown
            return None
    return value if isinstance(value, (int, bool, str)) else None


class LowerBound:
    """The least work and the fewest kept nodes a layer list can cost, from its YAML.

    Never an overestimate: an entry whose `when:` cannot be told may be dropped (it still
    costs its visit, but keeps no node), a count that cannot be told may be 0, and a block
    met again inside itself (a cycle, reported by expansion) adds nothing. Block parameters
    given as literals are bound, so `times: $n` counts. Results are remembered per YAML list
    and bindings, so estimating inside nested repeats stays linear."""

    def __init__(self, blocks: dict[str, Any], defaults: dict[str, dict], cap: int):
        self.blocks, self.cap = blocks, cap  # blocks: name -> raw YAML of its definition
        self.defaults = defaults  # kind -> default arguments, copied into each layer of that kind
        self._defaults_costs: dict[str, int] = {}
        self.memo: dict[tuple, Cost] = {}
        self.visiting: set[str] = set()

    def defaults_cost(self, kind: str) -> int:
        if kind not in self._defaults_costs:
            self._defaults_costs[kind] = value_cost(self.defaults.get(kind) or {}) - 1
        return self._defaults_costs[kind]

    def of_list(self, items: Any, names: dict | None = None) -> Cost:
        if not isinstance(items, list):
            return _NOTHING
        names = {k: v for k, v in (names or {}).items() if isinstance(v, (int, bool)) or
                 (isinstance(v, str) and len(v) <= 100)}
        key = (id(items), tuple(sorted(names.items())))
        if key not in self.memo:
            self.memo[key] = _NOTHING  # a list reached again while estimating it adds nothing
            total = _NOTHING
            for item in items:
                total = total + self.of_item(item, names)
            self.memo[key] = Cost(min(total.work, self.cap), min(total.nodes, self.cap))
        return self.memo[key]

    def of_item(self, item: Any, names: dict) -> Cost:
        if isinstance(item, str):
            kind, args = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            kind, args = next(iter(item.items()))
            args = {} if args is None else args
        else:
            return _VISIT
        if not isinstance(kind, str) or not isinstance(args, dict):
            return _VISIT
        if kind.startswith("$"):
            kind = _known(kind, names)
        if "when" in args and _known(args["when"], names) is not True:
            return _VISIT
        if kind in ("repeat", "dense"):
            count = _known(args.get("times" if kind == "repeat" else "units"), names)
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                return _VISIT
            inner = {k: v for k, v in names.items() if k != "i"}  # each iteration binds its own i
            return _VISIT + self.of_list(args.get("layers"), inner).times(count, self.cap)
        if kind in STRUCTURAL:
            inner = _NOTHING
            for key in ("layers", "body", "shortcut", "after"):
                inner = inner + self.of_list(args.get(key), names)
            branches = args.get("branches")
            if isinstance(branches, dict):
                for branch in branches.values():
                    inner = inner + self.of_list(branch, names)
            return _VISIT + inner
        if kind in self.blocks:
            return _VISIT + self.of_block(kind, args, names)
        if kind not in KINDS:  # a kind no one can tell yet, or a mistake expansion reports
            return _VISIT
        own = sum(value_cost(v) for k, v in args.items() if k not in ("name", "from", "merge", "trainable"))
        return Cost(LAYER_COST + NODE_COST + own + self.defaults_cost(kind), 1)

    def of_block(self, name: str, args: dict, names: dict) -> Cost:
        if name in self.visiting:
            return _NOTHING
        raw = self.blocks[name]
        if not isinstance(raw, dict):
            return _NOTHING
        params = raw.get("params") if isinstance(raw.get("params"), dict) else {}
        bound: dict = {}
        for pname, spec in params.items():
            given = args[pname] if pname in args else None if spec in _PARAM_TYPES else spec
            value = _known(given, names if pname in args else bound)
            if value is not None:
                bound[pname] = value
        self.visiting.add(name)
        try:
            return self.of_list(raw.get("layers"), bound)
        finally:
            self.visiting.discard(name)
