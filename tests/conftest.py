"""Shared helpers: the reference facts, specs from text, torch as the answer key."""
from __future__ import annotations

import contextlib
import functools
import json
from pathlib import Path

import pytest
import yaml

import archc

REPO = Path(__file__).resolve().parent.parent
# the reference facts, copied from ../shared/reference by scripts/sync_reference.py (a test
# keeps the copy current whenever ../shared is there), so a plain clone's suite has them
REFERENCE = REPO / "tests" / "reference"
SPECS = REPO / "specs"


def load_script(name: str):
    """A module from scripts/ (the documentation generators the tests check against)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference(name: str) -> dict:
    path = REFERENCE / name
    if not path.exists():
        pytest.fail(f"reference facts missing: {path} (run scripts/sync_reference.py)")
    return json.loads(path.read_text())


@functools.lru_cache(maxsize=None)
def checked(path: Path) -> archc.Graph:
    """A spec file checked once per test session (emitters only read graphs)."""
    return archc.check(path)


@functools.lru_cache(maxsize=None)
def built(path: Path):
    """A spec file's module, built once per test session and shared by the tests that need
    it. Building is most of what a spec test costs (random init of ResNet-152, VGG-19 …).
    A test may set every weight (the probe rule does) but must not rely on the random init
    or leave the module in training mode."""
    return archc.build(checked(path)).eval()


def spec_text(layers, input_shape=(3, 16, 16), **top) -> str:
    """A whole spec as YAML text around a list of layers."""
    doc = {"archc": 1, "name": top.pop("name", "t"), "input": list(input_shape), **top, "layers": layers}
    return yaml.safe_dump(doc, sort_keys=False)


def check_text(text: str, file: str = "t.yaml", **kw) -> archc.Graph:
    return archc.check(file, text=text, **kw)


def errors_of(text: str, file: str = "spec.yaml") -> list[archc.ArchcError]:
    """Every error checking `text` (dedented) gives; fails the test when it gives none."""
    import textwrap

    try:
        archc.check(file, text=textwrap.dedent(text))
    except archc.ArchcErrors as many:
        return many.errors
    except archc.ArchcError as one:
        return [one]
    pytest.fail("no error raised")


def check_layers(layers, input_shape=(3, 16, 16), **top) -> archc.Graph:
    return check_text(spec_text(layers, input_shape, **top))


@contextlib.contextmanager
def attention_as_matmuls():
    """Run nn.MultiheadAttention as the matmuls FlopCounterMode counts: in eval mode without
    grad torch takes a fused fast path, and on CPU a fused attention kernel, for neither of
    which the counter has a formula (they count 0; its formula for the fused CUDA kernels
    counts the math kernel's two matmuls). The math kernel computes the same function."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast)


def torch_macs(module, x) -> int:
    """Multiply-accumulates of convolutions, linear layers and attention, as torch counts them."""
    from torch.utils.flop_counter import FlopCounterMode

    with attention_as_matmuls(), FlopCounterMode(display=False) as counter:
        module(x)
    return counter.get_total_flops() // 2


def torch_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _first_tensor(out):
    """A module's output, or the first of several (a tuple's first, a dict's first value)."""
    if isinstance(out, dict):
        return next(iter(out.values()))
    return out[0] if isinstance(out, (tuple, list)) else out


def _not_run(graph: archc.Graph) -> set[str]:
    """Paths of nodes the built module never calls: opened sequences (a Flow calls their
    children one by one) and everything under a step no output depends on."""
    from archc.graph import Flow, Seq

    paths = {n.path for n in graph.nodes() if isinstance(n, Seq) and n.opened}
    for node in graph.nodes():
        if isinstance(node, Flow):
            paths |= {inner.path for step in node.program if not step.live for inner in step.node.walk()}
    return paths


def assert_every_node_matches_torch(graph: archc.Graph, batch: int = 2, model=None) -> None:
    """Run the built module (`model`, or one built now) once; every node's inferred output
    shape, parameter count and MACs must equal what the real submodule at that node's path
    produced and holds (for a node with several outputs, its first)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    model = (model if model is not None else archc.build(graph)).eval()
    modules = dict(model.named_modules())
    seen: dict[str, tuple] = {}
    hooks = [module.register_forward_hook(
        lambda m, i, o, path=path: seen.__setitem__(path, tuple(_first_tensor(o).shape[1:])))
        for path, module in modules.items()]
    inputs = [torch.randn(batch, *shape) for shape in graph.input_shapes.values()]
    with torch.no_grad(), attention_as_matmuls(), FlopCounterMode(display=False) as counter:
        model(*inputs)
    for hook in hooks:
        hook.remove()
    flops = counter.get_flop_counts()
    root_name = type(model).__name__
    not_run = _not_run(graph)
    for node in graph.nodes():
        assert torch_params(modules[node.path]) == node.params, f"params of {node.path or 'network'}"
        if node.path in not_run:
            assert node.path not in seen or node.out_shape == seen[node.path]
            continue
        assert seen[node.path] == node.out_shape, f"shape of {node.path or 'network'}"
        key = f"{root_name}.{node.path}" if node.path else root_name
        torch_node_macs = sum(flops.get(key, {}).values()) // 2 // batch
        assert torch_node_macs == node.macs, f"MACs of {node.path or 'network'}"
