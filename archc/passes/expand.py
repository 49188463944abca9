"""The expand pass: a loaded Spec → a Graph of named nodes.

Blocks are instantiated, `$p`/`${…}` substituted, defaults merged, arguments validated
against each kind's schema, and every node named and given its module path. Values that
read the incoming shape (`${in.channels // 2}`) stay Deferred for the infer pass, so
expansion never needs shapes; structure (repeat counts, names) may not depend on `in`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from archc.aliases import kind_hint
from archc.errors import ArchcError, ErrorSink, Loc, did_you_mean
from archc.graph import MERGES, Dense, Graph, Layer, Node, OwnParam, Parallel, Residual, Seq
from archc.layers import KINDS
from archc.layers.init import InitError, check_against, parse_init, parse_one
from archc.passes.limits import Limits
from archc.passes.work import LAYER_COST, NODE_COST, LowerBound, value_cost
from archc.shapes import ShapeError
from archc.spec.expr import Anchor, Deferred, ExprError, substitute
from archc.spec.load import BlockInfo, Spec, validation_errors
from archc.spec.model import PARAM_TYPES, ParameterDef
from archc.spec.names import NAME_HINT, module_name_problem
from archc.spec.structure import STRUCTURAL, DenseArgs, ParallelArgs, RepeatArgs, ResidualArgs, SequentialArgs
from archc.spec.yaml_source import YMap, key_loc, value_loc
from archc.symbolic import SymSize

META_KEYS = ("name", "from", "merge", "when", "trainable")


def class_name(name: str) -> str:
    """vgg_block → VggBlock: the module class a block's instances get (always an identifier:
    '_1x' → Block1x; the source emitter still keeps it clear of the names its file uses)."""
    joined = "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)
    return joined if joined[:1].isalpha() else "Block" + joined


@dataclass(frozen=True)
class Scope:
    """What a list of layers sees: bound names, the blocks being expanded, depth."""

    names: dict
    block_stack: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    depth: int = 0

    def bind(self, **extra) -> "Scope":
        return Scope({**self.names, **extra}, self.block_stack, self.notes, self.depth)

    def deeper(self) -> "Scope":
        return Scope(self.names, self.block_stack, self.notes, self.depth + 1)

    def noting(self, note: str) -> "Scope":
        """The same scope; errors inside it say where they were reached from."""
        return Scope(self.names, self.block_stack, (*self.notes, note), self.depth)


class _Abort(Exception):
    """Stop expanding the current item; its error is already in the sink."""


class _LimitReached(Exception):
    """A limit on work, nodes, depth or counts: the whole expansion stops here, since going
    on would spend what the limit is there to save (and repeat the error per iteration)."""

    def __init__(self, error: ArchcError):
        super().__init__(error.message)
        self.error = error


class Expander:
    def __init__(self, spec: Spec, limits: Limits, sink: ErrorSink, input_shape: tuple | None = None):
        self.spec, self.limits, self.sink = spec, limits, sink
        self.node_count = 0  # nodes kept in the graph, containers included
        self.work = 0  # units of work spent (passes/work.py), kept or dropped
        self.lower_bound = LowerBound({name: info.raw for name, info in spec.blocks.items()}, spec.doc.defaults,
                                      limits.max_work + 1)
        self.given_input = input_shape
        given = input_shape if input_shape is not None else next(iter(spec.doc.input_shapes().values()))
        # named sizes (input: [3, H, W]) become symbolic sizes
        self.input_shape = tuple(SymSize(v) if isinstance(v, str) else v for v in given)

    # -- errors ---------------------------------------------------------------------------
    def error(self, code: str, message: str, loc: Loc | None, scope: Scope, **kw) -> ArchcError:
        err = ArchcError(code, message, loc, notes=list(scope.notes), **kw)
        self.sink.add(err)
        return err

    def fail(self, code: str, message: str, loc: Loc | None, scope: Scope, **kw):
        self.error(code, message, loc, scope, **kw)
        raise _Abort()

    def stop(self, code: str, message: str, loc: Loc | None, scope: Scope, **kw):
        """A limit is reached: end the whole expansion with this one error."""
        raise _LimitReached(ArchcError(code, message, loc, notes=list(scope.notes), **kw))

    # -- limits ---------------------------------------------------------------------------
    def spend(self, units: int, loc: Loc | None, scope: Scope) -> None:
        self.work += units
        if self.work > self.limits.max_work:
            self.stop("too-much-work", "expanding the spec takes too much work", loc, scope,
                      expected=f"at most {self.limits.max_work:,} units (a layer kept costs {LAYER_COST + NODE_COST}, "
                               f"one dropped by 'when:' {LAYER_COST}, a value 1)",
                      found="more", hint="repeats and blocks multiply: check nested repeat counts "
                                         "and the layers dropped by 'when:', which still cost their visit")

    def count_node(self, loc: Loc | None, scope: Scope) -> None:
        self.spend(NODE_COST, loc, scope)
        self.node_count += 1
        if self.node_count > self.limits.max_nodes:
            self.stop("too-many-nodes", "the spec expands to too many layers", loc, scope,
                      expected=f"at most {self.limits.max_nodes:,} nodes", found="more")

    def afford(self, count: int, raw_layers: Any, loc: Loc | None, scope: Scope, what: str) -> None:
        """Refuse `count` iterations of `raw_layers` before running any, when even the least
        they can cost does not fit in what is left."""
        names = {k: v for k, v in scope.names.items() if k != "i"}  # each iteration binds its own i
        least = self.lower_bound.of_list(raw_layers, names).times(count, self.limits.max_work + 1)
        if self.work + least.work > self.limits.max_work:
            self.stop("too-much-work", f"this {what} would take too much work to expand", loc, scope,
                      expected=f"at most {self.limits.max_work:,} units in all",
                      found=_at_least(least.work, self.limits.max_work, "units", count),
                      hint="repeats and blocks multiply: check nested repeat counts; "
                           "layers dropped by 'when:' still cost their visit")
        if self.node_count + least.nodes > self.limits.max_nodes:
            self.stop("too-many-nodes", f"this {what} expands to too many layers", loc, scope,
                      expected=f"at most {self.limits.max_nodes:,} nodes",
                      found=_at_least(least.nodes, self.limits.max_nodes, "nodes", count))

    # -- entry ----------------------------------------------------------------------------
    def run(self) -> Graph:
        doc, raw = self.spec.doc, self.spec.raw
        root = Seq(kind="network", name="", path="", loc=raw.loc, cls_name=class_name(doc.name))
        scope = Scope(self.network_params())
        root.items = self.layer_list(raw["layers"], value_loc(raw, "layers", raw.loc), scope, "layers")
        self.name_children(root.items, scope)
        if doc.inputs is not None:
            root.declared_inputs = tuple(doc.inputs)
        root.declared_outputs = doc.outputs
        root.own_params = self.own_params(doc.parameters, raw.get("parameters"), raw.loc, scope, root.items)
        assign_paths(root, "")
        key = "input" if doc.inputs is None else "inputs"
        input_loc = value_loc(raw, key, raw.loc) if self.given_input is None else None
        inputs = {name: tuple(SymSize(v) if isinstance(v, str) else v for v in shape)
                  for name, shape in doc.input_shapes().items()}
        inputs[next(iter(inputs))] = self.input_shape  # --input replaces the first input's shape
        return Graph(doc.name, doc.description, self.input_shape, root, self.spec.file, input_loc=input_loc,
                     inputs=inputs)

    def network_params(self) -> dict:
        """The network's own `params:` at their defaults (a spec reusing it may set them)."""
        raw = self.spec.raw.get("params")
        bound: dict[str, Any] = {}
        for name, default in self.spec.doc.params.items():
            loc = value_loc(raw, name, self.spec.raw.loc)
            if isinstance(default, str) and default in PARAM_TYPES:
                self.error("missing-parameter", f"the network's parameter '{name}' needs a default value", loc,
                           Scope({}), expected=f"'{name}: <a {default} value>'", found=f"'{name}: {default}'",
                           hint="a network is built on its own too, so every parameter needs a default")
                continue
            bound[name] = self.value(default, loc, Scope(bound))
        return bound

    # -- lists ----------------------------------------------------------------------------
    def layer_list(self, items: Any, loc: Loc | None, scope: Scope, what: str) -> list[Node]:
        if not isinstance(items, list) or not items:
            self.fail("bad-layers", f"'{what}' must be a non-empty list of layers", getattr(items, "loc", loc), scope,
                      expected="a YAML list ('- kind' or '- kind: {args}')", found=_describe(items),
                      hint=yaml_slip_hint(items) if isinstance(items, str) else "")
        nodes: list[Node] = []
        for index, item in enumerate(items):
            item_loc = value_loc(items, index, loc)
            try:
                nodes.extend(self.item(item, item_loc, scope))
            except _Abort:
                continue
        return nodes

    def item(self, item: Any, loc: Loc | None, scope: Scope) -> list[Node]:
        """One entry of a layer list; a repeat without a name splices several nodes."""
        self.spend(LAYER_COST, loc, scope)  # before `when:` can drop it: a dropped layer was still visited
        if scope.depth > self.limits.max_depth:
            self.stop("too-deep", "layers nest too deeply", loc, scope,
                      expected=f"at most {self.limits.max_depth} levels", found="more")
        if isinstance(item, str):
            kind, args, args_loc = item, YMap(), loc
            args.loc, args.key_locs, args.value_locs = loc, {}, {}
        elif isinstance(item, YMap) and len(item) == 1:
            kind = next(iter(item))
            args = item[kind]
            args_loc = value_loc(item, kind, loc)
            if args is None:
                args = YMap()
                args.loc, args.key_locs, args.value_locs = args_loc, {}, {}
            if not isinstance(args, YMap):
                self.fail("bad-layer", f"arguments of '{kind}' must be a mapping", args_loc, scope,
                          expected=f"'{kind}: {{name: value, …}}'", found=_describe(args),
                          hint=yaml_slip_hint(f"{kind}: {args}") if "{" in str(kind) or "{" in str(args)
                          else "write each argument by name, e.g. 'dropout: {p: 0.5}'")
            loc = key_loc(item, kind, loc)
        elif isinstance(item, YMap):
            self.fail("bad-layer", "a layer must be a mapping with exactly one key (its kind)", loc, scope,
                      expected="'- kind: {args}'",
                      found=f"keys {', '.join(map(str, item))}" if item else "an empty mapping {}",
                      hint="put 'name:', 'from:' and other arguments inside the kind's mapping; check indentation"
                      if item else "write the layer's kind, e.g. '- relu' or '- conv2d: {out_channels: 8, kernel_size: 3}'")
        else:
            self.fail("bad-layer", "a layer must be a kind name or a one-key mapping", loc, scope,
                      expected="'- relu' or '- conv2d: {out_channels: 6, kernel_size: 5}'", found=_describe(item))
        if not isinstance(kind, str):
            self.fail("unknown-kind", f"layer kind must be a name, found {kind!r}", loc, scope)
        if kind.startswith("$"):
            # a block may take a kind as a parameter (activation: silu); it still names a
            # built-in kind or a block in scope, never code
            chosen = self.value(kind, loc, scope)
            if not isinstance(chosen, str) or chosen.startswith("$"):
                self.fail("unknown-kind", f"'{kind}' must name a layer kind", loc, scope, found=repr(chosen))
            kind = chosen

        if "when" in args:
            # `when:` drops the layer where its condition is false (optional shortcuts …)
            condition = self.concrete(args["when"], value_loc(args, "when", loc), scope, "when")
            if not isinstance(condition, bool):
                self.fail("bad-when", "'when' must be true or false", value_loc(args, "when", loc), scope,
                          expected="a boolean, e.g. when: $use_1x1conv or when: ${i > 0}", found=repr(condition))
            if not condition:
                return []
        self.count_node(loc, scope)
        # residual and parallel own a `merge:` of their own (how they combine paths)
        own = {"merge"} if kind in ("residual", "parallel") else set()
        meta = self.meta(YMap((k, v) for k, v in args.items() if k not in own), loc, scope, args)
        rest = YMap((k, v) for k, v in args.items() if k not in META_KEYS or k in own)
        rest.loc, rest.key_locs, rest.value_locs = args.loc, args.key_locs, args.value_locs

        if kind in STRUCTURAL:
            nodes = self.structural(kind, rest, loc, scope.deeper(), meta)
        elif kind in self.spec.blocks:
            nodes = [self.block(self.spec.blocks[kind], rest, loc, scope.deeper(), meta)]
        elif kind in KINDS:
            nodes = [self.layer(kind, rest, loc, scope, meta)]
        else:
            choices = [*KINDS, *STRUCTURAL, *self.spec.blocks]
            # the rank at this layer is known only to infer; the spec's input rank is the best guess
            spatial = len(self.input_shape) - 1
            hint = yaml_slip_hint(kind) or kind_hint(kind, rest, choices, _argument_names,
                                                     spatial if 1 <= spatial <= 3 else 2)
            if not hint and not self.spec.blocks:
                hint = "blocks of the standard library need 'imports: [std]'"
            self.fail("unknown-kind", f"unknown layer kind '{kind}'", loc, scope,
                      expected="a built-in kind, a structural kind or a block in scope", found=f"'{kind}'", hint=hint)
        for node in nodes[:1]:
            node.sources, node.merge = meta["from"], meta["merge"]
        if kind in MERGES:  # the merge kinds: their `from:` values combine by the kind's own rule
            self.merge_kind(kind, nodes[0], meta, args, loc, scope)
        elif len(meta["from"]) > 1 and meta["merge"] is None and not self.takes_several(kind):
            self.fail("bad-merge", "several 'from' sources need a 'merge'", value_loc(args, "from", loc), scope,
                      expected="merge: concat | add | mul", found="no merge",
                      hint="or a concat, add or mul layer: concat: {from: [a, b]}")
        if not meta["trainable"]:
            for node in nodes:
                for inner in node.walk():
                    inner.trainable = False
        if meta["name"] is not None and len(nodes) == 1:
            nodes[0].name = meta["name"]
        return nodes

    def meta(self, args: dict, loc: Loc | None, scope: Scope, raw: YMap) -> dict:
        """name:, from: and merge:, accepted on every layer and block (positions from `raw`)."""
        out = {"name": None, "from": (), "merge": None, "trainable": True}
        if "trainable" in args:
            trainable = self.concrete(args["trainable"], value_loc(raw, "trainable", loc), scope, "trainable")
            if not isinstance(trainable, bool):
                self.fail("bad-value", "'trainable' must be true or false", value_loc(raw, "trainable", loc), scope,
                          expected="true or false", found=repr(trainable))
            out["trainable"] = trainable
        if "name" in args:
            name = self.value(args["name"], value_loc(raw, "name", loc), scope)
            self.check_name(name, value_loc(raw, "name", loc), scope, "layer name")
            out["name"] = name
        if "from" in args:
            out["from"] = tuple(self.references(args["from"], value_loc(raw, "from", loc), scope, "from"))
        if "merge" in args:
            merge = args["merge"]
            if merge not in MERGES:
                self.fail("bad-merge", f"unknown merge '{merge}'", value_loc(raw, "merge", loc), scope,
                          expected=" | ".join(MERGES), found=repr(merge), hint=did_you_mean(merge, MERGES))
            out["merge"] = merge
        return out

    def references(self, raw: Any, loc: Loc | None, scope: Scope, what: str) -> list:
        """`from:` (or `size_of:`): one reference or a list of them. A reference is a name, a
        dotted path (backbone.layer3) or a negative position (-1: the previous value);
        passes/wire.py resolves them."""
        refs = self.value(raw, loc, scope)
        refs = [refs] if isinstance(refs, (str, int)) and not isinstance(refs, bool) else refs
        if not isinstance(refs, list) or not refs or not all(_is_reference(r) for r in refs) \
                or (what == "size_of" and len(refs) != 1):
            self.fail("bad-from", f"'{what}' must name " + ("one earlier value" if what == "size_of" else
                                                             "one earlier value or a list of them"),
                      loc, scope, found=repr(refs),
                      expected="a layer's name, a dotted path such as backbone.layer3, or -1 for the previous value")
        return refs

    # -- values ---------------------------------------------------------------------------
    def value(self, raw: Any, loc: Loc | None, scope: Scope) -> Any:
        """Substitute `$p` and `${…}` throughout a value (lists and mappings too)."""
        self.spend(1 if isinstance(raw, (list, dict)) else value_cost(raw), loc, scope)
        if isinstance(raw, list):
            return [self.value(v, value_loc(raw, i, loc), scope) for i, v in enumerate(raw)]
        if isinstance(raw, dict):
            return {k: self.value(v, value_loc(raw, k, loc), scope) for k, v in raw.items()}
        try:
            return substitute(raw, scope.names)
        except ExprError as exc:
            self.fail(exc.code, exc.message, loc, scope, found=repr(raw), hint=exc.hint)

    def concrete(self, raw: Any, loc: Loc | None, scope: Scope, what: str) -> Any:
        value = self.value(raw, loc, scope)
        if _has_deferred(value):
            self.fail("needs-concrete", f"'{what}' cannot depend on the incoming shape", loc, scope,
                      found=repr(raw), hint="the structure of a network is fixed before shapes are known")
        return value

    def own_params(self, defs: dict[str, ParameterDef], raw: Any, loc: Loc | None, scope: Scope,
                   items: list[Node]) -> list[OwnParam]:
        """`parameters:` with their shapes evaluated in the block's scope, and their init checked."""
        out = []
        names = {item.name for item in items}
        for name, definition in defs.items():
            where = value_loc(raw, name, loc)
            if name in names:
                self.error("duplicate-name", f"a parameter and a layer here are both named '{name}'", where, scope,
                           expected="unique names among a module's parameters and layers", found=f"'{name}'")
                continue
            shape = self.concrete(definition.shape, value_loc(raw.get(name) if isinstance(raw, YMap) else None,
                                                              "shape", where), scope, "shape")
            if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 2**31 - 1 for v in shape) \
                    or (definition.batched and shape[0] != 1):
                self.error("bad-value", f"the shape of parameter '{name}' must be positive whole numbers"
                           + (", the first 1 (a batch of one)" if definition.batched else ""), where, scope,
                           expected="e.g. shape: [96, 1, 1]" + (" or [1, 1, 768]" if definition.batched else ""),
                           found=repr(shape))
                continue
            init = None
            try:
                init = parse_one(self.concrete(definition.init, where, scope, "init"))
                check_against({name: init}, {name: tuple(shape)}, "parameter")
            except InitError as exc:
                self.error("bad-init", exc.message, where, scope, expected=exc.expected, found=exc.found)
                continue
            except ShapeError as exc:
                self.error(exc.code, exc.message, where, scope, expected=exc.expected, found=exc.found)
                continue
            out.append(OwnParam(name, tuple(shape), init, definition.batched))
        return out

    def reorder(self, node: Seq, order: list[str], loc: Loc | None, scope: Scope) -> None:
        """Register the block's modules listed in `order` first, in that order, then the rest
        as written (the state_dict order); they still run as written."""
        names = [item.name for item in node.items]
        unknown = [name for name in order if name not in names]
        if unknown or len(set(order)) != len(order):
            self.fail("bad-value", "'order' must name layers of the block, each once", loc, scope,
                      expected="some of " + ", ".join(names), found=", ".join(map(str, order)),
                      hint="name the block's layers (name: …) so that order can list them")
        by_name = {item.name: item for item in node.items}
        node.run_order = node.items
        node.items = [by_name[name] for name in order] + [item for item in node.items if item.name not in order]

    def takes_several(self, kind: str) -> bool:
        """A block with several declared inputs takes its `from:` values as separate inputs."""
        info = self.spec.blocks.get(kind)
        return info is not None and info.definition.inputs is not None and len(info.definition.inputs) > 1

    def merge_kind(self, kind: str, node: Layer, meta: dict, args: YMap, loc: Loc | None, scope: Scope) -> None:
        """concat, add and mul read their `from:` values and combine them by their own rule."""
        if not meta["from"]:
            self.fail("bad-from", f"'{kind}' needs 'from:', the values it combines", loc, scope,
                      expected=f"{kind}: {{from: [-1, skip]}}", found="no 'from'")
        if meta["merge"] is not None and meta["merge"] != kind:
            self.fail("bad-merge", f"'{kind}' combines by {kind}; it takes no other 'merge'",
                      value_loc(args, "merge", loc), scope, expected=f"no merge, or merge: {kind}", found=meta["merge"])
        node.merge = kind
        if kind == "concat" and node.args is not None:
            node.merge_dim = node.args.dim

    # -- built-in layers ------------------------------------------------------------------
    def layer(self, kind: str, args: YMap, loc: Loc | None, scope: Scope, meta: dict) -> Layer:
        defaults = self.spec.doc.defaults.get(kind, {})
        if defaults:  # copied into, and validated with, each layer
            self.spend(self.lower_bound.defaults_cost(kind), loc, scope)
        size_of = None
        if "size_of" in args and kind == "interpolate":
            # the size comes from another value at run time; infer fills `size` in from its shape
            size_of = self.references(args["size_of"], value_loc(args, "size_of", loc), scope, "size_of")[0]
            args = _without(args, "size_of")
        merged = {**defaults, **{k: self.value(v, value_loc(args, k, loc), scope) for k, v in args.items()}}
        init = None
        if "init" in merged:
            init_loc = value_loc(args, "init", loc)
            raw_init = merged.pop("init")
            if _has_deferred(raw_init):
                self.fail("needs-concrete", "'init' cannot depend on the incoming shape", init_loc, scope)
            try:
                init = parse_init(raw_init)
            except InitError as exc:
                self.fail("bad-init", exc.message, init_loc, scope, expected=exc.expected, found=exc.found)
        node = Layer(kind=kind, name="", path="", loc=loc, notes=scope.notes, raw_args=merged, args_loc=args, init=init,
                     size_of=size_of)
        if size_of is not None:
            if merged.get("size") is not None or merged.get("scale_factor") is not None:
                self.fail("bad-value", "interpolate takes its size from 'size_of', so it needs no size or scale_factor",
                          value_loc(args, "size" if "size" in merged else "scale_factor", loc), scope,
                          expected="size_of: alone", found="size_of with " + ("size" if "size" in merged else "scale_factor"))
        elif not _has_deferred(merged):
            node.args = validate_args(kind, merged, args, loc, self.sink, scope.notes)
        return node

    # -- blocks ---------------------------------------------------------------------------
    def block(self, info: BlockInfo, args: YMap, loc: Loc | None, scope: Scope, meta: dict) -> Node:
        if info.name in scope.block_stack:
            cycle = " → ".join([*scope.block_stack[scope.block_stack.index(info.name):], info.name])
            self.fail("block-cycle", f"blocks use each other in a cycle: {cycle}", loc, scope,
                      hint="a block cannot contain itself, directly or through other blocks")
        params = info.definition.params
        bound: dict[str, Any] = {}
        anchor = Anchor()  # `in` in these parameters means this block instance's input
        for key in args:
            if key not in params:
                self.error("unknown-parameter", f"block '{info.name}' has no parameter '{key}'", key_loc(args, key, loc),
                           scope, expected="one of " + (", ".join(params) or "(no parameters)"), found=f"'{key}'",
                           hint=did_you_mean(key, params))
        for pname, spec in params.items():
            required = isinstance(spec, str) and spec in PARAM_TYPES
            if pname in args:
                value = self.value(args[pname], value_loc(args, pname, loc), scope)
            elif required:
                self.error("missing-parameter", f"block '{info.name}' needs parameter '{pname}'", loc, scope,
                           expected=f"'{pname}: <{spec}>'", found="nothing")
                continue
            else:
                # a default may itself be an expression over earlier parameters or `in`
                value = self.value(spec, key_loc(info.definition.params, pname, info.loc), Scope(bound, notes=scope.notes))
            value = _anchor(value, anchor)
            is_expression = isinstance(spec, str) and "${" in spec
            # a null default says nothing about the type: any value may replace it
            wanted = spec if required else None if is_expression or spec is None else _type_name(spec)
            if wanted and not isinstance(value, Deferred) and not _is_type(value, wanted):
                self.error("bad-parameter", f"parameter '{pname}' of block '{info.name}' has the wrong type",
                           value_loc(args, pname, loc), scope, expected=wanted, found=repr(value))
                continue
            bound[pname] = value
        if len(bound) < len(params):
            raise _Abort()
        use = f"in block '{info.name}' used at {loc}" if loc else f"in block '{info.name}'"
        inner = Scope(bound, (*scope.block_stack, info.name), (*scope.notes, use), scope.depth)
        layers = info.raw.get("layers") if isinstance(info.raw, YMap) else None
        items = self.layer_list(layers, value_loc(info.raw, "layers", info.loc), inner, f"blocks.{info.name}.layers")
        self.name_children(items, inner)
        node = Seq(kind=info.name, name="", path="", loc=loc, notes=scope.notes, items=items, cls_name=class_name(info.name))
        # A block that is one container *is* that container (so torchvision's BasicBlock is
        # a residual module with conv1, bn1 … directly, not wrapped in a Sequential).
        # An explicitly named inner container keeps its own level (names are an API), and so
        # does another block's instance: only a container written inline here is absorbed.
        definition = info.definition
        node.own_params = self.own_params(definition.parameters, info.raw.get("parameters") if isinstance(info.raw, YMap)
                                          else None, info.loc, inner, items)
        if definition.order is not None:
            self.reorder(node, definition.order, value_loc(info.raw, "order", info.loc), inner)
        declared = (definition.inputs is not None or definition.outputs is not None or definition.order is not None
                    or bool(node.own_params))
        if declared:
            node.declared_inputs = tuple(definition.inputs) if definition.inputs is not None else None
            node.declared_outputs = definition.outputs
        if (not declared and len(items) == 1 and isinstance(items[0], (Seq, Residual, Parallel, Dense))
                and not items[0].sources and items[0].name.isdigit() and items[0].cls_name is None):
            only = items[0]
            only.cls_name, only.kind, only.loc, only.name = class_name(info.name), info.name, loc, ""
            node = only
        anchor.node = node
        return node

    # -- structure ------------------------------------------------------------------------
    def structural(self, kind: str, args: YMap, loc: Loc | None, scope: Scope, meta: dict) -> list[Node]:
        schema = STRUCTURAL[kind]
        values = YMap((k, v if k in ("layers", "body", "shortcut", "after", "branches") else self.concrete(v, value_loc(args, k, loc), scope, k))
                      for k, v in args.items())
        values.loc, values.key_locs, values.value_locs = args.loc, args.key_locs, args.value_locs
        try:
            a = schema.model_validate(values)
        except ValidationError as exc:
            for err in validation_errors(exc, args, loc, schema, where=kind):
                err.notes = list(scope.notes)
                self.sink.add(err)
            raise _Abort() from None
        return getattr(self, "make_" + kind)(a, args, loc, scope, meta)

    def make_sequential(self, a: SequentialArgs, args, loc, scope, meta) -> list[Node]:
        items = self.layer_list(a.layers, value_loc(args, "layers", loc), scope, "sequential.layers")
        self.name_children(items, scope)
        return [Seq(kind="sequential", name="", path="", loc=loc, notes=scope.notes, items=items)]

    def iterations(self, count: int, raw_layers, args, loc, scope, what: str, prefix: str | None) -> list[list[Node]]:
        if count > self.limits.max_repeat:
            self.stop("too-many-repeats", f"{what} count is too large", value_loc(args, "times" if what == "repeat" else "units", loc),
                      scope, expected=f"at most {self.limits.max_repeat:,}", found=f"{count:,}")
        self.afford(count, raw_layers, loc, scope, what)
        if prefix is not None:
            # the names are prefix1 … prefixN; each must be a name a module can have
            for i in range(count):
                self.check_name(f"{prefix}{i + 1}", value_loc(args, "prefix", loc), scope, "prefix", written=prefix)
        out = []
        for i in range(count):
            # the iteration's note lets one error reached in many iterations be reported once
            inner = scope.bind(i=i).noting(f"in iteration {i} of the {what} at {loc}")
            items = self.layer_list(raw_layers, value_loc(args, "layers", loc), inner, f"{what}.layers")
            if prefix is not None:
                if len(items) != 1:
                    self.count_node(loc, scope)
                    unit = Seq(kind=what, name="", path="", loc=loc, notes=scope.notes, items=items)
                    self.name_children(items, scope)
                    items = [unit]
                items[0].name = f"{prefix}{i + 1}"
            out.append(items)
        return out

    def make_repeat(self, a: RepeatArgs, args, loc, scope, meta) -> list[Node]:
        items = [n for it in self.iterations(a.times, a.layers, args, loc, scope, "repeat", a.prefix) for n in it]
        if meta["name"] is None and not meta["from"]:
            return items  # an unnamed repeat splices its layers into the enclosing list
        if not items:
            self.fail("empty-repeat", "a named repeat needs times ≥ 1", loc, scope)
        self.name_children(items, scope)
        return [Seq(kind="repeat", name="", path="", loc=loc, notes=scope.notes, items=items)]

    def make_dense(self, a: DenseArgs, args, loc, scope, meta) -> list[Node]:
        units = []
        for items in self.iterations(a.units, a.layers, args, loc, scope, "dense", a.prefix):
            if len(items) == 1:
                unit = items[0]
                if a.prefix is None:
                    unit.name = ""
            else:
                self.count_node(loc, scope)
                self.name_children(items, scope)
                unit = Seq(kind="dense_unit", name="", path="", loc=loc, notes=scope.notes, items=items)
            units.append(unit)
        self.name_children(units, scope)
        return [Dense(kind="dense", name="", path="", loc=loc, notes=scope.notes, units=units)]

    def make_residual(self, a: ResidualArgs, args, loc, scope, meta) -> list[Node]:
        self.check_merge(a.merge, ("add", "mul", "concat"), args, loc, scope)
        self.check_name(a.shortcut_name, value_loc(args, "shortcut_name", loc), scope, "shortcut_name")
        body = self.layer_list(a.body, value_loc(args, "body", loc), scope, "residual.body")
        shortcut = None
        if a.shortcut is not None:
            items = self.layer_list(a.shortcut, value_loc(args, "shortcut", loc), scope, "residual.shortcut")
            # every shortcut layer may be dropped by `when:`; nothing left means identity
            shortcut = self.group(items, a.shortcut_name, loc, scope, "shortcut") if items else None
        after = self.layer_list(a.after, value_loc(args, "after", loc), scope, "residual.after") if a.after is not None else []
        for node in [*body, *after]:
            if node.sources:
                self.fail("bad-from", "'from' cannot be used inside a residual", node.loc, scope,
                          hint="wrap the layers in a 'sequential' inside the body")
        keys = list(args)
        shortcut_first = "shortcut" in keys and keys.index("shortcut") < keys.index("body")
        node = Residual(kind="residual", name="", path="", loc=loc, notes=scope.notes, body=body, shortcut=shortcut,
                        after=after, how=a.merge, shortcut_first=shortcut_first and shortcut is not None)
        self.name_children(node.children(), scope)
        return [node]

    def make_parallel(self, a: ParallelArgs, args, loc, scope, meta) -> list[Node]:
        self.check_merge(a.merge, MERGES, args, loc, scope)
        if not isinstance(a.branches, dict) or not a.branches:
            self.fail("bad-branches", "'branches' must map branch names to lists of layers",
                      value_loc(args, "branches", loc), scope, found=_describe(a.branches),
                      expected="branches: {branch1: [...], branch2: [...]}")
        branches = []
        for bname, raw in a.branches.items():
            bloc = value_loc(a.branches, bname, loc)
            self.check_name(bname, key_loc(a.branches, bname, loc), scope, "branch name")
            items = self.layer_list(raw, bloc, scope, f"branches.{bname}")
            branches.append(self.group(items, bname, bloc, scope, "branch"))
        node = Parallel(kind="parallel", name="", path="", loc=loc, notes=scope.notes, branches=branches, how=a.merge)
        return [node]

    def group(self, items: list[Node], name: str, loc, scope, kind: str) -> Node:
        """A branch or shortcut: its one node directly, or a Sequential of several."""
        if len(items) == 1 and not items[0].sources:
            items[0].name = name
            return items[0]
        self.count_node(loc, scope)
        self.name_children(items, scope)
        return Seq(kind=kind, name=name, path="", loc=loc, notes=scope.notes, items=items)

    def check_merge(self, merge: str, allowed, args, loc, scope) -> None:
        if merge not in allowed:
            self.fail("bad-merge", f"unknown merge '{merge}'", value_loc(args, "merge", loc), scope,
                      expected=" | ".join(allowed), found=repr(merge), hint=did_you_mean(merge, allowed))

    # -- names ----------------------------------------------------------------------------
    def check_name(self, name: Any, loc: Loc | None, scope: Scope, what: str, written: Any = None) -> None:
        """A name a module will be registered under: refused here, located, if torch or the
        generated source could not use it (`written` is what the spec wrote, for a prefix)."""
        problem = module_name_problem(name)
        if problem:
            shown = name if written is None else written
            self.fail("bad-name", f"invalid {what} {shown!r}", loc, scope, expected=problem,
                      found=repr(name) if written is None else f"{shown!r} (giving {name!r})", hint=NAME_HINT)

    def name_children(self, nodes: list[Node], scope: Scope) -> None:
        """Unnamed children get their position (as nn.Sequential numbers them); names are unique."""
        seen: dict[str, Node] = {}
        for index, node in enumerate(nodes):
            if not node.name:
                node.name = str(index)
            if node.name in seen:
                self.error("duplicate-name", f"two layers here are named '{node.name}'", node.loc, scope,
                           expected="unique names among siblings", found=f"also at {seen[node.name].loc}")
            seen[node.name] = node


def _at_least(amount: int, limit: int, what: str, count: int) -> str:
    return (f"more than {limit:,} {what}" if amount > limit else f"at least {amount:,} more {what}") + \
        f" for {count:,} iterations"


def assign_paths(node: Node, path: str) -> None:
    node.path = path
    for child in node.children():
        assign_paths(child, f"{path}.{child.name}" if path else child.name)


def validate_args(kind: str, values: dict, raw: Any, loc: Loc | None, sink: ErrorSink, notes=()) -> Any:
    """Check a layer's arguments against its kind's schema; errors go to the sink."""
    schema = KINDS[kind].Args
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        for err in validation_errors(exc, raw, loc, schema, where=kind):
            err.notes = list(notes)
            sink.add(err)
        return None


def _argument_names(kind: str) -> list[str]:
    schema = KINDS[kind].Args if kind in KINDS else STRUCTURAL.get(kind)
    return list(schema.model_fields) if schema else []


def _anchor(value: Any, anchor: Anchor) -> Any:
    if isinstance(value, Deferred):
        return value.anchored(anchor)
    if isinstance(value, list):
        return [_anchor(v, anchor) for v in value]
    return value


def _is_reference(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return (isinstance(value, int) and value < 0) or (isinstance(value, str) and 0 < len(value) <= 200)


def _without(args: YMap, key: str) -> YMap:
    rest = YMap((k, v) for k, v in args.items() if k != key)
    rest.loc, rest.key_locs, rest.value_locs = args.loc, args.key_locs, args.value_locs
    return rest


def _has_deferred(value: Any) -> bool:
    if isinstance(value, Deferred):
        return True
    if isinstance(value, (list, tuple)):
        return any(_has_deferred(v) for v in value)
    if isinstance(value, dict):
        return any(_has_deferred(v) for v in value.values())
    return False


def _type_name(value: Any) -> str:
    """A value's type in the words of `params:` (isinstance: YAML's lists and mappings are YList and YMap)."""
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (list, "list"), (dict, "mapping")):
        if isinstance(value, kind):
            return name
    return "null"


def _is_type(value: Any, wanted: str) -> bool:
    if wanted == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if wanted == "int":
        # sizes (kernel_size, padding …) are an int or one int per dim, as torch takes them
        ints = value if isinstance(value, list) and value else [value]
        return all(isinstance(v, int) and not isinstance(v, bool) for v in ints)
    return _type_name(value) == wanted or (wanted == "list" and isinstance(value, list))


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'}"
    return repr(value)


def expand(spec: Spec, limits: Limits = Limits(), input_shape: tuple | None = None) -> Graph:
    """Expand a loaded spec into a named graph; raises every independent error at once.
    `input_shape` replaces the spec's input (binding named sizes, or trying another size)."""
    sink = ErrorSink()
    graph = None
    try:
        graph = Expander(spec, limits, sink, input_shape).run()
    except _Abort:
        pass
    except _LimitReached as reached:
        sink.add(reached.error)
    except RecursionError:  # only with a --max-depth far above the default
        sink.add(ArchcError("too-deep", "layers nest too deeply for Python's stack", spec.raw.loc,
                            expected="a smaller --max-depth", found=f"--max-depth {limits.max_depth}"))
    sink.raise_if_any()
    return graph


def yaml_slip_hint(text: str) -> str:
    """What YAML slip turned list items or a layer's arguments into one piece of text, if one did:
    YAML reads a line indented deeper than the item above as that item's continuation, '-relu'
    as text, and 'conv2d:{…}' or 'conv2d {…}' (no ': ') as a kind name."""
    text = str(text).strip()
    if text.startswith("-"):
        first = text[1:].split(" - ")[0].strip()
        return f"a list item needs a space after '-': write '- {first}'"
    if " - " in text or text.endswith(" -"):
        return ("these lines were read as one text: a '- ' item indented deeper than the item above it "
                "continues that item; give every item of a list the same indentation")
    head = text.split(":", 1)[0].split("{", 1)[0].split()[0] if text else text
    if text.startswith(head + ":{"):
        return f"a key needs a space after ':': write '{head}: {{…}}'"
    if "{" in text:
        return f"a ':' is missing after '{head}': write '{head}: {{…}}'"
    return ""
