"""Folding a long chain into side-by-side columns (rows when drawn left to right) so that a
drawing fits a 16:9 slide instead of becoming a strip many screens long.

The fold points are the boundaries between the items of the top-level sequence (descending
into a sequence that holds most of the drawing), so a block is never split. The number of
columns is the one whose estimated aspect ratio comes closest to TARGET_ASPECT; sizes are
estimated from label lengths and ranks, so no graphviz is needed to choose.

Where skips cross a fold (a U-Net's encoder maps feeding its decoder), the columns snake:
every second one is drawn bottom to top, so that the encoder goes down, the decoder comes
back up beside it, and each skip runs across to the decoder stage of the same size (a U, as
teachers draw it) instead of along the whole drawing."""
from __future__ import annotations

from dataclasses import dataclass, field

from archc.emit.diagram_model import DCluster, Diagram

TARGET_ASPECT = 1.6  # the widest estimated width / height chosen: real ones then fall between 1:1 and 16:9
MAX_COLUMNS = 12

# rough graphviz sizes in inches, for the default fonts (11 pt titles, 9 pt details and edge labels)
_CHAR = 0.082
_ROW_TB = 0.9  # a rank top to bottom: box, edge label (dot gives it a rank of its own), 2 separations
_ROW_LR = 0.50  # a box's height across a left-to-right rank
_EDGE_LABEL_LR = 1.1  # an edge label's width between two left-to-right ranks
_CLUSTER = 0.35  # a cluster's title and margin
_LINE = 0.16  # each further line of detail in a box
_SKIP = 0.45  # a dashed skip passing a rank
_GAP = 1.0  # between columns, with the edge that crosses to the next
_GAP_LR = 0.4  # between rows


@dataclass
class Layout:
    columns: list[list[str]]  # node ids per column (row when left to right), in drawing order
    unboxed: set[str] = field(default_factory=set)  # clusters whose items were spread over columns
    upward: set[int] = field(default_factory=set)  # columns drawn bottom to top (right to left for LR)


def _all_nodes(cluster: DCluster) -> list[str]:
    return cluster.nodes + [n for sub in cluster.clusters for n in _all_nodes(sub)]


def _all_clusters(cluster: DCluster):
    for sub in cluster.clusters:
        yield sub
        yield from _all_clusters(sub)


def _unfold(d: Diagram, units: list[list[str]], i: int, unboxed: set[str]) -> bool:
    """Replace unit i by the items of the sequence that makes up most of it, if there is one."""
    part = units[i]
    members = set(part)
    inner = max((c for c in _all_clusters(d.root) if len(c.parts) > 1 and c.id not in unboxed
                 and set(_all_nodes(c)) <= members and len(_all_nodes(c)) * 2 > len(part)),
                key=lambda c: len(_all_nodes(c)), default=None)
    if inner is None:
        return False
    unboxed.add(inner.id)
    inside = set(_all_nodes(inner))
    pieces = [list(p) for p in inner.parts if p]
    start = part.index(pieces[0][0])
    pieces[0][:0] = [n for n in part[:start] if n not in inside]
    pieces[-1].extend(n for n in part[start:] if n not in inside)
    units[i:i + 1] = pieces
    return True


def _units(d: Diagram) -> tuple[list[list[str]], set[str]]:
    """The chain's foldable pieces: the top-level items, with a sequence holding most of the
    drawing replaced by its own items (repeatedly)."""
    units = [list(p) for p in d.root.parts if p]
    unboxed: set[str] = set()
    while True:
        big = [i for i, u in enumerate(units) if len(u) * 2 > len(d.nodes)]
        if not big or not _unfold(d, units, big[0], unboxed):
            return units, unboxed


def _ranks(d: Diagram) -> dict[str, int]:
    """Each node's rank: its longest distance from a node nothing feeds."""
    into: dict[str, list[str]] = {n: [] for n in d.nodes}
    for e in d.edges:
        into[e.dst].append(e.src)
    rank: dict[str, int] = {}
    for start in d.nodes:
        stack = [start]
        while stack:  # iterative, so a very deep drawing does not hit the recursion limit
            n = stack[-1]
            missing = [s for s in into[n] if s not in rank]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            rank[n] = 1 + max((rank[s] for s in into[n]), default=-1)
    return rank


def _box_width(d: Diagram, nid: str) -> float:
    node = d.nodes[nid]
    chars = max([len(node.title)] + [0.8 * len(line) for line in node.detail.splitlines()])
    return 0.3 if node.role == "merge" and len(node.title) == 1 else chars * _CHAR + 0.3


def _lines(d: Diagram, nid: str) -> int:
    return len(d.nodes[nid].detail.splitlines())


def _extent(d: Diagram, ids: list[str], rank: dict[str, int], rankdir: str,
            shortcuts: list | None = None) -> tuple[float, float]:
    """(length along the flow, breadth across it) of a group of nodes drawn as one column
    (`shortcuts`: the diagram's skip edges, found once by the caller rather than per group)."""
    members = set(ids)
    by_rank: dict[int, list[str]] = {}
    for n in ids:
        by_rank.setdefault(rank[n], []).append(n)
    if rankdir == "TB":
        length = sum(_ROW_TB + _LINE * max(_lines(d, n) for n in row) for row in by_rank.values())
        breadth = max(sum(_box_width(d, n) + 0.2 for n in row) for row in by_rank.values())
    else:
        length = sum(max(_box_width(d, n) for n in row) + _EDGE_LABEL_LR for row in by_rank.values())
        breadth = max(sum(_ROW_LR + _LINE * _lines(d, n) for n in row) for row in by_rank.values())
    # skips drawn beside the boxes they jump over need room across the flow too
    edges = shortcuts if shortcuts is not None else [e for e in d.edges if e.shortcut]
    skips = [(rank[e.src], rank[e.dst]) for e in edges if e.src in members and e.dst in members]
    jumps = max((sum(1 for a, b in skips if a < r < b) for r in by_rank), default=0) if skips else 0
    return length, breadth + _SKIP * jumps


# a column does not start with what finishes the layer before it (conv2d | relu reads badly)
_FOLLOWERS = ("activation", "norm")


def _starts_a_step(d: Diagram, unit: list[str]) -> bool:
    first = d.nodes[next((n for n in unit if d.nodes[n].role != "io"), unit[0])]
    return not (first.role == "layer" and first.family in _FOLLOWERS)


def _split(lengths: list[float], k: int, breakable: list[bool] | None = None) -> list[list[int]]:
    """Consecutive unit indices in (at most) k groups of about equal length, each starting
    at a breakable unit where possible."""
    target = sum(lengths) / k
    groups: list[list[int]] = [[]]
    acc = 0.0
    for i, length in enumerate(lengths):
        fits = breakable is None or breakable[i] or acc + length / 2 > 1.5 * target
        if groups[-1] and acc + length / 2 > target and len(groups) < k and fits:
            groups.append([])
            acc = 0.0
        groups[-1].append(i)
        acc += length
    return groups


def fold(d: Diagram, rankdir: str = "TB", columns: int | None = None) -> Layout:
    """The columns to draw `d` in: `columns` of them, or (None) as many as bring its aspect
    ratio widest within TARGET_ASPECT."""
    units, unboxed = _units(d)
    rank = _ranks(d)
    while True:
        if len(units) < 2:
            return Layout([list(d.nodes)])
        shortcuts = [e for e in d.edges if e.shortcut]
        extents = [_extent(d, u, rank, rankdir, shortcuts) for u in units]
        lengths = [e[0] + _CLUSTER for e in extents]
        crossed = _crossed_cuts(d, units)
        breakable = [_starts_a_step(d, u) and i not in crossed for i, u in enumerate(units)]

        def shape(groups):
            length = max(sum(lengths[i] for i in g) for g in groups)
            breadth = sum(max(extents[i][1] for i in g) for g in groups) + (_GAP if rankdir == "TB" else _GAP_LR) * (len(groups) - 1)
            return (breadth / length) if rankdir == "TB" else (length / breadth)

        if columns is not None:
            groups = _split(lengths, max(1, min(columns, len(units))), breakable)
            break
        candidates = [_split(lengths, k, breakable) for k in range(1, min(len(units), MAX_COLUMNS) + 1)]
        # the widest fold that stays within the limit (estimates err by up to a fifth either way)
        fitting = [g for g in candidates if shape(g) <= TARGET_ASPECT]
        if fitting:
            groups = max(fitting, key=shape)
            break
        # even one item per column is too long: open up the longest item that is a sequence
        if not any(_unfold(d, units, i, unboxed) for i in sorted(range(len(units)), key=lambda i: -lengths[i])):
            groups = min(candidates, key=shape)
            break
    if len(groups) == 1:
        return Layout([list(d.nodes)])
    columns = [[n for i in g for n in units[i]] for g in groups]
    # a fold that a skip crosses turns the chain round, so that the skip runs across the columns
    snake = any(g[0] in _crossed_cuts(d, units) for g in groups[1:])
    return Layout(columns, unboxed, set(range(1, len(columns), 2)) if snake else set())


def _crossed_cuts(d: Diagram, units: list[list[str]]) -> set[int]:
    """The units before which something besides the chain passes (a skip, a branch, a size_of):
    folds go at clean cuts where there are any, and across skips only where there are none."""
    unit_of = {n: i for i, unit in enumerate(units) for n in unit}
    crossed: set[int] = set()
    for e in d.edges:
        a, b = unit_of.get(e.src), unit_of.get(e.dst)
        if a is not None and b is not None and abs(b - a) > 1:
            crossed.update(range(min(a, b) + 1, max(a, b) + 1))
    return crossed
