"""Property-based proof (hypothesis) that inference matches torch and bad input never crashes.

CI runs a fixed seed and a modest number of examples; a longer local run:
    ARCHC_EXAMPLES=2000 python3 -m pytest tests/test_properties.py --hypothesis-show-statistics
"""
from __future__ import annotations

import os
import random
import time

import pytest
import torch
from conftest import SPECS, assert_every_node_matches_torch, spec_text
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch import nn

import archc

EXAMPLES = int(os.environ.get("ARCHC_EXAMPLES", "120"))
FIXED = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

small = st.integers(1, 4)
sizes = st.one_of(small, st.lists(small, min_size=2, max_size=2))


@st.composite
def conv_layer(draw):
    groups = draw(st.sampled_from([1, 1, 1, 2, 3]))
    return {"conv2d": {"out_channels": groups * draw(st.integers(1, 4)), "kernel_size": draw(sizes),
                       "stride": draw(sizes), "padding": draw(st.one_of(st.integers(0, 3), st.sampled_from(["same", "valid"]))),
                       "dilation": draw(sizes), "groups": groups, "bias": draw(st.booleans())}}


@st.composite
def pool_layer(draw):
    kind = draw(st.sampled_from(["max_pool2d", "avg_pool2d"]))
    args = {"kernel_size": draw(sizes), "stride": draw(st.one_of(st.none(), sizes)),
            "padding": draw(st.integers(0, 2)), "ceil_mode": draw(st.booleans())}
    if kind == "max_pool2d":
        args["dilation"] = draw(sizes)
    else:
        args["count_include_pad"] = draw(st.booleans())
    return {kind: {k: v for k, v in args.items() if v is not None}}


layer = st.one_of(conv_layer(), pool_layer(), st.just("batch_norm2d"), st.just("relu"),
                  st.builds(lambda o: {"adaptive_avg_pool2d": {"output_size": o}}, small))


def _torch_layer(entry, channels: int) -> nn.Module:
    """The torch module for one entry, made from its own arguments: torch alone decides."""
    if isinstance(entry, str):
        return {"batch_norm2d": lambda: nn.BatchNorm2d(channels), "relu": nn.ReLU, "flatten": nn.Flatten}[entry]()
    (kind, args), = entry.items()
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    if kind == "conv2d":
        return nn.Conv2d(channels, **args)
    if kind == "linear":
        return nn.Linear(channels, **args)
    return {"max_pool2d": nn.MaxPool2d, "avg_pool2d": nn.AvgPool2d, "adaptive_avg_pool2d": nn.AdaptiveAvgPool2d}[kind](**args)


@FIXED
@given(channels=st.integers(1, 6), height=st.integers(1, 24), width=st.integers(1, 24),
       layers=st.lists(layer, min_size=1, max_size=6), head=st.booleans())
def test_random_chains_agree_with_torch_layer_by_layer(channels, height, width, layers, head):
    if head:
        layers = [*layers, "flatten", {"linear": {"out_features": 3}}]
    # torch first: run layer by layer until it refuses one (or none)
    x, torch_shapes, refused_at = torch.zeros(2, channels, height, width), [], None
    for index, entry in enumerate(layers):
        try:
            with torch.no_grad():
                x = _torch_layer(entry, x.shape[1])(x)
            if x.numel() == 0:
                raise RuntimeError("empty output")
        except (RuntimeError, ValueError):
            refused_at = index
            break
        torch_shapes.append(tuple(x.shape[1:]))
    text = spec_text(layers, (channels, height, width))
    event("torch ran every layer" if refused_at is None else "torch refused a layer")
    if refused_at is None:
        graph = archc.check("t.yaml", text=text)
        assert [n.out_shape for n in graph.root.items] == torch_shapes
        assert_every_node_matches_torch(graph)
    else:
        with pytest.raises(archc.ArchcError) as info:
            archc.check("t.yaml", text=text)
        assert info.value.path.startswith(f"layer {refused_at} ("), info.value.format()


def _same_conv(draw, out_channels):
    k = draw(st.sampled_from([1, 3, 5]))
    return {"conv2d": {"out_channels": out_channels, "kernel_size": k, "padding": k // 2}}


@st.composite
def structure(draw, tag: str):
    channels = draw(st.integers(1, 5))
    kind = draw(st.sampled_from(["residual", "parallel", "dense", "repeat"]))
    if kind == "residual":
        body = [_same_conv(draw, draw(st.sampled_from([channels, channels + 1]))), "relu"]
        stride = draw(st.sampled_from([1, 2]))
        shortcut = draw(st.booleans())
        if stride == 2:
            body.insert(0, {"max_pool2d": {"kernel_size": 2}})
        entry = {"residual": {"body": body, "merge": draw(st.sampled_from(["add", "mul", "concat"]))}}
        if shortcut:
            entry["residual"]["shortcut"] = [{"conv2d": {"out_channels": draw(st.integers(1, 6)), "kernel_size": 1, "stride": stride}}]
    elif kind == "parallel":
        branches = {f"b{i}": [_same_conv(draw, draw(st.integers(1, 4)))] for i in range(draw(st.integers(1, 3)))}
        if draw(st.booleans()):
            branches["pool"] = [{"max_pool2d": {"kernel_size": 3, "stride": draw(st.sampled_from([1, 2])), "padding": 1}}]
        entry = {"parallel": {"branches": branches, "merge": draw(st.sampled_from(["concat", "concat", "add"]))}}
    elif kind == "dense":
        entry = {"dense": {"units": draw(st.integers(1, 3)), "layers": ["batch_norm2d", "relu", _same_conv(draw, draw(st.integers(1, 4)))]}}
    else:
        entry = {"repeat": {"times": draw(st.integers(0, 3)), "layers": [_same_conv(draw, "${in.channels + i}"), "relu"]}}
    if draw(st.booleans()):  # a named container (a Sequential for repeat); unnamed ones are numbered
        entry[kind]["name"] = f"{kind}_{tag}"
    return channels, entry


@FIXED
@given(first=structure("first"), second=structure("second"), size=st.integers(4, 12))
def test_random_structures_match_torch_at_every_node(first, second, size):
    (channels, a), (_, b) = first, second
    text = spec_text([a, b], (channels, size, size))
    try:
        graph = archc.check("t.yaml", text=text)
    except (archc.ArchcError, archc.ArchcErrors) as exc:
        codes = {e.code for e in getattr(exc, "errors", [exc])}
        event("refused: " + ", ".join(sorted(codes)))
        assert codes <= {"merge-mismatch", "empty-repeat", "output-too-small", "kernel-too-large"}, codes
        return
    event("valid")
    assert_every_node_matches_torch(graph)


SOURCES = [p.read_text() for p in sorted(SPECS.rglob("*.yaml"))]
GARBAGE = ["\x00", "\xff", "{", "}", "[", "]", ":", "- ", "&a", "*a", "!!python/object:os.system", "\t", "'", '"', "${", "$", "%"]


def _corrupt(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        action = rng.randrange(6)
        if action == 0:
            del lines[i]
            lines = lines or [""]
        elif action == 1:  # change a number
            words = lines[i].split(" ")
            j = rng.randrange(len(words))
            words[j] = str(rng.choice([0, -1, 1, 2, 7, 10**12, -(10**9), 3.5]))
            lines[i] = " ".join(words)
        elif action == 2:  # change a name
            lines[i] = lines[i].replace(rng.choice(["conv2d", "relu", "name", "layers", "kernel_size", "out_channels",
                                                    "stride", "residual", "repeat", "times", "channels"]), rng.choice(["x", "conv3d", "", "1"]), 1)
        elif action == 3:  # swap a type
            lines[i] = lines[i].replace(":", rng.choice([": []", ": {}", ": 'text'", ": null", ": [1, 2]"]), 1)
        elif action == 4:  # garbage
            pos = rng.randrange(len(lines[i]) + 1)
            lines[i] = lines[i][:pos] + rng.choice(GARBAGE) + lines[i][pos:]
        else:  # duplicate a line (often a duplicate key)
            lines.insert(i, lines[i])
    return "\n".join(lines) + "\n"


@FIXED
@given(source=st.sampled_from(SOURCES), seed=st.integers(0, 2**32 - 1), raw=st.booleans())
def test_corrupted_specs_give_archc_errors_quickly(source, seed, raw):
    text = _corrupt(source, random.Random(seed))
    data = text.encode("utf-8", "surrogateescape")
    if raw:
        data = data[: len(data) // 2] + bytes([seed % 256]) + data[len(data) // 2:]
    start = time.perf_counter()
    try:
        archc.check("corrupt.yaml", text=data)
        event("still valid")
    except (archc.ArchcError, archc.ArchcErrors) as exc:
        event("ArchcError")
        for error in getattr(exc, "errors", [exc]):
            assert error.code in archc.errors.CODES
            error.format()
    assert time.perf_counter() - start < 2.0
