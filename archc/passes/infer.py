"""The infer pass: every node gets its input and output shape, parameters and MACs.

All arithmetic is delegated to the layer kinds (which use archc.shapes); this pass only
walks the tree, wires `from:` sources, checks merges, and turns ShapeErrors into located
ArchcErrors that name the layer and echo its input.
"""
from __future__ import annotations

from archc.errors import ArchcError, ArchcWarning, ErrorSink, did_you_mean
from archc.graph import Dense, Flow, Graph, Layer, Node, Parallel, Residual, Seq
from archc.layers import KINDS
from archc.layers.base import WINDOW_READ_COST
from archc.layers.init import check_against
from archc.passes.expand import validate_args
from archc.passes.limits import Limits
from archc.shapes import ShapeError, broadcast_size, format_shape, product
from archc.spec.expr import Deferred, ExprError, InShape
from archc.symbolic import (
    Constraints, NeedsConcrete, Unknown, collecting, is_symbolic, require_equal, stop_collecting,
)


class _Stop(Exception):
    """Inference of this chain cannot continue; the error is in the sink."""


# what every needs-concrete-size error asks for
CONCRETE_INPUT = "a concrete input size (give --input, e.g. --input 3x224x224)"


class Inferrer:
    def __init__(self, limits: Limits, sink: ErrorSink):
        self.limits, self.sink = limits, sink

    def fail(self, node: Node, code: str, message: str, **kw):
        self.sink.add(ArchcError(code, message, node.loc, path=_where(node), notes=list(node.notes), **kw))
        raise _Stop()

    def node(self, node: Node, shape: tuple[int, ...]) -> tuple[int, ...]:
        node.in_shape = shape
        handler = getattr(self, "infer_" + type(node).__name__.lower())
        node.out_shape = handler(node, shape)
        elements = product(node.out_shape)
        if elements > self.limits.max_elements:
            self.fail(node, "too-large", "this output is too large to allocate",
                      expected=f"at most {self.limits.max_elements:,} elements per sample",
                      found=f"{format_shape(node.out_shape)} = {elements:,}")
        if not isinstance(node, Layer):  # a container counts what is inside it
            node.params = sum(c.params for c in node.children()) + sum(
                product(p.shape) for p in getattr(node, "own_params", ()))
            node.macs = sum(c.macs for c in node.children() if not c.dead)  # what a forward pass does
        return node.out_shape

    def infer_layer(self, node: Layer, shape):
        if node.args is None:
            node.args = self.resolve_args(node, shape)
        try:
            result = KINDS[node.kind].infer(node.kind, node.args, shape)
        except NeedsConcrete as exc:
            self.fail(node, "needs-concrete-size", f"{node.kind} needs concrete sizes here",
                      expected=CONCRETE_INPUT, found=str(exc))
        except TypeError:  # a symbolic size where the kind's arithmetic needs a number (a permuted map's channels)
            if not any(is_symbolic(s) for s in shape):
                raise
            where = "its channels are" if is_symbolic(shape[0]) else "its input is"
            self.fail(node, "needs-concrete-size", f"{node.kind} needs concrete sizes here: {where} symbolic",
                      expected=CONCRETE_INPUT,
                      found=f"input {format_shape(shape)}")
        except ShapeError as exc:
            self.fail(node, exc.code, exc.message, expected=exc.expected,
                      found=exc.found if format_shape(shape) in exc.found else f"{exc.found} (input {format_shape(shape)})",
                      hint=exc.hint)
        if result.params > self.limits.max_params:
            self.fail(node, "too-many-params", "this layer has too many parameters",
                      expected=f"at most {self.limits.max_params:,} (--max-params)", found=f"{result.params:,}")
        node.params, node.macs = result.params, result.macs
        if node.init:
            try:
                check_against(node.init, KINDS[node.kind].param_shapes(node.kind, node.args, shape), node.kind)
            except ShapeError as exc:
                self.sink.add(ArchcError(exc.code, exc.message, _arg_loc(node, "init"), path=_where(node),
                                         notes=list(node.notes), expected=exc.expected, found=exc.found))
                raise _Stop() from None
        return result.shape

    def resolve_args(self, node: Layer, shape):
        """Evaluate the `${… in …}` values now that the incoming shape is known."""
        values = {}
        for key, value in node.raw_args.items():
            try:
                values[key] = _evaluate(value, InShape(shape))
            except ExprError as exc:
                self.sink.add(ArchcError(exc.code, exc.message, _arg_loc(node, key), path=_where(node),
                                         notes=list(node.notes), found=repr(value), hint=exc.hint))
                raise _Stop() from None
        args = validate_args(node.kind, values, node.args_loc, node.loc, self.sink, node.notes)
        if args is None:
            raise _Stop()
        return args

    def infer_seq(self, node: Seq, shape):
        outputs = {"input": shape}
        for child in node.items:
            if child.sources:
                shape = self.merge_sources(child, outputs)
            shape = self.node(child, shape)
            outputs[child.name] = shape
        return shape

    def infer_flow(self, node: Flow, shape):
        """Run the program: each step's shape rule on the shapes of the values it reads."""
        shapes = node.in_shapes if len(node.in_shapes) == len(node.inputs) else (shape,)
        env = dict(zip(node.inputs, shapes))
        env.update({param.name: param.value_shape for param in node.own_params})
        for step in node.program:
            args = [env[name] for name in step.reads]
            child = step.node
            if step.merge:
                args = [self.merged(child, step.merge, list(zip(step.reads, args)), step.dim)]
            like = None
            if getattr(child, "size_of", None) is not None:
                # interpolate to another value's spatial size: its `size` is that value's (a symbolic
                # size is checked as 1 and then taken as it is: the module reads it at run time)
                like = args.pop()
                spatial = [v if isinstance(v, int) else 1 for v in like[1:]]
                child.raw_args = {**child.raw_args, "size": spatial}
                child.args = None
            if isinstance(child, Flow):
                child.in_shapes = tuple(args)
            out = self.node(child, args[0])
            if like is not None and not all(isinstance(v, int) for v in like[1:]):
                out = child.out_shape = (out[0], *like[1:])
            if step.unpack == "one":
                env[step.writes[0]] = out
            elif isinstance(child, Layer):
                for name, piece in zip(step.writes, KINDS[child.kind].output_shapes(child.kind, child.args, child.in_shape)):
                    env[name] = piece
            else:
                for name, piece in zip(step.writes, child.out_shapes.values()):
                    env[name] = piece
        node.value_shapes = env
        node.out_shapes = {key: env[name] for key, name in node.outputs}
        for inner in reversed(list(node.walk())):  # opened sequences: what their children add up to
            if isinstance(inner, Seq) and inner.opened and inner.items:
                inner.in_shape, inner.out_shape = inner.items[0].in_shape, inner.items[-1].out_shape
                inner.params = sum(c.params for c in inner.items)
                inner.macs = sum(c.macs for c in inner.items if not c.dead)
                inner.dead = all(c.dead for c in inner.items)
        return next(iter(node.out_shapes.values()))

    def merge_sources(self, child: Node, outputs: dict) -> tuple[int, ...]:
        for source in child.sources:
            if source not in outputs or source == child.name:
                self.fail(child, "unknown-source", f"'from' names '{source}', which is not an earlier layer here",
                          expected="'input' or one of " + ", ".join(k for k in outputs if k != "input"),
                          found=f"'{source}'", hint=did_you_mean(source, outputs))
        shapes = [outputs[s] for s in child.sources]
        if len(shapes) == 1:
            return shapes[0]
        return self.merged(child, child.merge, list(zip(child.sources, shapes)))

    def merged(self, node: Node, merge: str, named: list[tuple[str, tuple[int, ...]]], dim: int = 1) -> tuple[int, ...]:
        try:
            return self._merged(node, merge, named, dim)
        except NeedsConcrete as exc:  # sizes that must agree across two symbols (a permute swapped H and W)
            self.fail(node, "needs-concrete-size", f"this {merge} needs concrete sizes: its inputs agree only if {exc}",
                      expected=CONCRETE_INPUT,
                      found=", ".join(f"{n}: {format_shape(s)}" for n, s in named))

    def _merged(self, node: Node, merge: str, named: list[tuple[str, tuple[int, ...]]], dim: int = 1) -> tuple[int, ...]:
        shapes = [s for _, s in named]
        listing = ", ".join(f"{n}: {format_shape(s)}" for n, s in named)
        first = shapes[0]
        if merge == "concat":
            d = dim - 1 if dim > 0 else dim + len(first)  # torch's dim counts the batch
            if not 0 <= d < len(first):
                self.fail(node, "bad-dim", f"concat along dim {dim}, which its inputs do not have",
                          expected=f"a dim from 1 to {len(first)} (or {-len(first)} to -1)", found=listing)
            if len({len(s) for s in shapes}) != 1 or not all(
                    require_equal(a, b, f"{merge} in {node.path or 'network'}")
                    for s in shapes[1:] for i, (a, b) in enumerate(zip(first, s)) if i != d):
                along = "channels" if d == 0 else f"dim {dim}"
                self.fail(node, "merge-mismatch", f"concatenated inputs must agree on every dim but {along}",
                          expected=f"equal sizes except along {along}", found=listing, hint=_concat_hint(node, named))
            try:
                joined = sum(s[d] for s in shapes)
            except NeedsConcrete:  # H + H is no floor formula
                self.fail(node, "needs-concrete-size", f"concatenating along symbolic dim {dim} needs concrete sizes",
                          expected=CONCRETE_INPUT, found=listing)
            return (*first[:d], joined, *first[d + 1:])
        if merge == "mul" and len({len(s) for s in shapes}) == 1:
            # gating (squeeze-excitation) scales C×H×W by C×1×1: torch broadcasts size-1 dims
            try:
                out = first
                for s in shapes[1:]:
                    out = tuple(broadcast_size(a, b) for a, b in zip(out, s))
                return out
            except ShapeError:
                self.fail(node, "merge-mismatch", "'mul' needs shapes that broadcast (equal, or 1)",
                          expected="the same size or 1 in every dim", found=listing)
        if len({len(s) for s in shapes}) != 1 or not all(
                require_equal(a, b, f"{merge} in {node.path or 'network'}") for s in shapes[1:] for a, b in zip(first, s)):
            self.fail(node, "merge-mismatch", f"'{merge}' needs inputs of equal shape",
                      expected="the same shape everywhere", found=listing,
                      hint="give the shortcut a 1×1 convolution with the body's stride and channels"
                      if isinstance(node, Residual) else "")
        return first

    def one_tensor(self, container: Node, path: str, nodes: list[Node]) -> None:
        """A residual's paths, a parallel branch and a dense unit each give the merge one tensor:
        refuse one that ends in a layer giving several (chunk, split, a block with several outputs)."""
        ends = _ends_in_pieces(nodes)
        if ends is not None:
            name = ends.name if not ends.name.isdigit() else "parts"
            self.fail(ends, "merge-mismatch", f"this {ends.kind} ends {path}, which must give one tensor",
                      expected=f"one tensor out of the {_kind_of(container)}", found=f"the {ends.kind}'s pieces",
                      hint=f"name it ({name}) and add a layer that reads its pieces, "
                           f"e.g. '- concat: {{from: [{name}.0, {name}.1]}}'")

    def infer_residual(self, node: Residual, shape):
        out = shape
        for child in node.body:
            out = self.node(child, out)
        self.one_tensor(node, "the residual's body", node.body)
        short = self.node(node.shortcut, shape) if node.shortcut else shape
        if node.shortcut:
            self.one_tensor(node, "the residual's shortcut", [node.shortcut])
        if node.how in ("add", "concat") and _concrete(shape, out, short) and not _fits(node.how, out, short):
            self.residual_mismatch(node, shape, out, short)
        out = self.merged(node, node.how, [("body", out), (node.shortcut.name if node.shortcut else "identity", short)])
        for child in node.after:
            out = self.node(child, out)
        self.one_tensor(node, "the residual's 'after' layers", node.after)
        return out

    def residual_mismatch(self, node: Residual, shape, body, short):
        """A residual whose paths disagree: point at the layer that changed the size (or the
        channels) and say how to keep them, not just at the residual."""
        listing = f"body: {format_shape(body)}, {node.shortcut.name if node.shortcut else 'identity'}: {format_shape(short)}"
        paths = [("body", node.body, body), ("shortcut", [node.shortcut] if node.shortcut else [], short)]
        if body[1:] != short[1:]:
            # the path whose size differs from the block's input; the body if both do
            name, nodes, _ = next((p for p in paths if p[2][1:] != shape[1:]), paths[0])
            culprit = _first_change(nodes, lambda n: n.out_shape[1:] != shape[1:]) or node
            what = f"changes the size from {format_shape(shape[1:])} to {format_shape(culprit.out_shape[1:])}" \
                if culprit is not node else "does not keep the size"
            message = f"this layer {what}, so the residual's {name} and its other path no longer match"
            if name == "shortcut" and body[1:] == shape[1:]:
                hint = (f"the body keeps the size {format_shape(shape[1:])}: give the shortcut stride 1, "
                        "or downsample the body by the same stride")
            else:
                hint = _keep_size_hint(culprit, body if name == "body" else short, node.shortcut is None)
        else:
            if node.how == "concat":  # channels may differ in a concatenation
                return
            changes = lambda n: n.out_shape[:1] != n.in_shape[:1]  # noqa: E731
            # the shortcut's own change of channels if it has one, else the body's
            short = _last_change([node.shortcut], changes) if node.shortcut is not None else None
            culprit = short or _last_change(node.body, changes) or node
            name = "shortcut" if short is not None else "body"
            made = culprit.out_shape[0] if culprit is not node else body[0]
            message = f"this layer makes {made} channels, so the residual's {name} and its other path no longer match"
            hint = (f"give the residual a 1×1 convolution shortcut to {body[0]} channels: "
                    f"shortcut: [{_conv_kind(shape)}: {{out_channels: {body[0]}, kernel_size: 1}}]" if node.shortcut is None
                    else f"make the shortcut give {body[0]} channels, as the body does")
        notes = [*culprit.notes, f"in the residual at {node.loc}"] if culprit is not node else list(node.notes)
        self.sink.add(ArchcError("merge-mismatch", message, culprit.loc, path=_where(culprit), notes=notes,
                                 expected=f"'{node.how}' of equal shapes" if node.how == "add" else
                                 f"'{node.how}' of equal sizes after the channels", found=listing, hint=hint))
        raise _Stop()

    def infer_parallel(self, node: Parallel, shape):
        named = [(branch.name, self.node(branch, shape)) for branch in node.branches]
        for branch in node.branches:
            self.one_tensor(node, f"branch '{branch.name}'", [branch])
        return self.merged(node, node.how, named)

    def infer_dense(self, node: Dense, shape):
        for unit in node.units:
            grown = self.node(unit, shape)
            self.one_tensor(node, "a dense unit", [unit])
            shape = self.merged(unit, "concat", [("input", shape), (unit.name, grown)])
        return shape


def _ends_in_pieces(nodes: list[Node]) -> Node | None:
    """The layer (or block) with several outputs that `nodes` end in, if they do."""
    last = nodes[-1] if nodes else None
    while isinstance(last, Seq) and not isinstance(last, Flow) and last.items:
        last = last.items[-1]
    if isinstance(last, Flow):
        return last if last.output_form != "one" else None
    if isinstance(last, Layer) and KINDS[last.kind].output_shapes(last.kind, last.args, last.in_shape) is not None:
        return last
    return None


def _kind_of(node: Node) -> str:
    return type(node).__name__.lower()


def _concrete(*shapes) -> bool:
    return all(isinstance(v, int) for s in shapes for v in s)


def _fits(how: str, a, b) -> bool:
    return a == b if how == "add" else len(a) == len(b) and a[1:] == b[1:]


def _layers_in_order(nodes):
    for node in nodes:
        for inner in node.walk():
            if isinstance(inner, Layer) and inner.out_shape is not None:
                yield inner


def _first_change(nodes, changed):
    return next((n for n in _layers_in_order(nodes) if changed(n)), None)


def _last_change(nodes, changed):
    found = None
    for n in _layers_in_order(nodes):
        if changed(n):
            found = n
    return found


def _conv_kind(shape) -> str:
    return f"conv{min(max(len(shape) - 1, 1), 3)}d"


def _keep_size_hint(layer: Node, path_out, identity_shortcut: bool) -> str:
    """How to keep a layer's output the size of its input: padding (k-1)//2 for a
    convolution or pooling that shrinks it; the same stride on the shortcut for one that
    downsamples on purpose."""
    args = getattr(layer, "args", None)
    kernel = getattr(args, "kernel_size", None)
    stride = _stride(layer)
    padding = getattr(args, "padding", 0)
    dilation = _max(getattr(args, "dilation", None) or 1)
    if kernel is None or not isinstance(layer, Layer):
        return "keep the size in every layer of the path (padding), or give the other path the same downsampling"
    keep = dilation * (_max(kernel) - 1) // 2
    shortcut = (f"shortcut: [{_conv_kind(layer.in_shape)}: {{out_channels: {path_out[0]}, kernel_size: 1, stride: {stride}}}]")
    if stride > 1:
        fix = f"to downsample on purpose, give the shortcut the same stride: {shortcut}"
        if not identity_shortcut:
            fix = f"to downsample on purpose, give the shortcut the same stride ({stride}), e.g. {shortcut}"
        return fix + (f"; to keep the size, use stride 1 and padding: {keep}" if padding != keep else "")
    if _max(kernel) % 2 == 0:
        return f"an even kernel_size ({_max(kernel)}) cannot keep the size; use an odd one with padding (k-1)//2"
    if padding != keep and not isinstance(padding, str):
        return f"padding: {keep} keeps the size (kernel_size {_max(kernel)}: padding (k-1)//2)"
    return "keep the size in every layer of the path, or give the other path the same change"


def _stride(layer: Node) -> int:
    args = getattr(layer, "args", None)
    stride = getattr(args, "stride", None)
    if stride is None and "pool" in layer.kind:  # pooling's stride defaults to its kernel
        stride = getattr(args, "kernel_size", None)
    return _max(stride or 1)


def _concat_hint(node: Node, named) -> str:
    """Which inputs of a concatenation have which size, and (for parallel branches) which
    layer in a branch changed it and how to keep it."""
    ranks = {len(shape) for _, shape in named}
    if len(ranks) > 1:  # no size to compare: say how many dims each has
        dims = ", ".join(f"'{name}' has {len(shape)} dim{'s' if len(shape) != 1 else ''} ({format_shape(shape)})"
                         for name, shape in named)
        return f"{dims}: concatenated inputs need the same number of dims"
    sizes = [format_shape(shape[1:]) for _, shape in named]
    common = max(sizes, key=sizes.count)  # the size most inputs agree on
    odd = [(name, size) for (name, _), size in zip(named, sizes) if size != common]
    branches = {b.name: b for b in node.branches} if isinstance(node, Parallel) else {}
    parts = []
    for name, size in odd:
        text = f"'{name}' gives {size}"
        branch = branches.get(name)
        culprit = _first_change([branch], lambda n: n.out_shape[1:] != node.in_shape[1:]) if branch else None
        if culprit is not None:
            stride = _stride(culprit)
            fix = f"its stride {stride} downsamples" if stride > 1 else _keep_size_hint(culprit, culprit.out_shape, True)
            text += f" (its {culprit.kind} at {culprit.loc}: {fix})"
        parts.append(text)
    others = "the others give" if len(named) - len(odd) > 1 else f"'{next(n for (n, _), s in zip(named, sizes) if s == common)}' gives"
    return (f"{', '.join(parts)} where {others} {common}: make every input the same size after the channels "
            "(keep the size with padding, or downsample every input alike)")


def _max(value) -> int:
    return max(value) if isinstance(value, (list, tuple)) else value


def _evaluate(value, incoming: InShape):
    if isinstance(value, Deferred):
        return value.evaluate(incoming)
    if isinstance(value, list):
        return [_evaluate(v, incoming) for v in value]
    return value


def _arg_loc(node: Layer, key: str):
    raw = node.args_loc
    return getattr(raw, "value_locs", {}).get(key, node.loc)


def _where(node: Node) -> str:
    return f"layer {node.path} ({node.kind})" if node.path else f"network ({node.kind})"


def infer(graph: Graph, limits: Limits = Limits()) -> Graph:
    """Fill in shapes, params and MACs on every node; raises located errors."""
    sink = ErrorSink()
    inferrer = Inferrer(limits, sink)
    if any(is_symbolic(s) for s in graph.input_shape):
        graph.constraints = Constraints()
    token = collecting(graph.constraints)
    try:
        return _infer(graph, limits, sink, inferrer)
    finally:
        stop_collecting(token)


def _infer(graph: Graph, limits: Limits, sink: ErrorSink, inferrer: Inferrer) -> Graph:
    for name, shape in graph.input_shapes.items():
        elements = product(shape)
        if elements > limits.max_elements:
            what = "the input" if len(graph.input_shapes) == 1 else f"input '{name}'"
            raise ArchcError("too-large", f"{what} is too large", graph.input_loc or graph.root.loc,
                             expected=f"at most {limits.max_elements:,} elements per sample",
                             found=f"{format_shape(shape)} = {elements:,}")
    if isinstance(graph.root, Flow):
        graph.root.in_shapes = (graph.input_shape, *list(graph.input_shapes.values())[1:])
    try:
        inferrer.node(graph.root, graph.input_shape)
    except _Stop:
        pass
    sink.raise_if_any()
    graph.warnings += input_warnings(graph)
    total = graph.root.params
    if total > limits.max_params:
        raise ArchcError("too-many-params", "the network has too many parameters", graph.root.loc,
                         expected=f"at most {limits.max_params:,} (--max-params)", found=f"{total:,}")
    memory = memory_estimate(graph)
    if memory > limits.max_memory:
        elements, heaviest = _largest_workspace(graph)
        # when one layer's buffers are most of it, point at that layer
        at = heaviest if heaviest is not None and 2 * elements * 4 > memory else graph.root
        raise ArchcError("too-large", "building and running this network would need too much memory", at.loc,
                         path=_where(at) if at is not graph.root else "", notes=list(at.notes),
                         expected=f"at most {limits.max_memory / 2**30:,.2f} GiB (--max-memory)",
                         found=f"about {memory / 2**30:,.2f} GiB (float32 parameters, one sample's activations "
                               "and the largest layer's working buffers"
                               + (f", {elements * 4 / 2**30:,.1f} GiB in this layer's)" if at is heaviest else ")"),
                         hint="shrink the network or its input; if this machine really has the memory, "
                              "raise the limit with --max-memory GIB")
    check_compute(graph, limits.max_macs)  # after memory: a buffer too large to allocate is the first problem
    return graph


def check_compute(graph: Graph, max_macs: int) -> None:
    """Refuse a network whose forward pass takes more than `max_macs` multiply-accumulates (or,
    for a layer that multiplies little, as many operations: a pooling window's reads) per sample,
    before any of it is spent (build runs one pass, run and export one per sample)."""
    costs = [(node, _cost(node)) for node in graph.nodes() if isinstance(node, Layer) and not node.dead]
    if any(not isinstance(cost, int) for _, cost in costs):
        return  # a symbolic count is bounded once the sizes are given
    total = sum(cost for _, cost in costs)
    if total <= max_macs:
        return
    heaviest, most = max(costs, key=lambda pair: pair[1])
    at = heaviest if 2 * most > total else graph.root
    windows = any(cost > node.macs for node, cost in costs)
    raise ArchcError("too-much-compute", "one forward pass would take too much computation", at.loc,
                     path=_where(at) if at is not graph.root else "", notes=list(at.notes),
                     expected=f"at most {max_macs:,} multiply-accumulates per sample, or work that takes as long "
                              "(--max-macs)",
                     found=f"{total:,}" + (f", {most:,} of them in this layer" if at is not graph.root else "")
                           + (f" (a pooling or LRN window read counts as {WINDOW_READ_COST} MACs)" if windows else ""),
                     hint="shrink the network or its input; to spend that much time, raise the limit with --max-macs N")


def _cost(node: Layer):
    """A layer's multiply-accumulates, or its other work where that is larger (symbolic: not an int)."""
    if not isinstance(node.macs, int) or not all(isinstance(s, int) for s in (*node.in_shape, *node.out_shape)):
        return None
    return max(node.macs, KINDS[node.kind].work(node.kind, node.args, node.in_shape, node.out_shape))


def input_warnings(graph: Graph) -> list[ArchcWarning]:
    """An image input written channels-last ([32, 32, 3], as NumPy and Keras hold images)
    compiles, but as 32 channels of 32×3: almost certainly not what was meant."""
    shape = graph.input_shape
    if len(shape) in (3, 4) and _concrete(shape) and shape[-1] <= 4 and all(s >= 8 for s in shape[:-1]):
        wanted = [shape[-1], *shape[:-1]]
        return [ArchcWarning("channels-last", f"the input {format_shape(shape)} looks channels-last "
                             f"({'×'.join(['H', 'W'] if len(shape) == 3 else ['D', 'H', 'W'])}×C)",
                             graph.input_loc, expected="channels first, as PyTorch: (C, H, W)",
                             found=f"{shape[-1]} as the last dim, {shape[0]} channels",
                             hint=f"if the images have {shape[-1]} channels, write input: {wanted}")]
    return []


def _largest_workspace(graph: Graph):
    """(elements, layer) of the layer whose forward allocates the most beyond its output."""
    peak, heaviest = 0, None
    for node in graph.nodes():
        if isinstance(node, Layer):
            try:
                elements = KINDS[node.kind].workspace(node.kind, node.args, node.in_shape)
            except NeedsConcrete:  # symbolic channels times a size: no floor formula
                elements = Unknown()
            if not isinstance(elements, int):
                return elements, None  # depends on a symbolic size
            if elements > peak:
                peak, heaviest = elements, node
    return peak, heaviest


def peak_workspace(graph: Graph) -> int:
    """Elements of the largest temporary buffers any one layer's forward allocates (LRN's
    padded square, a padding mode's padded copy); freed between layers, so the peak counts."""
    return _largest_workspace(graph)[0]


def memory_estimate(graph: Graph, bytes_per_element: int = 4) -> int:
    """Bytes for the parameters, one sample's activations (every layer output kept, as in
    training) and the largest layer's working buffers, before anything is allocated."""
    activations = sum(product(n.out_shape) for n in graph.nodes() if isinstance(n, Layer))
    return (graph.root.params + activations + product(graph.input_shape) + peak_workspace(graph)) * bytes_per_element
