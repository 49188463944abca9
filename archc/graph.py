"""The IR: a tree of nodes mirroring the module tree the spec describes.

`expand` builds it (blocks instantiated, expressions evaluated, names fixed); `infer`
fills in every node's input/output shape, parameter count and MACs; emitters only read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from archc.errors import Loc

MERGES = ("concat", "add", "mul")


@dataclass(eq=False)
class Node:
    """Anything that becomes one module: a layer or a container."""

    kind: str  # a layer kind, a structural kind, or a block's name
    name: str  # the module's name inside its parent (an index for unnamed ones)
    path: str  # dotted module path from the root, as in state_dict keys
    loc: Loc | None
    notes: tuple[str, ...] = ()  # where a block was used, for errors inside its definition
    sources: tuple = ()  # `from:`: references to earlier values (names, dotted paths, -1 …)
    merge: str | None = None  # how several sources combine
    merge_dim: int = 1  # the dim a concatenation joins (counting the batch as 0)
    size_of: str | None = None  # interpolate's `size_of:`: a reference whose spatial size it takes
    trainable: bool = True  # `trainable: false` freezes this node's parameters (and its children's)
    dead: bool = False  # in a Flow, no output depends on it: it holds parameters but never runs
    # filled by infer
    in_shape: tuple[int, ...] | None = None
    out_shape: tuple[int, ...] | None = None
    params: int = 0
    macs: int = 0

    def children(self) -> list["Node"]:
        return []

    def walk(self) -> Iterator["Node"]:
        """This node and all below it, parents first."""
        yield self
        for child in self.children():
            yield from child.walk()


@dataclass(eq=False)
class Layer(Node):
    """A built-in layer kind. `args` is the kind's validated Args, or a raw mapping whose
    values still hold expressions over `in` (validated once the input shape is known)."""

    args: Any = None
    raw_args: dict = field(default_factory=dict)
    args_loc: Any = None  # the YMap the arguments came from, for locating argument errors
    init: dict | None = None  # parameter name -> (how, value), from `init:` (see layers/init.py)


@dataclass(eq=False)
class Seq(Node):
    """Layers applied in order (nn.Sequential, or a Chain when a child reads `from:`).

    `cls_name` is set for block instances: the module class is named after the block."""

    items: list[Node] = field(default_factory=list)
    cls_name: str | None = None
    opened: bool = False  # an enclosing Flow's program calls its children one by one
    declared_inputs: tuple[str, ...] | None = None  # a block's (or the network's) `inputs:`
    declared_outputs: Any = None  # its `outputs:`: a dict of key -> reference, a list, or None
    run_order: list | None = None  # the items in the order they run, when a block's `order:` registers them otherwise
    own_params: list = field(default_factory=list)  # OwnParam: tensors this module holds itself (`parameters:`)

    def children(self):
        return self.items


@dataclass(frozen=True)
class OwnParam:
    """A learnable tensor a block's module holds itself: `name` is its state_dict key below
    the module; `batched` means its first dim is a batch of one."""

    name: str
    shape: tuple[int, ...]
    init: tuple | None  # (how, value) as layers/init.py parses it
    batched: bool = False

    @property
    def value_shape(self) -> tuple[int, ...]:
        """Its shape as a value in the dataflow (archc's shapes leave the batch out)."""
        return self.shape[1:] if self.batched else self.shape


@dataclass(eq=False)
class Step:
    """One call in a Flow's program: the module `target` (a path below the flow) applied to
    the values `reads` (merged into one tensor first when `merge` is set, else each passed
    as an argument), its result bound to `writes` (one name; one per output of a module
    that returns a tuple ('seq') or a dict ('dict', by `keys`))."""

    node: Node
    target: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    merge: str | None = None
    dim: int = 1
    unpack: str = "one"  # one | seq | dict
    keys: tuple[str, ...] = ()
    live: bool = True  # does an output depend on it? (a dead step is inferred, never run)
    expand: tuple[int, ...] = ()  # reads (by position) that are batched parameters: concat expands them to the batch


@dataclass(eq=False)
class Flow(Seq):
    """A module with its own dataflow: named inputs, a program of Steps over named values,
    and declared outputs. The network or a block becomes one when its layers read values a
    plain chain cannot (dotted paths, outer names, several inputs or outputs, size_of …).

    `items` is still the module tree (names are the API); a nested sequence marked
    `opened` has its children called one by one by the program (torchvision's
    IntermediateLayerGetter does the same), so their insides can be read."""

    inputs: tuple[str, ...] = ("input",)
    program: list[Step] = field(default_factory=list)
    outputs: tuple[tuple[str, str], ...] = ()  # (key, value) pairs
    output_form: str = "one"  # one | dict | tuple
    value_shapes: dict = field(default_factory=dict)  # value name -> shape, filled by infer
    in_shapes: tuple = ()  # one shape per input, set by infer
    out_shapes: dict = field(default_factory=dict)  # output key -> shape (dict or tuple forms)


@dataclass(eq=False)
class Residual(Node):
    """merge(body(x), shortcut(x)) then `after`; an absent shortcut is the identity."""

    body: list[Node] = field(default_factory=list)
    shortcut: Node | None = None
    after: list[Node] = field(default_factory=list)
    how: str = "add"  # how body and shortcut combine
    shortcut_first: bool = False  # the spec wrote `shortcut:` before `body:` (module order follows)
    cls_name: str | None = None

    def children(self):
        shortcut = [self.shortcut] if self.shortcut else []
        return [*shortcut, *self.body, *self.after] if self.shortcut_first else [*self.body, *shortcut, *self.after]


@dataclass(eq=False)
class Parallel(Node):
    """Named branches applied to the same input, merged (concat on channels, add or mul)."""

    branches: list[Node] = field(default_factory=list)
    how: str = "concat"
    cls_name: str | None = None

    def children(self):
        return self.branches


@dataclass(eq=False)
class Dense(Node):
    """DenseNet: each unit's output is concatenated onto its input, channels growing."""

    units: list[Node] = field(default_factory=list)
    cls_name: str | None = None

    def children(self):
        return self.units


@dataclass(eq=False, repr=False)
class Graph:
    """A whole expanded network."""

    name: str
    description: str
    input_shape: tuple[int, ...]  # the first input's
    root: Seq
    file: str
    constraints: Any = None  # symbolic.Constraints when the input has named sizes
    input_loc: Loc | None = None  # where the spec wrote `input:` (None when --input replaced it)
    warnings: list = field(default_factory=list)  # ArchcWarnings: likely mistakes that are not errors
    inputs: dict = field(default_factory=dict)  # input name -> shape (one entry, 'input', for `input:`)

    @property
    def input_shapes(self) -> dict:
        return self.inputs or {"input": self.input_shape}

    @property
    def symbolic(self) -> bool:
        return self.constraints is not None

    def nodes(self) -> Iterator[Node]:
        return self.root.walk()

    # how a checked graph shows itself (archc/emit/notebook.py; imported on use: no torch)
    def __str__(self) -> str:
        from archc.emit.notebook import short_summary

        return short_summary(self)

    def __repr__(self) -> str:
        from archc.emit.notebook import one_line

        return one_line(self)

    def summary(self, depth: int | None = None) -> str:
        """The table `archc summary` prints: shapes, parameters, MACs, shares, memory."""
        from archc.emit.summary import summary_text

        return summary_text(self, depth)

    def explain(self, layer: str | None = None) -> str:
        """The text `archc explain` prints: the arithmetic behind every shape (or one layer's)."""
        from archc.explain import explain_text

        return explain_text(self, layer)

    def _repr_html_(self) -> str:
        from archc.emit.notebook import summary_html

        return summary_html(self)

    def _repr_svg_(self) -> str | None:
        from archc.emit.notebook import diagram_svg

        return diagram_svg(self)
