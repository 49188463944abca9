"""`archc run`: run a spec on a small input given as YAML, JSON or NumPy, or made on the spot
(d2l's `torch.arange(9.0).reshape(1, 1, 3, 3)` is `--input arange:1x3x3`), and show the
output, or every layer's output (--all); --save writes the output as .npy.

The input file is untrusted like a spec: only a regular file of bounded size is read, .npy
never unpickles, and every way it can be wrong (ragged, not numbers, too large for float32,
an empty batch) is a located `bad-input` error."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archc.errors import ArchcError, Loc, did_you_mean
from archc.graph import Graph, Layer
from archc.shapes import format_shape
from archc.spec.files import read_regular_file
from archc.spec.yaml_source import locate, parse_yaml

MAX_PRINTED = 4000
MAX_NPY_BYTES = 256 * 2**20  # a .npy input: 64M float32 values
MAX_TEXT_BYTES = 8 * 2**20  # a YAML/JSON input: text is slow to parse, and a few MB is already a lot to type
MAX_TEXT_VALUES = 2_000_000
MAX_RANK = 5  # a batch of 3-d samples: N×C×D×H×W
MAX_GENERATED = 2**24  # values an arange/zeros/ones input may have: 64 MB of float32
# inputs made rather than read: d2l writes torch.arange(16.0).reshape(1, 1, 4, 4)
GENERATORS = ("arange", "zeros", "ones")
FLOAT32_MAX = 3.4028234663852886e38


def _bad(path, message: str, loc: Loc | None = None, **kw) -> ArchcError:
    return ArchcError("bad-input", message, loc or Loc(str(path), 1, 1), **kw)


def _read_input(path: Path, limit: int) -> bytes:
    """An input file's bytes: spec/files.py's rule (regular files only, size checked first)."""
    return read_regular_file(path, str(path), max_bytes=limit, what="input file")


@dataclass(frozen=True)
class Generated:
    """An input tensor made, not read: arange (0, 1, 2, … in row-major order), zeros or ones."""

    how: str
    shape: tuple[int, ...]

    def tensor(self):
        import torch

        if self.how == "arange":
            return torch.arange(math.prod(self.shape), dtype=torch.float32).reshape(self.shape)
        return (torch.zeros if self.how == "zeros" else torch.ones)(self.shape, dtype=torch.float32)

    def __str__(self) -> str:
        return f"{self.how}:{'x'.join(map(str, self.shape))}"


def generated_problem(how: Any, shape: Any) -> str:
    """Why (how, shape) is not an input archc can make, or '' when it is."""
    if how not in GENERATORS:
        return f"'{_short(how)}' is not one of {', '.join(GENERATORS)}"
    if not isinstance(shape, (list, tuple)) or not 1 <= len(shape) <= MAX_RANK:
        return f"its shape must be a list of 1 to {MAX_RANK} sizes"
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
        return "its sizes must be positive whole numbers"
    if math.prod(shape) > MAX_GENERATED:
        return f"it would hold {math.prod(shape):,} values, more than {MAX_GENERATED:,}"
    return ""


def parse_generated(text: str) -> Generated | None:
    """'arange:1x3x3' → Generated('arange', (1, 3, 3)); None when `text` names no generator
    (it is then a file name); ValueError when it does but its shape is wrong."""
    how, colon, sizes = text.partition(":")
    if not colon or how not in GENERATORS:
        return None
    parts = sizes.replace("×", "x").split("x")
    shape = [int(p) if p.isascii() and p.isdigit() and len(p) <= 18 else p for p in parts]
    problem = generated_problem(how, shape if all(isinstance(n, int) for n in shape) else ["?"])
    if problem:
        raise ValueError(f"'{text[:60]}' is not an input like arange:1x3x3: {problem}")
    return Generated(how, tuple(shape))


def _generated_from_file(path: Path, value: Any) -> Generated:
    """`input: {arange: [1, 3, 3]}` in an input file."""
    where = getattr(value, "loc", None)
    if len(value) != 1 or next(iter(value)) not in GENERATORS:
        keys = ", ".join(map(str, value)) or "none"
        raise _bad(path, "an input mapping must name one way to make the input", where,
                   expected=" or ".join(f"{g}: [sizes]" for g in GENERATORS), found=f"keys {keys}")
    how, shape = next(iter(value.items()))
    problem = generated_problem(how, shape)
    if problem:
        raise _bad(path, f"the {how} input cannot be made: {problem}", locate(value, (how,), where),
                   expected=f"{how}: [C, H, W] (positive sizes, at most {MAX_GENERATED:,} values)",
                   found=_short(shape))
    return Generated(how, tuple(shape))


def read_tensor(path: str | Path | Generated):
    """An input file (.npy, or a nested list in YAML/JSON, optionally under 'input:', or
    'input: {arange: [sizes]}') or a Generated input, as float32."""
    if isinstance(path, Generated):
        return path.tensor()
    path = Path(path)
    if path.suffix.lower() == ".npy":
        return _read_npy(path, _read_input(path, MAX_NPY_BYTES))
    data = _read_input(path, MAX_TEXT_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(path, "the input file is not UTF-8 text", found=f"byte 0x{data[exc.start]:02x}",
                   hint="binary arrays go in a .npy file") from None
    # JSON is read as JSON (1e20 is a number there); anything else as YAML, with positions
    raw = None if path.suffix.lower() == ".json" else _parse_yaml_input(path, text)
    values = _parse_json(path, text) if raw is None else raw
    if isinstance(values, dict):
        if list(values) != ["input"]:
            keys = ", ".join(map(str, values)) or "none"
            raise _bad(path, "an input mapping must have exactly one key, 'input'", getattr(values, "loc", None),
                       expected="input: [[…]] or a bare nested list", found=f"keys {keys}")
        values = values["input"]
        raw = values if raw is not None else None
        if isinstance(values, dict):
            return _generated_from_file(path, values).tensor()
    return _to_tensor(path, values, raw)


def _parse_json(path: Path, text: str):
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(path, f"not valid JSON: {exc.msg}", Loc(str(path), exc.lineno, exc.colno)) from None
    except (ValueError, RecursionError) as exc:  # integers of thousands of digits; nesting thousands deep
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else "a number has too many digits"
        raise _bad(path, f"not a usable JSON input: {reason}") from None


def _parse_yaml_input(path: Path, text: str):
    try:
        return parse_yaml(text, str(path), max_nodes=MAX_TEXT_VALUES)
    except ArchcError as exc:
        if exc.code == "empty-spec":  # worded for specs
            raise _bad(path, "the input file is empty", expected="a nested list of numbers") from None
        raise
    except RecursionError:
        raise _bad(path, "the input is nested too deeply", expected=f"at most {MAX_RANK} levels of lists") from None


def _to_tensor(path: Path, values: Any, raw: Any):
    """A rectangular nested list of numbers as a float32 tensor; anything else is a located error."""
    import torch

    flat: list[float] = []
    shape = _shape_of(path, values, raw, (), flat)
    return torch.tensor(flat, dtype=torch.float32).reshape(shape)


def _shape_of(path: Path, value: Any, raw: Any, where: tuple, flat: list) -> tuple[int, ...]:
    """Check one level of the nested list and collect its numbers (in order) into `flat`."""
    here = locate(raw, where, Loc(str(path), 1, 1)) if raw is not None else None
    shown = "input" + "".join(f"[{i}]" for i in where)
    if isinstance(value, list):
        if len(where) >= MAX_RANK:
            raise _bad(path, "the input is nested too deeply", here,
                       expected=f"at most {MAX_RANK} dims (a batch of samples)", found=f"a list at {shown}")
        if not value:
            raise _bad(path, "the input holds an empty list", here, expected="a non-empty nested list of numbers",
                       found=f"[] at {shown}")
        shapes = []
        for index, item in enumerate(value):
            shapes.append(_shape_of(path, item, raw, (*where, index), flat))
            if shapes[-1] != shapes[0]:
                row = f"{shown}[{index}]"
                raise _bad(path, "the input is ragged: its rows differ in shape",
                           locate(raw, (*where, index), here) if raw is not None else None,
                           expected=f"every item of {shown} shaped like {shown}[0]: {format_shape(shapes[0]) or 'a number'}",
                           found=f"{row} shaped {format_shape(shapes[-1]) or 'a number'}")
        return (len(value), *shapes[0])
    number = _as_number(value)
    if number is None:
        raise _bad(path, "the input holds something that is not a number", here, expected="numbers",
                   found=f"{_short(value)} at {shown}")
    if math.isfinite(number) and abs(number) > FLOAT32_MAX:
        raise _bad(path, "a number is too large for float32", here, expected=f"at most ±{FLOAT32_MAX:.4g}",
                   found=f"{_short(value)} at {shown}")
    if len(flat) >= MAX_TEXT_VALUES:
        raise _bad(path, "the input holds too many numbers", expected=f"at most {MAX_TEXT_VALUES:,}", found="more")
    flat.append(number)
    return ()


def _as_number(value: Any) -> float | None:
    """A number as a float (.inf and .nan included); None for anything else, booleans too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) <= 2**1000:
            return float(value)
        return 2.0**1000 if value > 0 else -(2.0**1000)  # beyond float: reported as too large
    if isinstance(value, float):
        return value
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _read_npy(path: Path, data: bytes):
    """A .npy holding one real-valued array (no pickles, no objects) as float32."""
    import io

    import torch
    try:
        import numpy as np
    except ImportError:
        raise _bad(path, "reading .npy needs NumPy", hint="pip install numpy, or give the input as YAML/JSON") from None
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError, OSError, TypeError) as exc:
        reason = str(exc).split("\n")[0][:120] or type(exc).__name__
        if "pickle" in reason.lower():
            reason = "it holds pickled Python objects, which archc never loads"
        raise _bad(path, f"not a usable .npy file: {reason}", expected="an array saved with numpy.save") from None
    except MemoryError:  # NumPy allocates what the header declares before reading: far more than the file holds
        raise _bad(path, "not a usable .npy file: its header declares an array far larger than the file",
                   expected="an array saved with numpy.save") from None
    if not isinstance(array, np.ndarray):
        raise _bad(path, "not a single array (an .npz archive?)", expected="one array saved with numpy.save",
                   found=type(array).__name__)
    if array.dtype.kind not in "iuf":
        what = {"b": "booleans", "c": "complex numbers", "U": "strings", "S": "bytes", "O": "Python objects",
                "V": "records", "M": "dates", "m": "time spans"}.get(array.dtype.kind, str(array.dtype))
        raise _bad(path, f"the array holds {what}, not real numbers", expected="an integer or floating-point array",
                   found=f"dtype {array.dtype}")
    if array.ndim > MAX_RANK:
        raise _bad(path, "the array has too many dims", expected=f"at most {MAX_RANK}", found=f"{array.ndim}")
    wide = array.astype(np.float64)  # native byte order, whatever the file's
    if (np.abs(np.where(np.isfinite(wide), wide, 0)) > FLOAT32_MAX).any():
        raise _bad(path, "a number is too large for float32", expected=f"at most ±{FLOAT32_MAX:.4g}",
                   found=f"up to {np.nanmax(np.abs(np.where(np.isfinite(wide), wide, 0))):.4g}")
    return torch.from_numpy(np.ascontiguousarray(wide, dtype=np.float32))


def as_batch(tensor, graph: Graph, path: str | Path | Generated, name: str | None = None):
    """The tensor as a batch for this network's input `name` (default: the first): one sample
    gains a batch dim; a batch stays. A made input has no file to point at: its mismatch is
    shown at the spec's `input:`."""
    wanted = graph.input_shapes[name] if name is not None else graph.input_shape
    which = f"input '{name}'" if name is not None and list(graph.input_shapes) != ["input"] else "input"
    shape = tuple(tensor.shape)
    where = (graph.input_loc or Loc(graph.file, 1, 1)) if isinstance(path, Generated) else Loc(str(path), 1, 1)
    if shape == wanted:
        return tensor.unsqueeze(0)
    if shape[1:] == wanted:
        if shape[0] == 0:
            raise _bad(path, "the batch is empty", where, expected=f"at least one sample of {format_shape(wanted)}",
                       found=format_shape(shape))
        return tensor
    raise ArchcError("bad-input", f"the input{' ' + str(path) if isinstance(path, Generated) else ''}'s shape "
                     f"does not match the spec's {which}", where,
                     expected=f"{format_shape(wanted)} (one sample) or N×{format_shape(wanted)}",
                     found=format_shape(shape) or "a single number")


def bind_inputs(graph: Graph, given: list) -> dict:
    """The --input values by the network's input names, in the order forward takes them.
    `given` holds bare inputs (FILE, arange:…) and (name, input) pairs; a bare one is allowed
    only where the network has one input. Every input must be given once."""
    names = list(graph.input_shapes)
    where = graph.input_loc or Loc(graph.file, 1, 1)
    bound: dict = {}
    for item in given:
        name, value = item if isinstance(item, tuple) else (None, item)
        if name is None:
            if len(names) != 1:
                raise ArchcError("bad-input", "the network has several inputs: name each one", where,
                                 expected="--input NAME=FILE for each of " + ", ".join(names), found=f"--input {value}")
            name = names[0]
        elif name not in names:
            raise ArchcError("bad-input", f"the network has no input named '{name}'", where,
                             expected="one of " + ", ".join(names), found=f"--input {name}=…",
                             hint=did_you_mean(name, names))
        if name in bound:
            raise ArchcError("bad-input", f"input '{name}' is given twice", where, expected="each input once",
                             found=f"two --input values for '{name}'")
        bound[name] = value
    missing = [n for n in names if n not in bound]
    if missing:
        raise ArchcError("bad-input", "an input of the network is not given", where,
                         expected="--input NAME=FILE for each of " + ", ".join(names), found="none for " + ", ".join(missing))
    return {name: bound[name] for name in names}


def _number(x: float) -> str:
    if not math.isfinite(x):
        return str(x)  # nan, inf, -inf
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


def _check_batch_memory(graph: Graph, batch: int, limits, path) -> None:
    """The estimate `check` makes for one sample, for the whole batch, before anything is built."""
    from archc.passes.infer import memory_estimate

    params = graph.root.params * 4
    per_sample = memory_estimate(graph) - params
    needed = params + batch * per_sample
    if needed > limits.max_memory:
        where = (graph.input_loc or Loc(graph.file, 1, 1)) if isinstance(path, Generated) else None
        raise _bad(path, f"running a batch of {batch:,} would need too much memory", where,
                   expected=f"at most {limits.max_memory / 2**30:,.1f} GiB (--max-memory)",
                   found=f"about {needed / 2**30:,.1f} GiB", hint="run fewer samples at a time")


@dataclass
class Ran:
    """What a run printed (`text`) and the output (one sample when one sample went in): a
    tensor, or a dict of output key → tensor for a network with several outputs."""

    text: str
    output: Any


def run(spec: str | Path, input_path, seed: int = 0, limits=None, weights: str | Path | None = None) -> str:
    """The text `archc run` prints for the network's output."""
    return run_network(spec, input_path, seed, limits, weights=weights).text


def run_network(spec: str | Path, input_path, seed: int = 0, limits=None,
                every_layer: bool = False, weights: str | Path | None = None) -> Ran:
    """Build the network (random parameters seeded, so runs repeat, or `weights` loaded) and run it in eval mode
    on the input; a spec with named sizes (input: [1, H, W]) takes the input's sizes. With
    `every_layer`, each layer's output is shown too, in the order the layers ran.

    `input_path` is one input (a file or Generated), or, for a network with several inputs,
    a list of them and (name, input) pairs (as `--input NAME=FILE` gives), or a dict name → input."""
    import torch

    from archc.emit.torch_module import build_module
    from archc.network_io import output_form, outputs_by_key
    from archc.passes.limits import Limits
    from archc.pipeline import check

    limits = limits or Limits()
    given = list(input_path.items()) if isinstance(input_path, dict) else \
        list(input_path) if isinstance(input_path, list) else [input_path]
    graph = check(spec, limits=limits)
    paths = bind_inputs(graph, given)
    tensors = {name: read_tensor(path) for name, path in paths.items()}
    rank = len(graph.input_shape)
    first = next(iter(tensors.values()))
    if graph.symbolic and len(tensors) == 1 and first.dim() in (rank, rank + 1):
        sample = tuple(first.shape) if first.dim() == rank else tuple(first.shape[1:])
        if sample[0] == graph.input_shape[0]:
            graph = check(spec, limits=limits, input_shape=sample)
    xs = {name: as_batch(tensor, graph, paths[name], name) for name, tensor in tensors.items()}
    batches = {name: x.shape[0] for name, x in xs.items()}
    if len(set(batches.values())) > 1:
        raise ArchcError("bad-input", "the inputs hold different numbers of samples",
                         graph.input_loc or Loc(graph.file, 1, 1), expected="the same batch size for every input",
                         found=", ".join(f"{name} {n}" for name, n in batches.items()))
    batch = next(iter(batches.values()))
    _check_batch_memory(graph, batch, limits, paths[next(iter(paths))])
    torch.manual_seed(seed)
    model = build_module(graph).eval()
    if weights is not None:
        from archc.weights import load_weights

        load_weights(model, weights)
    shown: list[str] = []
    hooks = _show_every_layer(graph, model, shown) if every_layer else []
    try:
        with torch.no_grad():
            y = model(*xs.values())
    finally:
        for hook in hooks:
            hook.remove()
    outputs = outputs_by_key(graph, y)
    one_sample_in = first.dim() == rank
    several = output_form(graph) != "one"
    for key, value in outputs.items():
        out = value[0] if batch == 1 else value
        shown_key = f"[{key}]" if output_form(graph) == "tuple" else key  # a tuple's keys are positions
        label = ("output" if batch == 1 else f"outputs (batch of {batch})") + (f" {shown_key}" if several else "")
        shown.append(f"{label} {format_shape(tuple(out.shape))}:\n{format_tensor(out)}")
    kept = {key: value[0] if one_sample_in else value for key, value in outputs.items()}
    return Ran("\n".join(shown), kept if several else kept["output"])


def _show_every_layer(graph: Graph, model, shown: list[str]) -> list:
    """Forward hooks that print each layer's output as it is computed (text at once, so no
    activation is kept); module paths are the graph's node paths."""
    layers = {node.path: node for node in graph.nodes() if isinstance(node, Layer)}
    hooks = []
    for path, module in model.named_modules():
        node = layers.get(path)
        if node is None:
            continue

        def show(module, inputs, output, node=node):
            pieces = output if isinstance(output, (tuple, list)) else (output,)  # chunk and split give several
            for index, piece in enumerate(pieces):
                out = piece[0] if piece.shape[0] == 1 else piece
                where = f"{node.path}.{index}" if len(pieces) > 1 or pieces is output else node.path
                shown.append(f"{where} ({node.kind}) {format_shape(tuple(out.shape))}:\n{format_tensor(out)}\n")
        hooks.append(module.register_forward_hook(show))
    return hooks


def npy_bytes(tensor) -> bytes:
    """The tensor as the bytes of a .npy file; NumPy is needed only here."""
    import io

    try:
        import numpy as np
    except ImportError:
        raise ArchcError("numpy-missing", "writing .npy needs NumPy, which is not installed",
                         hint="pip install numpy, or leave out --save") from None
    buffer = io.BytesIO()
    np.save(buffer, tensor.detach().cpu().numpy(), allow_pickle=False)
    return buffer.getvalue()


def npz_bytes(tensors: dict) -> bytes:
    """Several outputs as the bytes of a .npz archive, one array per output key (numpy.savez; no pickles)."""
    import io

    try:
        import numpy as np
    except ImportError:
        raise ArchcError("numpy-missing", "writing .npz needs NumPy, which is not installed",
                         hint="pip install numpy, or leave out --save") from None
    import zipfile

    buffer = io.BytesIO()
    # as numpy.savez writes it (whose keyword arguments would clash with keys such as 'file')
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for key, tensor in tensors.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, tensor.detach().cpu().numpy(), allow_pickle=False)
    return buffer.getvalue()
