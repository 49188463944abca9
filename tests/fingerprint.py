"""The probe rule of the reference facts, implemented here from its specification.

The reference files (tests/reference, copied from ../shared/reference) hold, for each model,
a fingerprint of its outputs after every floating state_dict tensor was set from its own key
and the model ran in eval mode on a fixed input. A spec with the same keys that computes the
same function has the same fingerprint, so these helpers turn a built module into a
comparison with torchvision's (or ultralytics', or smp's) output with no reference library
installed. The rule, as ../shared/reference/probe.py's docstrings state it:

- weights: for the tensor t under key k, u = torch.rand(t.shape, float64) from a generator
  seeded with crc32(k); the value low + u·(high − low) cast to t's dtype, where [low, high]
  is [0.75, 1.25] for keys ending in running_var, [-0.1, 0.1] for running_mean, [0.75, 1.25]
  for other 1-d tensors whose key ends in weight, [-0.1, 0.1] for other 1-d tensors, and
  ±sqrt(3 / max(1, numel // shape[0])) for tensors of two or more dims; a 0-d tensor is
  0.5; integer tensors are left alone.
- input: torch.randn((2, *shape)) from a generator seeded with 0, float32.
- fingerprint: per output tensor (a tensor is named "out", dict entries by key, sequence
  entries by index, nested names joined by dots): shape, float64 sum and absolute sum, and
  the values at flat indices linspace(0, numel − 1, 32).round().
- comparison: relative to each output's scale (the largest sampled magnitude, the mean
  absolute value, at least 1e-12), sampled values, mean and mean absolute value agree
  within 1e-4.

tests/test_reference_copy.py checks this implementation against probe.py itself whenever
../shared is present.
"""
from __future__ import annotations

import math
import zlib

import torch

SAMPLES = 32
RTOL = 1e-4


def _uniform(shape, seed: int, low: float, high: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    # in place: the same values as `u * (high - low) + low`, without two more VGG-sized temporaries
    return torch.rand(shape, generator=generator, dtype=torch.float64).mul_(high - low).add_(low)


def _probe_value(key: str, tensor: torch.Tensor) -> torch.Tensor:
    seed = zlib.crc32(key.encode())
    if tensor.dim() == 0:
        return torch.tensor(0.5, dtype=torch.float64)
    if key.endswith("running_var"):
        return _uniform(tensor.shape, seed, 0.75, 1.25)
    if key.endswith("running_mean"):
        return _uniform(tensor.shape, seed, -0.1, 0.1)
    if tensor.dim() == 1:
        low, high = (0.75, 1.25) if key.endswith("weight") else (-0.1, 0.1)
        return _uniform(tensor.shape, seed, low, high)
    bound = math.sqrt(3.0 / max(1, tensor.numel() // tensor.shape[0]))
    return _uniform(tensor.shape, seed, -bound, bound)


def set_probe_weights(model: torch.nn.Module) -> None:
    """Every floating state_dict tensor set from its own key (the rule above)."""
    with torch.no_grad():
        for key, tensor in model.state_dict(keep_vars=True).items():
            if tensor.is_floating_point():
                tensor.data.copy_(_probe_value(key, tensor))  # copy_ casts to the tensor's dtype


def probe_input(shape, batch: int = 2) -> torch.Tensor:
    return torch.randn((batch, *shape), generator=torch.Generator().manual_seed(0))


def _named_tensors(out, prefix: str = ""):
    if isinstance(out, torch.Tensor):
        yield prefix or "out", out
    elif isinstance(out, dict):
        for key, value in out.items():
            yield from _named_tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(out, (list, tuple)):
        for index, value in enumerate(out):
            yield from _named_tensors(value, f"{prefix}.{index}" if prefix else str(index))
    else:
        raise TypeError(f"cannot fingerprint a {type(out).__name__}")


def fingerprint(out) -> dict:
    result = {}
    for name, tensor in _named_tensors(out):
        flat = tensor.detach().double().reshape(-1).cpu()
        if flat.numel():
            index = torch.linspace(0, flat.numel() - 1, SAMPLES).round().long()
        else:
            index = torch.zeros(0, dtype=torch.long)
        result[name] = {"shape": list(tensor.shape), "sum": flat.sum().item(), "abs_sum": flat.abs().sum().item(),
                        "samples": flat[index].tolist()}
    return result


def fingerprint_differences(ours: dict, ref: dict, rtol: float = RTOL) -> list[str]:
    """What differs between two fingerprints (empty when they agree)."""
    if set(ours) != set(ref):
        return [f"outputs {sorted(ours)} vs reference {sorted(ref)}"]
    problems = []
    for name, expected in ref.items():
        got = ours[name]
        if got["shape"] != expected["shape"]:
            problems.append(f"{name}: shape {got['shape']} vs {expected['shape']}")
            continue
        count = max(1, math.prod(expected["shape"]))
        scale = max(max((abs(s) for s in expected["samples"]), default=0.0), expected["abs_sum"] / count, 1e-12)
        worst = max((abs(a - b) for a, b in zip(got["samples"], expected["samples"])), default=0.0) / scale
        mean = abs(got["sum"] - expected["sum"]) / count / scale
        mean_abs = abs(got["abs_sum"] - expected["abs_sum"]) / count / scale
        if worst > rtol or mean > rtol or mean_abs > rtol:
            problems.append(f"{name}: sampled values differ by {worst:.1e} of scale, mean by {mean:.1e}")
    return problems


def probe_fingerprint(model: torch.nn.Module, input_shape) -> dict:
    """The fingerprint of `model` under the probe rule: probe weights, eval mode, probe input."""
    set_probe_weights(model)
    with torch.no_grad():
        return fingerprint(model.eval()(probe_input(input_shape)))
