"""The wire pass: resolve references (`from:`, `size_of:`, `outputs:`) and turn the
network, and any block or sequence whose layers read values a plain chain cannot, into a
Flow: named inputs, a program of steps over named values, declared outputs.

A reference names an earlier value in scope: a layer's name in the current list or in an
enclosing one (lexical scope), an input, a dotted path into an earlier named sequence
(`backbone.layer3`), a piece of a multi-output layer (`y.0`), a declared output of a block
instance (`head.aux`), or a negative position in the current list (`-1`, the previous
value, as in Ultralytics' YAML). Inside a block only its inputs and its own layers are
visible.

A sequence whose insides are read from outside, or whose layers read values from outside
it, is *opened*: it stays a module (its children keep their names, so state_dict keys do
not change) but the enclosing program calls its children one by one, as torchvision's
IntermediateLayerGetter does. Everything else is called as a unit. A list that needs none
of this stays a plain sequence (nn.Sequential, or runtime.Chain for sibling `from:`), so
every wave-1 spec builds the same module as before.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from archc.errors import ArchcError, ErrorSink, did_you_mean
from archc.graph import Flow, Graph, Layer, Node, Seq, Step
from archc.layers import KINDS
from archc.layers.base import Kind


@dataclass
class _Entry:
    """A value a name stands for, and what can be read inside it by a dotted path."""

    value: str
    members: dict[str, "_Entry"] = field(default_factory=dict)


@dataclass
class _Frame:
    names: dict[str, _Entry] = field(default_factory=dict)
    parent: "_Frame | None" = None

    def lookup(self, name: str) -> _Entry | None:
        frame = self
        while frame is not None:
            if name in frame.names:
                return frame.names[name]
            frame = frame.parent
        return None

    def visible(self) -> list[str]:
        names, frame = [], self
        while frame is not None:
            names += [n for n in frame.names if n not in names]
            frame = frame.parent
        return names


class _Stop(Exception):
    """This scope cannot be wired; its error is in the sink."""


def _multi_input(node: Node) -> int:
    """How many separate arguments a node's module takes (a block with several inputs)."""
    return len(node.declared_inputs) if isinstance(node, Seq) and node.declared_inputs else 1


def _declares_io(node: Node) -> bool:
    """A block with inputs:, outputs:, order: or parameters: is its own program, never opened
    from outside."""
    return isinstance(node, Seq) and (node.declared_inputs is not None or node.declared_outputs is not None
                                      or node.run_order is not None or bool(node.own_params))


def _output_count(node: Node) -> int | None:
    """How many outputs a multi-output layer (chunk, split) has; None for one output."""
    if not isinstance(node, Layer) or type(KINDS[node.kind]).output_shapes is Kind.output_shapes:
        return None
    args = node.args
    chunks = getattr(args, "chunks", None) if args is not None else node.raw_args.get("chunks")
    sizes = getattr(args, "sizes", None) if args is not None else node.raw_args.get("sizes")
    count = chunks if node.kind == "chunk" else (len(sizes) if isinstance(sizes, list) else None)
    return count if isinstance(count, int) else 0


def _refs(node: Node) -> list:
    return [*node.sources, *([node.size_of] if getattr(node, "size_of", None) is not None else [])]


def _free(seq: Seq, outer: frozenset = frozenset()) -> bool:
    """Does any layer of this sequence (or of plain sequences inside it) name a value that is
    not defined inside it?"""
    names = outer | {item.name for item in seq.items} | {"input"}
    for item in seq.items:
        for ref in _refs(item):
            if isinstance(ref, str) and ref.split(".")[0] not in names:
                return True
        if isinstance(item, Seq) and item.cls_name is None and not isinstance(item, Flow) and _free(item, names):
            return True
    return False


def needs_flow(seq: Seq) -> bool:
    """Can this list not run as nn.Sequential / runtime.Chain?"""
    if _declares_io(seq) or seq.own_params:
        return True
    earlier = {"input"}
    for item in seq.items:
        for ref in _refs(item):
            if not isinstance(ref, str) or "." in ref or ref not in earlier:
                return True
        if getattr(item, "size_of", None) is not None or item.merge_dim != 1 or _output_count(item) is not None:
            return True
        if _multi_input(item) > 1 or (_declares_io(item) and item.declared_outputs is not None):
            return True
        if isinstance(item, Seq) and item.cls_name is None and _free(item):
            return True
        earlier.add(item.name)
    return False


def _dotted_paths(seq: Seq) -> dict:
    """A trie of the dotted references made in this scope (into sequences it may open)."""
    trie: dict = {}

    def add(ref):
        if isinstance(ref, str) and "." in ref:
            level = trie
            for part in ref.split(".")[:-1]:
                level = level.setdefault(part, {})

    def walk(items):
        for item in items:
            for ref in _refs(item):
                add(ref)
            if isinstance(item, Seq) and not _declares_io(item):
                walk(item.items)

    walk(seq.items)
    outputs = seq.declared_outputs
    for ref in (outputs.values() if isinstance(outputs, dict) else outputs or []):
        add(ref)
    return trie


class Wirer:
    def __init__(self, sink: ErrorSink):
        self.sink = sink
        self.params: dict = {}  # the current scope's own parameters, by name

    def fail(self, node: Node, code: str, message: str, **kw):
        self.sink.add(ArchcError(code, message, node.loc, path=f"layer {node.path} ({node.kind})" if node.path else "",
                                 notes=list(node.notes), **kw))
        raise _Stop()

    def visit(self, node: Node) -> None:
        if isinstance(node, Seq) and needs_flow(node):
            try:
                self.scope(node)
            except _Stop:
                return
        else:
            for child in node.children():
                self.visit(child)

    # -- one scope: the network or a block instance (or a list that needs a program) ----------
    def scope(self, node: Seq) -> None:
        inputs = node.declared_inputs or ("input",)
        frame = _Frame()
        for name in inputs:
            frame.names[name] = _Entry(name)
        for item in node.items:
            if item.name in frame.names:
                self.fail(item, "duplicate-name", f"a layer here is named '{item.name}', as an input is",
                          expected="layer names other than the inputs' " + ", ".join(inputs), found=f"'{item.name}'")
        self.params = {p.name: p for p in node.own_params}
        for param in node.own_params:
            if param.name in frame.names:
                self.fail(node, "duplicate-name", f"a parameter is named '{param.name}', as an input is",
                          expected="parameter names other than the inputs'", found=f"'{param.name}'")
            frame.names[param.name] = _Entry(param.name)
        steps: list[Step] = []
        values = self.lower(node.run_order or node.items, frame, _dotted_paths(node), "", inputs[0], steps)
        form, outputs = self.outputs(node, frame, values)
        _mark_live(steps, {name for _, name in outputs})
        node.__class__ = Flow  # the same node, now with a program (its parent's list keeps it)
        node.inputs, node.program, node.output_form, node.outputs = tuple(inputs), steps, form, outputs
        node.value_shapes, node.in_shapes, node.out_shapes = {}, (), {}
        for step in steps:
            if not isinstance(step.node, Layer):
                self.visit(step.node)

    def outputs(self, node: Seq, frame: _Frame, values: list[str]) -> tuple[str, tuple]:
        declared = node.declared_outputs
        if declared is None:
            return "one", (("out", values[-1]),)
        if isinstance(declared, dict):
            return "dict", tuple((key, self.resolve(node, ref, frame, values, "outputs")) for key, ref in declared.items())
        return "tuple", tuple((str(i), self.resolve(node, ref, frame, values, "outputs")) for i, ref in enumerate(declared))

    def lower(self, items: list[Node], frame: _Frame, trie: dict, prefix: str, first: str,
              steps: list[Step]) -> list[str]:
        """Append the steps of `items` (reading `first` by default) and return the list's
        values in order, its input first (for negative positions)."""
        values = [first]
        for item in items:
            reads = [self.resolve(item, ref, frame, values, "from") for ref in item.sources] or [values[-1]]
            path = prefix + item.name
            if isinstance(item, Seq) and not _declares_io(item) and (item.name in trie or _free(item)):
                values.append(self.open(item, reads, frame, trie.get(item.name, {}), path, steps))
                continue
            merge, count = item.merge, _multi_input(item)
            if count > 1:
                if len(reads) != count:
                    self.fail(item, "bad-from", f"this block takes {count} inputs ({', '.join(item.declared_inputs)})",
                              expected=f"from: with {count} values, in that order", found=f"{len(reads)}")
                merge = None
            elif len(reads) > 1 and merge is None:
                self.fail(item, "bad-merge", "several 'from' sources need a 'merge'",
                          expected="merge: concat | add | mul", found="no merge")
            if getattr(item, "size_of", None) is not None:
                reads.append(self.resolve(item, item.size_of, frame, values, "size_of"))
            merge = merge if len(reads) > 1 or item.merge else None
            self.check_parameter_reads(item, reads, merge)
            # a batched parameter (one sample's worth, ViT's class token) joins every sample of the
            # batch wherever it is read: inference gave it the batch too
            step = Step(item, path, tuple(reads), (path,), merge, item.merge_dim,
                        expand=tuple(i for i, r in enumerate(reads) if r in self.params and self.params[r].batched))
            entry = _Entry(path)
            outputs = _output_count(item)
            if outputs == 0:
                self.fail(item, "needs-concrete", f"{item.kind} needs its number of pieces known before shapes are",
                          found=repr(item.raw_args))
            if outputs:
                step.writes, step.unpack = tuple(f"{path}.{i}" for i in range(outputs)), "seq"
                entry = _Entry(step.writes[0], {str(i): _Entry(w) for i, w in enumerate(step.writes)})
            elif _declares_io(item) and isinstance(item.declared_outputs, (dict, list)):
                keys = (tuple(item.declared_outputs) if isinstance(item.declared_outputs, dict)
                        else tuple(str(i) for i in range(len(item.declared_outputs))))
                step.writes = tuple(f"{path}.{key}" for key in keys)
                step.unpack, step.keys = ("dict", keys) if isinstance(item.declared_outputs, dict) else ("seq", ())
                entry = _Entry(step.writes[0], {k: _Entry(w) for k, w in zip(keys, step.writes)})
            steps.append(step)
            frame.names[item.name] = entry
            values.append(entry.value)
        return values

    def check_parameter_reads(self, item: Node, reads: list[str], merge: str | None) -> None:
        """A parameter without a batch dim broadcasts against samples: only add and mul can take it."""
        for name in reads:
            param = self.params.get(name)
            if param is not None and not param.batched and merge not in ("add", "mul"):
                self.fail(item, "bad-from", f"parameter '{name}' has no batch dim, so only add or mul can read it",
                          expected="add: or mul: {from: [-1, " + name + "]}, or the parameter with batched: true",
                          found=f"{item.kind} reading '{name}'")

    def open(self, seq: Seq, reads: list[str], frame: _Frame, trie: dict, path: str, steps: list[Step]) -> str:
        """Lower a sequence's children into the enclosing program (see the module docstring)."""
        if len(reads) > 1:
            self.fail(seq, "bad-from", "a sequence whose layers are read from outside takes one input",
                      expected="one 'from' value", found=f"{len(reads)}",
                      hint="merge the values first, e.g. a concat layer before this sequence")
        seq.opened = True
        # a block instance sees only its own layers; a plain sequence sees the enclosing ones too
        inner = _Frame({"input": _Entry(reads[0])}, None if seq.cls_name else frame)
        values = self.lower(seq.items, inner, trie, path + ".", reads[0], steps)
        frame.names[seq.name] = _Entry(values[-1], {k: v for k, v in inner.names.items() if k != "input"})
        return values[-1]

    def resolve(self, node: Node, ref, frame: _Frame, values: list[str], what: str) -> str:
        if isinstance(ref, int):
            if -ref > len(values):
                self.fail(node, "unknown-source", f"'{what}: {ref}' reaches before the start of this list",
                          expected=f"-1 … -{len(values)} here", found=str(ref))
            return values[ref]
        parts = ref.split(".")
        entry = frame.lookup(parts[0])
        if entry is None:
            visible = frame.visible()
            self.fail(node, "unknown-source", f"'{what}' names '{parts[0]}', which is not an earlier value here",
                      expected="one of " + ", ".join(visible), found=f"'{ref}'", hint=did_you_mean(parts[0], visible))
        for depth, part in enumerate(parts[1:], start=1):
            if part not in entry.members:
                inside = ".".join(parts[:depth])
                self.fail(node, "unknown-source", f"'{what}' names '{ref}', but '{inside}' has no '{part}' to read",
                          expected=("one of " + ", ".join(f"{inside}.{m}" for m in entry.members)) if entry.members
                          else f"'{inside}' itself (nothing inside it can be read)",
                          found=f"'{ref}'", hint=did_you_mean(part, entry.members))
            entry = entry.members[part]
        return entry.value


def _mark_live(steps: list[Step], needed: set[str]) -> None:
    """Steps no output depends on stay in the module tree (their parameters are the spec's)
    and are inferred, but are not run: a backbone's classifier when only its features are read."""
    for step in reversed(steps):
        step.live = any(name in needed for name in step.writes)
        step.node.dead = not step.live
        if step.live:
            needed.update(step.reads)


def wire(graph: Graph) -> Graph:
    """Resolve every reference and make the Flows; raise located errors for bad ones."""
    sink = ErrorSink()
    Wirer(sink).visit(graph.root)
    sink.raise_if_any()
    return graph
