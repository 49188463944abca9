"""The generated source carries only the runtime definitions its network uses (emit/source.py)."""
from __future__ import annotations

import ast

import archc
from archc.emit.source import runtime_needed

HEAD = "archc: 1\nname: net\ninput: [4, 6, 6]\nlayers:\n"
CONV = "conv2d: {out_channels: 4, kernel_size: 3, padding: 1}"
RUNTIME = {"merge", "initialise", "SliceChannels", "Chain", "Residual", "Parallel", "Dense", "FrozenBatchNorm2d"}


def _defined(text: str) -> set[str]:
    """The names the generated file defines at its top level with def or class."""
    source = archc.source(archc.check("spec.yaml", text=text))
    return {s.name for s in ast.parse(source).body if isinstance(s, (ast.FunctionDef, ast.ClassDef))}


def test_a_one_convolution_network_carries_no_runtime_code():
    assert _defined(HEAD + f"  - {CONV}\n") & RUNTIME == set()


def test_a_residual_network_carries_residual_and_merge_only():
    assert _defined(HEAD + f"  - residual: {{body: [{CONV}]}}\n") & RUNTIME == {"Residual", "merge"}


def test_each_container_and_runtime_layer_brings_what_it_uses():
    assert _defined(HEAD + f"  - dense: {{units: 2, layers: [{CONV}]}}\n") & RUNTIME == {"Dense"}
    assert _defined(HEAD + f"  - parallel: {{branches: {{a: [{CONV}], b: [{CONV}]}}}}\n") & RUNTIME == {"Parallel", "merge"}
    assert _defined(HEAD + f"  - {CONV[:-1]}, name: a}}\n  - {CONV[:-1]}, from: a}}\n") & RUNTIME == {"Chain", "merge"}
    assert _defined(HEAD + "  - slice_channels: {start: 0, stop: 2}\n") & RUNTIME == {"SliceChannels"}
    assert _defined(HEAD + "  - frozen_batch_norm2d\n") & RUNTIME == {"FrozenBatchNorm2d"}
    assert _defined(HEAD + "  - conv2d: {out_channels: 4, kernel_size: 1, init: {bias: zeros}}\n") & RUNTIME == {"initialise"}


def test_dependencies_are_read_from_the_runtime_source():
    parallel = ast.parse(runtime_needed({"Parallel"}))
    assert [s.name for s in parallel.body] == ["merge", "Parallel"]  # in runtime.py's order
    assert runtime_needed(set()) == ""
