"""The aliasing pass: refuse an in-place layer whose input is read again after it.

`relu: {inplace: true}` overwrites its input tensor. That is safe when nothing reads the
old value again (torchvision's ReLU after a batch norm), and silently wrong when something
does: a residual's shortcut, a later `from:`, a sibling branch, a dense block's
concatenation. This pass decides which, before anything is built, by walking the tree in
the order the runtime containers (archc/runtime.py) run their children and keeping, as
autograd does, a version number per storage: an in-place layer bumps the version of the
storage its input lives in, and reading a value made at an older version is a hazard.
Layers that return their input itself or a view of it (identity, flatten, a channel
slice, dropout in eval mode) pass the storage on, so aliasing is followed through them.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from archc.errors import ArchcError, ErrorSink, Loc
from archc.graph import Dense, Flow, Graph, Layer, Node, Parallel, Residual, Seq

# Kinds whose output may be the input tensor or a view of its storage, in train or eval
# mode (a test checks this list against torch for every kind).
VIEW_KINDS = frozenset({"identity", "concat", "add", "mul", "chunk", "split", "select", "flatten", "slice_channels", "dropout", "dropout1d", "dropout2d", "dropout3d",
                        "permute", "reshape", "unflatten", "stochastic_depth"})


# Kinds whose backward reads their own output (torch saves the result): an in-place layer after
# one of them, read through views, breaks training ("one of the variables needed for gradient
# computation has been modified by an inplace operation"). ELU and LeakyReLU save it only when
# they run in place themselves. A test checks this list against torch's autograd.
SAVES_OUTPUT = frozenset({"relu", "sigmoid", "tanh", "softmax", "log_softmax", "amax"})
SAVES_OUTPUT_IN_PLACE = frozenset({"elu", "leaky_relu"})


def saves_output(node: Layer) -> bool:
    return node.kind in SAVES_OUTPUT or node.kind in SAVES_OUTPUT_IN_PLACE and writes_input(node)


def writes_input(node: Layer) -> bool:
    """Does this layer overwrite its input (`inplace: true`)?"""
    return bool(getattr(node.args, "inplace", False))


@dataclass(frozen=True)
class Value:
    """A tensor at run time: the storage it lives in and that storage's version when it was made."""

    storage: int
    version: int


class _Tracker:
    def __init__(self, sink: ErrorSink):
        self.sink = sink
        self.storages = count()
        self.versions: dict[int, int] = {}
        self.writers: dict[tuple[int, int], Layer] = {}  # (storage, version it made) -> in-place layer
        self.reported: set[int] = set()
        self.parameters: dict[int, str] = {}  # storage -> the parameter it is (autograd forbids writing one)
        self.saved: dict[Value, Layer] = {}  # a value some layer's backward reads -> that layer

    def fresh(self) -> Value:
        storage = next(self.storages)
        self.versions[storage] = 0
        return Value(storage, 0)

    def read(self, value: Value, reader: str) -> None:
        """`reader` (words for what reads) reads `value` now: an error if it has been overwritten."""
        if self.versions[value.storage] != value.version:
            self.hazard(self.writers[(value.storage, value.version + 1)], reader)

    def write(self, value: Value, layer: Layer) -> Value:
        current = Value(value.storage, self.versions[value.storage])
        if current in self.saved:
            maker = self.saved[current]
            self.refuse(layer, f"overwrites the output of {maker.kind}, which {maker.kind}'s backward needs",
                        expected="an in-place layer after a layer whose backward does not read its output",
                        found=f"{_describe(maker)} before it: training would fail ('a variable needed for "
                              "gradient computation has been modified by an inplace operation')")
        if value.storage in self.parameters:
            self.refuse(layer, f"would overwrite the parameter '{self.parameters[value.storage]}'",
                        expected="an in-place layer's input made by another layer",
                        found="a parameter, which autograd does not let anything write in place")
        self.versions[value.storage] += 1
        self.writers[(value.storage, self.versions[value.storage])] = layer
        return Value(value.storage, self.versions[value.storage])

    def hazard(self, layer: Layer, reader: str) -> None:
        self.refuse(layer, "overwrites a value that is read again after it",
                    expected="an in-place layer's input read by nothing after it",
                    found=f"its input is read afterwards by {reader}",
                    hint="drop 'inplace: true' here, or put a layer that makes a new tensor (a convolution, "
                         "a batch norm) before it")

    def refuse(self, layer: Layer, what: str, expected: str, found: str, hint: str = "drop 'inplace: true' here") -> None:
        """One inplace-aliases error per in-place layer, whichever hazard is met first."""
        if id(layer) in self.reported:
            return
        self.reported.add(id(layer))
        self.sink.add(ArchcError("inplace-aliases", f"this in-place {layer.kind} {what}", _inplace_loc(layer),
                                 path=f"layer {layer.path} ({layer.kind})", notes=list(layer.notes),
                                 expected=expected, found=found, hint=hint))

    # -- the walk, in the runtime containers' order ------------------------------------------
    def node(self, node: Node, x: Value) -> Value:
        return getattr(self, "run_" + type(node).__name__.lower())(node, x)

    def run_layer(self, node: Layer, x: Value) -> Value:
        self.read(x, _describe(node))
        if writes_input(node):
            out = self.write(x, node)
        else:
            out = x if node.kind in VIEW_KINDS else self.fresh()
        if saves_output(node):
            self.saved[out] = node
        return out

    def run_seq(self, node: Seq, x: Value) -> Value:
        saved = {"input": x}  # as runtime.Chain keeps them (it keeps only those read; reading is what matters)
        for child in node.items:
            if child.sources:
                reader = f"'from:' of {_describe(child)}"
                for source in child.sources:
                    self.read(saved[source], reader)
                # merge() of one tensor returns that tensor itself; of several, a new one
                x = saved[child.sources[0]] if len(child.sources) == 1 else self.fresh()
            x = self.node(child, x)
            saved[child.name] = x
        return x

    def run_flow(self, node: Flow, x: Value, extra: tuple[Value, ...] = ()) -> Value:
        """A program, step by step as runtime.Flow runs it (the merge kinds are the identity
        on what the step merged; a chunk's pieces are views of its input)."""
        values = dict(zip(node.inputs, (x, *extra)))
        for param in node.own_params:
            values[param.name] = self.fresh()
            self.parameters[values[param.name].storage] = param.name
        for step in (s for s in node.program if s.live):
            reader = _describe(step.node)
            args = [values[name] for name in step.reads]
            for value in args:
                self.read(value, reader)
            if step.merge:
                # merging one tensor by add or mul returns it; anything else makes a new one
                args = [args[0] if len(args) == 1 and step.merge != "concat" else self.fresh()]
            child = step.node
            out = self.run_flow(child, args[0], tuple(args[1:])) if isinstance(child, Flow) else self.node(child, args[0])
            if step.unpack == "one" or isinstance(child, Layer):  # a chunk's pieces share its input's storage
                for name in step.writes:
                    values[name] = out
            else:
                for name in step.writes:
                    values[name] = self.fresh()
        for _, name in node.outputs:
            self.read(values[name], f"the outputs of {_describe(node)}")
        return values[node.outputs[0][1]]

    def run_residual(self, node: Residual, x: Value) -> Value:
        out = x
        for child in node.body:  # runtime.Residual runs the body first, then the shortcut on x
            out = self.node(child, out)
        if node.shortcut is None:
            self.read(x, f"the identity shortcut of the residual at {node.loc}")
            short = x
        else:
            self.read(x, f"the shortcut '{node.shortcut.name}' of the residual at {node.loc}")
            short = self.node(node.shortcut, x)
        self.read(out, f"the merge of the residual at {node.loc}")
        self.read(short, f"the merge of the residual at {node.loc}")
        out = self.fresh()
        for child in node.after:
            out = self.node(child, out)
        return out

    def run_parallel(self, node: Parallel, x: Value) -> Value:
        outs = []
        for branch in node.branches:
            self.read(x, f"the branch '{branch.name}' of the parallel at {node.loc}")
            outs.append(self.node(branch, x))
        for out in outs:
            self.read(out, f"the merge of the parallel at {node.loc}")
        # merge() of one tensor by add or mul returns that tensor itself
        return outs[0] if len(outs) == 1 and node.how != "concat" else self.fresh()

    def run_dense(self, node: Dense, x: Value) -> Value:
        for unit in node.units:
            grown = self.node(unit, x)
            self.read(x, f"the concatenation of the dense block at {node.loc} (each unit's input is kept)")
            self.read(grown, f"the concatenation of the dense block at {node.loc}")
            x = self.fresh()
        return x


def _describe(node: Node) -> str:
    return f"layer {node.path} ({node.kind}) at {node.loc}" if node.path else f"the network ({node.kind})"


def _inplace_loc(layer: Layer) -> Loc | None:
    """Where `inplace: true` is written, else the layer."""
    return getattr(layer.args_loc, "value_locs", {}).get("inplace", layer.loc)


def check_aliasing(graph: Graph) -> Graph:
    """Raise located errors for in-place layers that overwrite a value read after them."""
    sink = ErrorSink()
    tracker = _Tracker(sink)
    if isinstance(graph.root, Flow):
        tracker.run_flow(graph.root, tracker.fresh(), tuple(tracker.fresh() for _ in graph.root.inputs[1:]))
    else:
        tracker.node(graph.root, tracker.fresh())
    sink.raise_if_any()
    return graph
