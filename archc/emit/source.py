"""The Python-source emitter: a standalone PyTorch file that builds the same module.

It prints the same ModulePlan the module emitter instantiates, and inlines the archc
runtime definitions it uses (and only those), so the file needs only torch and gives identical state_dict keys
and outputs. Everything a spec says reaches the file as a literal written by `py_literal`
(descriptions, names, file names, numbers) or as a class name kept clear of every name
the file itself uses; nothing is pasted into a string or a comment.
"""
from __future__ import annotations

import ast
import builtins
import functools
import keyword
from dataclasses import dataclass
from pathlib import Path

from archc.emit.forward_source import forward_source
from archc.emit.literal import comment, identifier, py_literal
from archc.emit.plan import ModulePlan, network_plan
from archc.graph import MERGES, Graph
from archc.network_io import output_form, output_shapes
from archc.shapes import format_shape

_RUNTIME = Path(__file__).resolve().parent.parent / "runtime.py"
_BASES = {"Sequential": "nn.Sequential", "Chain": "Chain", "Residual": "Residual",
          "Parallel": "Parallel", "Dense": "Dense", "Flow": "Flow"}
_IMPORTS = (
    "from __future__ import annotations\n\n"
    "from collections import OrderedDict\n\n"
    "import torch\n"
    "from torch import nn\n"
)
# {docstring}, {body} and {batch} are filled in; everything else is fixed text
_ENTRY = (
    "\n\ndef build() -> nn.Module:\n"
    "    {docstring}\n"
    "    return {body}\n\n\n"
    'if __name__ == "__main__":\n'
    "    model = build().eval()\n"
    "    out = model({zeros})\n"
    "{show}"
)
# how the entry shows the result, by the network's output form (fixed text too)
_SHOW = {
    "one": "    print(out.shape)\n",
    "dict": "    for key, value in out.items():\n        print(key, tuple(value.shape))\n",
    "tuple": "    for key, value in enumerate(out):\n        print(key, tuple(value.shape))\n",
}


@dataclass(frozen=True)
class _Definition:
    """One top-level statement of runtime.py: its text and the runtime names it uses."""

    text: str
    binds: frozenset[str]
    uses: frozenset[str]


@functools.cache
def _runtime_definitions() -> tuple[_Definition, ...]:
    """runtime.py's definitions in file order, each with the other definitions it refers to
    (found by parsing, so a helper added to runtime.py needs no list kept by hand)."""
    source = _RUNTIME.read_text()
    lines = source.splitlines()
    statements = [stmt for stmt in ast.parse(source).body
                  if not isinstance(stmt, (ast.Import, ast.ImportFrom))
                  and not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))]  # the docstring
    bound = [_top_level_names(ast.unparse(stmt)) for stmt in statements]
    every = set().union(*bound)
    definitions = []
    for stmt, binds in zip(statements, bound):
        first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
        used = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)} & every
        definitions.append(_Definition("\n".join(lines[first - 1:stmt.end_lineno]), frozenset(binds),
                                       frozenset(used - binds)))
    return tuple(definitions)


def runtime_needed(names: set[str]) -> str:
    """The runtime definitions that `names` need, with everything they use, in runtime.py's order."""
    definitions = _runtime_definitions()
    needed, todo = set(), set(names)
    while todo:
        name = todo.pop()
        needed.add(name)
        for d in definitions:
            if name in d.binds:
                todo |= d.uses - needed
    return "\n\n\n".join(d.text for d in definitions if d.binds & needed)


def _top_level_names(source: str) -> set[str]:
    """The names a module's own top-level statements bind (imports, defs, assignments)."""
    names: set[str] = set()
    for stmt in ast.parse(source).body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in stmt.names}
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        else:
            names |= {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names


# Names a block or network class must not take: what the generated file binds itself
# (imports, every runtime helper whether used or not, build, the __main__ block's variable), Python's builtins and keywords.
RESERVED_CLASS_NAMES = frozenset(
    _top_level_names(_IMPORTS + "".join(_ENTRY.format(docstring="None", body="None", zeros="1", show=show)
                                        for show in _SHOW.values()))
    | {name for d in _runtime_definitions() for name in d.binds}
    | set(_BASES) | set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist)
)


def _docstring(text: str, indent: str) -> str:
    """A string literal for `text`, one source line per line of text (adjacent literals in
    parentheses are one string, so this is a valid docstring). Lone surrogates are written
    as their escapes: a class cannot be created with one in its docstring (type() encodes it)."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    lines = text.splitlines(keepends=True)
    if len(lines) <= 1:
        return py_literal(text)
    return "(" + f"\n{indent} ".join(py_literal(line) for line in lines) + ")"


class _Printer:
    def __init__(self):
        self.classes: dict[tuple[str, str], str] = {}  # (block class, base) -> unique class name
        self.runtime: set[str] = set()  # the runtime definitions the file uses
        self.flow_classes: dict[tuple, tuple[str, str]] = {}  # (block, its code) -> (class name, class body)

    def flow_class(self, p: ModulePlan) -> str:
        """A class of its own for a Flow, with the forward() its program reads as (emit/forward_source.py);
        instances of one block whose programs differ (a `when:`) get one class each."""
        o = p.options
        merges = {target: p_child_is_merge(p, target) for target, *_ in o["program"]}
        params = "".join(f"        self.register_parameter({py_literal(name)}, nn.Parameter(torch.zeros({py_literal(shape)})))\n"
                         for name, shape, _batched, _init in o["parameters"])
        inits = {name: init for name, _shape, _batched, init in o["parameters"] if init is not None}
        if inits:
            self.runtime.add("initialise")
            params += f"        initialise(self, **{py_literal(inits)})\n"  # keys as literals: any parameter name
        body = ("    def __init__(self, layers: OrderedDict):\n        super().__init__()\n" + params +
                "        for name, layer in layers.items():\n            self.add_module(name, layer)\n\n"
                + forward_source(o, merges))
        key = (p.cls_name or "Flow", body)
        if key not in self.flow_classes:
            base = p.cls_name if p.cls_name and p.cls_name.isidentifier() and p.cls_name.isascii() else "Block"
            taken = RESERVED_CLASS_NAMES | set(self.classes.values()) | {n for n, _ in self.flow_classes.values()}
            name, n = base, 2
            while name in taken:
                name, n = f"{base}{n}", n + 1
            self.flow_classes[key] = (name, body)
        return self.flow_classes[key][0]

    def class_for(self, p: ModulePlan) -> str:
        base = _BASES[p.container]
        if p.container != "Sequential":
            self.runtime.add(base)
        if p.cls_name is None:
            return base
        key = (p.cls_name, base)
        if key not in self.classes:
            name = p.cls_name if p.cls_name.isidentifier() and p.cls_name.isascii() else "Block"
            taken = RESERVED_CLASS_NAMES | set(self.classes.values())
            while name in taken:
                name += "_"
            self.classes[key] = name
        return self.classes[key]

    def expr(self, p: ModulePlan, indent: int) -> str:
        pad = "    " * indent
        if p.call is not None:
            args = [py_literal(a) for a in p.call.args]
            args += [f"{identifier(k)}={py_literal(v)}" for k, v in p.call.kwargs.items()]
            frozen = ".requires_grad_(False)" if p.frozen else ""
            if p.call.runtime:
                self.runtime.add(p.call.cls)
            call = f"{'' if p.call.runtime else 'nn.'}{identifier(p.call.cls)}({', '.join(args)})"
            if p.init:
                self.runtime.add("initialise")
                inits = ", ".join(f"{identifier(name)}={py_literal(spec)}" for name, spec in p.init.items())
                call = f"initialise({call}, {inits})"
            return call + frozen
        cls = self.flow_class(p) if p.container == "Flow" else self.class_for(p)
        items = "".join(f"{pad}    ({py_literal(name)}, {self.expr(child, indent + 1)}),"
                        f"  # {comment(format_shape(child.node.out_shape))}\n"
                        for name, child in p.children.items())
        kids = f"OrderedDict([\n{items}{pad}])"
        o = p.options
        if p.container in ("Sequential", "Dense", "Flow"):
            return f"{cls}({kids})"
        if p.container == "Chain":
            return f"{cls}({kids}, wiring={py_literal(o['wiring'])})"
        if p.container == "Parallel":
            return f"{cls}({kids}, how={py_literal(o['how'])})"
        # Residual: split the children back into body, shortcut and after
        def subset(names):
            inner = "".join(f"{pad}    ({py_literal(n)}, {self.expr(p.children[n], indent + 1)}),\n" for n in names)
            return f"OrderedDict([\n{inner}{pad}])"
        shortcut = self.expr(p.children[o["shortcut"]], indent) if o["shortcut"] else "None"
        return (f"{cls}(\n{pad}    body={subset(o['body'])},\n{pad}    shortcut={shortcut},\n"
                f"{pad}    shortcut_name={py_literal(o['shortcut'] or 'shortcut')},\n{pad}    after={subset(o['after'])},\n"
                f"{pad}    how={py_literal(o['how'])},\n{pad}    shortcut_first={py_literal(o['shortcut_first'])},\n{pad})")


def p_child_is_merge(p: ModulePlan, target: str) -> bool:
    """Is the module at `target` (a path below p) the identity a merge kind leaves in the tree?"""
    plan = p
    for part in target.split("."):
        plan = plan.children[part]
    return plan.node.kind in MERGES and getattr(plan.call, "cls", "") == "Identity"


def python_source(graph: Graph, written: Graph | None = None) -> str:
    """The network as a standalone Python file defining build() -> nn.Module. `written`, when
    given, is the same spec checked with its symbolic sizes, and `graph` is it at example sizes:
    the file says which sizes it takes, and that the shapes in its comments are the example's."""
    root = network_plan(graph)
    printer = _Printer()
    body = printer.expr(root, 1)
    classes = "".join(
        f"\n\nclass {name}({base}):\n    "
        + _docstring(graph.description or graph.name if cls == root.cls_name else f"archc block '{cls}'.", "    ")
        + "\n"
        for (cls, base), name in printer.classes.items()
    )
    classes += "".join(
        f"\n\nclass {name}(nn.Module):\n    "
        + _docstring(graph.description or graph.name if cls == root.cls_name else f"archc block '{cls}'.", "    ")
        + "\n\n" + body
        for (cls, _), (name, body) in printer.flow_classes.items()
    )
    about = (f"{graph.name}: {graph.description}\n\n"
             f"Generated by archc from {graph.file}. Plain PyTorch: archc is not needed to use it.\n"
             f"{_io_text(written or graph)}; {graph.root.params:,} parameters.\n")
    if written is not None and written.symbolic:
        sizes = "; ".join(written.constraints.describe(written.constraints.variables()))
        about += (f"It takes every input size with {sizes}; the shapes in the comments are those of "
                  f"the input {_with_batch(graph.input_shape)}.\n")
    runtime = ("\n\n" + runtime_needed(printer.runtime) + "\n") if printer.runtime else ""
    # one zeros tensor per input, in the order forward takes them
    zeros = ", ".join("torch.zeros(" + ", ".join(py_literal(size) for size in (1, *shape)) + ")"
                      for shape in graph.input_shapes.values())
    entry = _ENTRY.format(docstring=_docstring(f"A fresh, randomly initialised {graph.name}.", "    "), body=body,
                          zeros=zeros, show=_SHOW[output_form(graph)])
    return f"{_docstring(about, '')}\n{_IMPORTS}{runtime}{classes}{entry}"


def _with_batch(shape) -> str:
    return "(N, " + ", ".join(map(str, shape)) + ")"


def _io_text(graph: Graph) -> str:
    """'Input (N, 3, 32, 32) → output (N, 10)', with every input by name and every output by key when there are several."""
    ins = graph.input_shapes
    left = (f"Input {_with_batch(graph.input_shape)}" if list(ins) == ["input"]
            else "Inputs " + ", ".join(f"{name} {_with_batch(shape)}" for name, shape in ins.items()))
    if output_form(graph) == "one":
        return f"{left} → output {_with_batch(graph.root.out_shape)}"
    return f"{left} → outputs " + ", ".join(f"{key} {_with_batch(shape)}" for key, shape in output_shapes(graph).items())
