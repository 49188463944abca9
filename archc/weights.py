"""Trained weights in: a state_dict file checked against the network before anything is loaded.

A weights file is untrusted like a spec. It is read through `spec/files.py` (a regular file,
its size bounded by what the network's tensors can take), `torch.save` files are opened with
`weights_only=True` (tensors and plain containers only: a pickle that would construct any
other object is refused, never run), and `.safetensors` files hold nothing but tensors.
Every key and shape is compared with the network's own state_dict first, so a mismatch is one
readable `bad-weights` error listing what is missing, unexpected and mis-shaped.
"""
from __future__ import annotations

import io
import pickle
import re
import warnings
import zipfile
from pathlib import Path

from archc.errors import ArchcError, Loc
from archc.shapes import format_shape
from archc.spec.files import read_regular_file

SHOWN_PER_KIND = 3  # keys listed per kind of mismatch; the rest are counted
# checkpoint layouts that hold the state_dict under one key (Lightning, many training scripts)
CHECKPOINT_KEYS = ("state_dict", "model", "model_state_dict")
# prefixes a whole state_dict gains from wrappers: DistributedDataParallel, torch.compile
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
SLACK_BYTES = 16 * 2**20  # a file's own structure (names, zip headers) beyond its tensors


def _bad(path, message: str, **kw) -> ArchcError:
    return ArchcError("bad-weights", message, Loc(str(path), 1, 1), **kw)


def missing_package(package: str, purpose: str, extra: str) -> ArchcError:
    """The one error for an optional dependency that is not installed."""
    return ArchcError("missing-package", f"{purpose} needs the '{package}' package, which is not installed",
                      expected=f"'{package}' importable", found="not installed",
                      hint=f"pip install 'archc[{extra}]' (or pip install {package})")


def max_file_bytes(model) -> int:
    """The largest weights file worth reading for this model: its tensors in float64 (twice
    float32, the widest a checkpoint usually holds) plus room for the file's structure."""
    return 2 * sum(t.numel() * max(t.element_size(), 4) for t in model.state_dict().values()) + SLACK_BYTES


def read_state_dict(path: str | Path, max_bytes: int) -> dict:
    """The tensors of a torch.save or .safetensors file, by key; anything else is `bad-weights`."""
    data = read_regular_file(path, str(path), max_bytes=max_bytes, what="weights file")
    if str(path).lower().endswith(".safetensors") or _looks_like_safetensors(data):
        state = _read_safetensors(path, data)
    else:
        state = _read_torch_save(path, data)
    return _unwrapped(path, state)


def _looks_like_safetensors(data: bytes) -> bool:
    """8 bytes of header length (little-endian) and then a JSON header."""
    return len(data) > 9 and data[8:9] == b"{" and int.from_bytes(data[:8], "little") <= len(data) - 8


def _read_safetensors(path, data: bytes) -> dict:
    try:
        from safetensors.torch import load
    except ImportError:
        raise missing_package("safetensors", "reading a .safetensors file", "weights") from None
    try:
        return load(data)
    except Exception as exc:  # safetensors raises its own SafetensorError, and others for a broken header
        raise _bad(path, "not a usable .safetensors file", found=_reason(exc),
                   expected="a file written by safetensors.torch.save_file") from None


def _read_torch_save(path, data: bytes) -> dict:
    import torch

    try:
        with warnings.catch_warnings():
            # torch warns about a raw pickle's protocol before refusing it: the refusal says enough
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if zipfile.is_zipfile(io.BytesIO(data)) or data[:1] == b"\x80":  # a pickle, of something beyond tensors
            raise _bad(path, "the file holds Python objects other than tensors, which archc never unpickles",
                       expected="a state_dict saved with torch.save(model.state_dict(), path)",
                       found=_unsupported_global(exc),
                       hint="save the state_dict, not the model or the optimiser's objects") from None
        raise _not_weights(path, data) from None
    except Exception:  # torch says 'not a zip file', 'invalid load key', EOFError …: all mean the same
        raise _not_weights(path, data) from None


def _not_weights(path, data: bytes) -> ArchcError:
    return _bad(path, "not a weights file", expected="a state_dict saved with torch.save, or a .safetensors file",
                found=f"{len(data):,} bytes starting {data[:12]!r}")


def _unsupported_global(exc: Exception) -> str:
    """The object the pickle wanted to construct, as torch names it ('GLOBAL argparse.Namespace')."""
    named = re.search(r"GLOBAL ([\w.]+)", str(exc))
    return f"a pickled {named.group(1)}" if named else "a pickle of other objects"


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (text[:160] or type(exc).__name__)


def _unwrapped(path, state) -> dict:
    """The state_dict inside a checkpoint dict, without a wrapper's prefix on every key."""
    import torch

    if isinstance(state, dict):
        for key in CHECKPOINT_KEYS:
            if key in state and isinstance(state[key], dict) and not isinstance(state[key], torch.Tensor):
                state = state[key]
                break
    if not isinstance(state, dict):
        raise _bad(path, "the file does not hold a state_dict", expected="a mapping of names to tensors",
                   found=type(state).__name__)
    not_tensors = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        shown = ", ".join(map(str, not_tensors[:SHOWN_PER_KIND]))
        raise _bad(path, "the state_dict holds values that are not tensors", expected="a tensor under every key",
                   found=f"{len(not_tensors)} other value{'s' * (len(not_tensors) > 1)} ({shown})")
    for prefix in WRAPPER_PREFIXES:
        if state and all(isinstance(k, str) and k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def mismatches(expected: dict, found: dict) -> list[str]:
    """Lines naming missing, unexpected and mis-shaped keys (a few of each, with counts)."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    misshaped = [f"{k} is {format_shape(tuple(found[k].shape)) or 'a scalar'} in the file, "
                 f"{format_shape(tuple(expected[k].shape)) or 'a scalar'} in the network"
                 for k in expected if k in found and tuple(found[k].shape) != tuple(expected[k].shape)]
    lines = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
        if items:
            more = f", … and {len(items) - SHOWN_PER_KIND} more" if len(items) > SHOWN_PER_KIND else ""
            lines.append(f"{label} ({len(items)}): {', '.join(map(str, items[:SHOWN_PER_KIND]))}{more}")
    return lines


def load_weights(model, path: str | Path):
    """Load a torch.save state_dict (or a checkpoint holding one) or a .safetensors file into
    `model`, after checking every key and shape; returns the model."""
    import torch

    state = read_state_dict(path, max_file_bytes(model))
    expected = model.state_dict()
    problems = mismatches(expected, state)
    if problems:
        raise _bad(path, f"the weights do not fit the network ({len(expected)} tensors expected, "
                         f"{len(state)} in the file)", notes=problems,
                   hint="the file must come from the same spec (archc build writes the module whose keys it needs)")
    with torch.no_grad():
        model.load_state_dict(state, strict=True)
    return model
