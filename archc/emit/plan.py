"""What module each graph node becomes, described once for both torch emitters.

A ModulePlan is a tree of constructor calls: the module emitter instantiates it, the
source emitter prints it. Sharing it is what keeps the two in exact agreement.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from archc.graph import Dense, Flow, Graph, Layer, Node, Parallel, Residual, Seq
from archc.layers import KINDS
from archc.layers.base import TorchCall


@dataclass
class ModulePlan:
    """One module: a torch.nn layer call, or an archc container with child plans."""

    node: Node
    call: TorchCall | None = None  # for layers
    container: str = ""  # "Sequential" | "Chain" | "Residual" | "Parallel" | "Dense"
    cls_name: str | None = None  # the block's class, e.g. "BasicBlock"
    children: dict[str, "ModulePlan"] = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # container arguments other than children
    frozen: bool = False  # a layer whose parameters do not train (requires_grad False)
    init: dict = field(default_factory=dict)  # parameter -> (how, value), applied right after construction


def plan(node: Node) -> ModulePlan:
    if isinstance(node, Layer):
        call = KINDS[node.kind].torch_call(node.kind, node.args, node.in_shape)
        if node.size_of is not None:  # resized to another value's size, known only at run time
            call = TorchCall("ResizeLike", kwargs={"mode": node.args.mode, "align_corners": node.args.align_corners},
                             runtime=True)
        return ModulePlan(node, call=call, frozen=not node.trainable, init=node.init or {})
    kids = {child.name: plan(child) for child in node.children()}
    cls = getattr(node, "cls_name", None)
    if isinstance(node, Flow):
        return ModulePlan(node, container="Flow", cls_name=cls, children=kids, options={
            "program": tuple((s.target, s.reads, s.merge or "", s.dim, s.writes, s.unpack, s.keys, s.expand)
                             for s in node.program if s.live),
            "inputs": node.inputs, "outputs": (node.output_form, node.outputs),
            "parameters": tuple((p.name, p.shape, p.batched, p.init) for p in node.own_params)})
    if isinstance(node, Seq) and node.opened:  # its children are called by the enclosing Flow
        return ModulePlan(node, container="Sequential", cls_name=cls, children=kids)
    if isinstance(node, Seq):
        wiring = {c.name: (c.sources, c.merge or "add") for c in node.items if c.sources}
        if wiring:
            return ModulePlan(node, container="Chain", cls_name=cls, children=kids, options={"wiring": wiring})
        return ModulePlan(node, container="Sequential", cls_name=cls, children=kids)
    if isinstance(node, Residual):
        names = lambda nodes: [n.name for n in nodes]  # noqa: E731
        return ModulePlan(node, container="Residual", cls_name=cls, children=kids, options={
            "body": names(node.body), "after": names(node.after),
            "shortcut": node.shortcut.name if node.shortcut else None, "how": node.how,
            "shortcut_first": node.shortcut_first,
        })
    if isinstance(node, Parallel):
        return ModulePlan(node, container="Parallel", cls_name=cls, children=kids, options={"how": node.how})
    if isinstance(node, Dense):
        return ModulePlan(node, container="Dense", cls_name=cls, children=kids)
    raise TypeError(f"no module plan for {type(node).__name__}")


def require_concrete_input(graph: Graph) -> None:
    """A module (built or written as source) needs concrete sizes: refuse a symbolic input."""
    if graph.symbolic:
        from archc.errors import ArchcError
        from archc.shapes import format_shape

        names = ", ".join(str(s) for s in graph.input_shape if not isinstance(s, int))
        raise ArchcError("needs-concrete-size", f"the input has symbolic sizes ({names}); a module needs concrete ones",
                         graph.input_loc or graph.root.loc, expected="a concrete input", found=f"input {format_shape(graph.input_shape)}",
                         hint="give --input, e.g. --input " + "x".join(str(s) if isinstance(s, int) else "224" for s in graph.input_shape))


def network_plan(graph: Graph) -> ModulePlan:
    require_concrete_input(graph)
    return plan(graph.root)
