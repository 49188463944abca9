"""`archc run`: run a spec on a small input given as YAML, JSON or NumPy, and show the output."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from archc.errors import ArchcError, Loc
from archc.graph import Graph
from archc.shapes import format_shape
from archc.spec.yaml_source import parse_yaml

MAX_PRINTED = 4000


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def read_tensor(path: str | Path):
    """An input file (.npy, or a nested list in YAML/JSON, optionally under 'input:') as float32."""
    import torch

    from archc.layers.init import InitError, literal_shape

    path = Path(path)
    if not path.exists():
        raise ArchcError("file-not-found", f"no such input file: {path}")
    if path.suffix == ".npy":
        try:
            import numpy as np
        except ImportError:
            raise ArchcError("bad-input", "reading .npy needs NumPy", hint="pip install numpy, or give the input as YAML/JSON") from None
        tensor = torch.from_numpy(np.load(path, allow_pickle=False)).float()
    else:
        data = _plain(parse_yaml(path.read_bytes(), str(path)))
        if isinstance(data, dict) and "input" in data:
            data = data["input"]
        try:
            literal_shape(data)
        except InitError as exc:
            raise ArchcError("bad-input", f"the input is not a tensor: {exc.message}", Loc(str(path), 1, 1),
                             expected="a nested list of numbers", found=exc.found) from None
        tensor = torch.tensor(data, dtype=torch.float32)
    return tensor


def as_batch(tensor, graph: Graph, path: str | Path):
    """The tensor as a batch for this network: one sample gains a batch dim; a batch stays."""
    shape = tuple(tensor.shape)
    if shape == graph.input_shape:
        return tensor.unsqueeze(0)
    if shape[1:] == graph.input_shape:
        return tensor
    raise ArchcError("bad-input", "the input's shape does not match the spec's input", Loc(str(path), 1, 1),
                     expected=f"{format_shape(graph.input_shape)} (one sample) or N×{format_shape(graph.input_shape)}",
                     found=format_shape(shape) or "a single number")


def _number(x: float) -> str:
    return f"{x:.6g}" if x != int(x) or abs(x) >= 1e15 else str(int(x))


def format_tensor(t) -> str:
    """Nested rows with aligned columns; the last two dims as a matrix, earlier ones labelled."""
    if t.numel() > MAX_PRINTED:
        import torch

        with torch.no_grad():
            return str(t)
    values = t.tolist()
    if t.dim() == 0:
        return _number(values)
    if t.dim() == 1:
        return "[" + " ".join(_number(v) for v in values) + "]"
    width = max(len(_number(v)) for v in t.flatten().tolist())

    def matrix(rows) -> str:
        return "\n".join("[" + " ".join(_number(v).rjust(width) for v in row) + "]" for row in rows)

    if t.dim() == 2:
        return matrix(values)
    blocks = []
    for index in range(t.shape[0]):
        inner = format_tensor(t[index]).replace("\n", "\n  ")
        blocks.append(f"[{index}]\n  {inner}")
    return "\n".join(blocks)


def run(spec: str | Path, input_path: str | Path, seed: int = 0, limits=None) -> str:
    """Build the network (random parameters seeded, so runs repeat) and run it in eval mode
    on the input file; a spec with named sizes (input: [1, H, W]) takes the file's sizes."""
    import torch

    from archc.emit.torch_module import build_module
    from archc.passes.limits import Limits
    from archc.pipeline import check

    limits = limits or Limits()
    tensor = read_tensor(input_path)
    graph = check(spec, limits=limits)
    rank = len(graph.input_shape)
    if graph.symbolic and tensor.dim() in (rank, rank + 1):
        sample = tuple(tensor.shape) if tensor.dim() == rank else tuple(tensor.shape[1:])
        if sample[0] == graph.input_shape[0]:
            graph = check(spec, limits=limits, input_shape=sample)
    x = as_batch(tensor, graph, input_path)
    torch.manual_seed(seed)
    model = build_module(graph).eval()
    with torch.no_grad():
        y = model(x)
    out = y[0] if y.shape[0] == 1 else y
    label = "output" if y.shape[0] == 1 else f"outputs (batch of {y.shape[0]})"
    return f"{label} {format_shape(tuple(out.shape))}:\n{format_tensor(out)}"
