"""Symbolic sizes: exact formulas in H and W, and constraints that are exactly the sizes that work."""
from __future__ import annotations

import json
import random

import pytest
import torch
from conftest import SPECS, check_layers

import archc
from archc.cli import main
from archc.symbolic import SymSize, evaluate

# specs whose every layer can stay symbolic (they pool globally before flattening)
SIZE_FREE = ["d2l/nin", "d2l/googlenet", "d2l/resnet18", "d2l/densenet", "torchvision/resnet18",
             "torchvision/googlenet", "torchvision/densenet121", "torchvision/alexnet", "torchvision/vgg16"]


def _symbolic(name: str) -> archc.Graph:
    channels = archc.check(SPECS / f"{name}.yaml").input_shape[0]
    return archc.check(SPECS / f"{name}.yaml", input_shape=(channels, "H", "W"))


def _concrete(name: str, channels: int, h: int, w: int):
    try:
        return archc.check(SPECS / f"{name}.yaml", input_shape=(channels, h, w))
    except (archc.ArchcError, archc.ArchcErrors):
        return None


@pytest.mark.parametrize("name", SIZE_FREE)
def test_constraints_are_exactly_the_sizes_that_work_and_formulas_are_exact(name):
    graph = _symbolic(name)
    channels = graph.input_shape[0]
    rng = random.Random(name)
    sizes = [(h, w) for h in range(1, 80, 3) for w in (h, rng.randint(1, 120))] + [(rng.randint(1, 400),) * 2 for _ in range(20)]
    works = 0
    for h, w in sizes:
        env = {"H": h, "W": w}
        concrete = _concrete(name, channels, h, w)
        assert graph.constraints.holds(env) == (concrete is not None), (h, w)
        if concrete is None:
            continue
        works += 1
        for sym_node, node in zip(graph.nodes(), concrete.nodes()):
            assert tuple(evaluate(s, env) for s in sym_node.out_shape) == node.out_shape, (node.path, h, w)
    assert works > 5


def test_formulas_equal_what_torch_produces():
    graph = _symbolic("d2l/resnet18")
    for h, w in [(33, 47), (96, 96), (64, 101)]:
        model = archc.build(archc.check(SPECS / "d2l" / "resnet18.yaml", input_shape=(1, h, w))).eval()
        seen = {}
        for path, module in model.named_modules():
            module.register_forward_hook(lambda m, i, o, path=path: seen.__setitem__(path, tuple(o.shape[1:])))
        with torch.no_grad():
            model(torch.zeros(1, 1, h, w))
        for node in graph.nodes():
            assert tuple(evaluate(s, {"H": h, "W": w}) for s in node.out_shape) == seen[node.path]


def test_formula_keeps_floor_semantics():
    graph = check_layers([{"conv2d": {"out_channels": 96, "kernel_size": 11, "stride": 4, "padding": 1}},
                          {"max_pool2d": {"kernel_size": 3, "stride": 2}}], (1, "H", "H"))
    assert [str(s) for s in graph.root.items[0].out_shape[1:]] == ["⌊(H − 5)/4⌋"] * 2
    assert str(graph.root.items[1].out_shape[1]) == "⌊(H − 9)/8⌋"
    assert graph.constraints.describe(["H"]) == ["H ≥ 17"]


def test_branches_that_must_agree_constrain_the_size():
    graph = check_layers([{"parallel": {"branches": {
        "a": [{"max_pool2d": {"kernel_size": 3, "stride": 2, "padding": 1}}],
        "b": [{"max_pool2d": {"kernel_size": 2, "stride": 2}}]}}}], (4, "H", "W"))
    assert graph.constraints.describe(["H", "W"]) == ["H ≥ 2 and H mod 2 ∈ {0}", "W ≥ 2 and W mod 2 ∈ {0}"]
    for h in range(1, 40):
        works = True
        try:
            check_layers([{"parallel": {"branches": {
                "a": [{"max_pool2d": {"kernel_size": 3, "stride": 2, "padding": 1}}],
                "b": [{"max_pool2d": {"kernel_size": 2, "stride": 2}}]}}}], (4, h, 8))
        except archc.ArchcError:
            works = False
        assert works == graph.constraints.holds({"H": h, "W": 8})


def test_flatten_of_a_symbolic_size_says_it_needs_a_concrete_size():
    with pytest.raises(archc.ArchcError) as info:
        archc.check(SPECS / "d2l" / "lenet.yaml", input_shape=(1, "H", "W"))
    err = info.value
    assert err.code == "needs-concrete-size" and err.path == "layer 6 (flatten)"
    assert "16 × ⌊(H − 8)/4⌋ × ⌊(W − 8)/4⌋" in err.found  # 28 → 28 → 14 → 10 → 5


def test_cli_check_prints_formulas_and_constraints_and_input_binds(tmp_path, capsys):
    spec = tmp_path / "net.yaml"
    spec.write_text("archc: 1\nname: net\ninput: [3, H, W]\nimports: [std]\nlayers:\n"
                    "  - conv2d: {out_channels: 8, kernel_size: 7, stride: 2, padding: 3}\n"
                    "  - residual_block: {channels: 16, use_1x1conv: true, stride: 2}\n"
                    "  - adaptive_avg_pool2d: {output_size: 1}\n  - flatten\n  - linear: {out_features: 10}\n")
    assert main(["check", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "⌊(H + 3)/4⌋" in out and "valid input sizes: H ≥ 1; W ≥ 1" in out
    assert main(["check", str(spec), "--input", "3x96x96"]) == 0
    assert "16×24×24" in capsys.readouterr().out
    assert main(["build", str(spec), "-o", str(tmp_path / "out"), "--input", "3x64x64"]) == 0
    capsys.readouterr()


def test_build_of_a_symbolic_spec_builds_at_example_sizes_a_module_for_every_size(tmp_path, capsys):
    # check accepts the spec for every H, W ≥ 1, so build must not refuse it (issue 9's rule)
    spec = tmp_path / "net.yaml"
    spec.write_text("archc: 1\nname: net\ninput: [3, H, W]\nlayers:\n"
                    "  - conv2d: {out_channels: 8, kernel_size: 3, stride: 2}\n  - relu\n"
                    "  - adaptive_avg_pool2d: {output_size: 1}\n  - flatten\n  - linear: {out_features: 10}\n")
    assert main(["build", str(spec), "-o", str(tmp_path / "out"), "--no-diagram"]) == 0
    out, err = capsys.readouterr()
    assert "note: the input 3×H×W has symbolic sizes: built and verified at 3×64×64" in err
    assert "(H ≥ 3; W ≥ 3)" in err
    assert "8×⌊(H − 1)/2⌋×⌊(W − 1)/2⌋" in out  # the table is the spec's, formulas and all
    report = json.loads((tmp_path / "out" / "net.json").read_text())
    assert report["input"] == [3, "H", "W"]
    source = (tmp_path / "out" / "net.py").read_text()
    assert "It takes every input size with H ≥ 3; W ≥ 3" in source and "Input (N, 3, H, W)" in source
    namespace: dict = {}
    exec(compile(source, "net.py", "exec"), namespace)
    built, from_api = namespace["build"](), archc.build(str(spec))
    built.load_state_dict(from_api.state_dict())
    for size in ((3, 3), (17, 40), (96, 96)):
        x = torch.randn(2, 3, *size)
        assert torch.equal(built(x), from_api(x)) and built(x).shape == (2, 10)


def test_explain_summary_and_render_work_on_symbolic_sizes(capsys):
    spec = str(SPECS / "d2l" / "resnet18.yaml")
    assert main(["explain", spec, "--input", "1xHxW", "b3.0"]) == 0
    assert "⌊(⌊(H + 3)/4⌋ − 3 + 2·1 + 2) / 2⌋ = ⌊(H + 7)/8⌋" in capsys.readouterr().out
    assert main(["summary", spec, "--input", "1xHxW", "--depth", "0"]) == 0
    out = capsys.readouterr().out
    assert "MACs per sample: depend on the input size" in out and "activation memory per sample: depends" in out
    assert main(["render", spec, "--input", "1xHxW", "--format", "mermaid", "-o", "-"]) == 0
    assert "⌊(H + 31)/32⌋" in capsys.readouterr().out


def test_run_binds_named_sizes_from_the_input_file(tmp_path, capsys):
    spec = tmp_path / "pool.yaml"
    spec.write_text("archc: 1\nname: pool\ninput: [1, H, W]\nlayers:\n  - max_pool2d: {kernel_size: 2, stride: 1}\n")
    data = tmp_path / "x.json"
    data.write_text("[[[0, 1, 2], [3, 4, 5], [6, 7, 8]]]")
    assert main(["run", str(spec), "--input", str(data)]) == 0
    assert capsys.readouterr().out.endswith("[4 5]\n  [7 8]\n")


def test_symbolic_size_arithmetic_is_exact():
    size = SymSize("H")
    for h in range(1, 200):
        assert ((size + 3) // 4 - 2 + 1).evaluate({"H": h}) == (h + 3) // 4 - 2 + 1
        assert ((size - 7) // 2 // 3).evaluate({"H": h}) == ((h - 7) // 2) // 3


# Dense-prediction kinds on symbolic sizes: (id, layers). Each stays symbolic, and its
# formulas and constraints must agree with concrete inference (and so with torch, which
# tests/test_kinds.py compares concrete inference with) at every size.
SYMBOLIC_DENSE = [
    ("conv_transpose-stride-1", [{"conv_transpose2d": {"out_channels": 4, "kernel_size": 3, "padding": 2, "dilation": [1, 2]}}]),
    ("conv_transpose-after-a-pool", [{"max_pool2d": {"kernel_size": 2}},
                                     {"conv_transpose2d": {"out_channels": 4, "kernel_size": 4, "padding": 1}}]),
    ("interpolate-size", [{"interpolate": {"size": [5, 7], "mode": "bilinear"}}]),
    ("interpolate-half", [{"interpolate": {"scale_factor": 0.5}}]),
    ("interpolate-quarter-after-a-conv", [{"conv2d": {"out_channels": 4, "kernel_size": 3, "stride": 2}},
                                          {"interpolate": {"scale_factor": [0.25, 1]}}]),
    ("pixel_unshuffle", [{"pixel_unshuffle": {"downscale_factor": 2}}]),
    ("pixel_unshuffle-after-a-strided-conv", [{"conv2d": {"out_channels": 4, "kernel_size": 3, "stride": 2}},
                                              {"pixel_unshuffle": {"downscale_factor": 3}}]),
]


@pytest.mark.parametrize("layers", [r[1] for r in SYMBOLIC_DENSE], ids=[r[0] for r in SYMBOLIC_DENSE])
def test_dense_prediction_kinds_stay_symbolic_and_exact(layers):
    graph = check_layers(layers, (4, "H", "W"))
    works = 0
    for h in range(1, 40):
        for w in (h, 2 * h + 5):
            env = {"H": h, "W": w}
            try:
                concrete = check_layers(layers, (4, h, w))
            except archc.ArchcError:
                concrete = None
            assert graph.constraints.holds(env) == (concrete is not None), (h, w)
            if concrete is not None:
                works += 1
                for sym_node, node in zip(graph.nodes(), concrete.nodes()):
                    assert tuple(evaluate(s, env) for s in sym_node.out_shape) == node.out_shape, (node.path, h, w)
    assert works > 5


def test_pixel_unshuffle_constrains_sizes_to_multiples():
    graph = check_layers([{"pixel_unshuffle": {"downscale_factor": 2}}], (4, "H", "W"))
    assert graph.constraints.describe(["H", "W"]) == ["H ≥ 2 and H mod 2 ∈ {0}", "W ≥ 2 and W mod 2 ∈ {0}"]
    assert [str(s) for s in graph.root.items[0].out_shape] == ["16", "⌊(H)/2⌋", "⌊(W)/2⌋"]


@pytest.mark.parametrize("layer", [
    {"conv_transpose2d": {"out_channels": 4, "kernel_size": 2, "stride": 2}},
    {"interpolate": {"scale_factor": 2}},
    {"interpolate": {"scale_factor": 0.75}},  # ⌊0.75·n⌋ is no single floor formula
    {"interpolate": {"scale_factor": 1 / 3}},  # not exact in binary: ⌊n · fl(1/3)⌋ need not be ⌊n/3⌋
    {"pixel_shuffle": {"upscale_factor": 2}},
], ids=["conv_transpose-strided", "interpolate-x2", "interpolate-x0.75", "interpolate-x1/3", "pixel_shuffle"])
def test_upsampling_a_symbolic_size_says_it_needs_a_concrete_size(layer):
    with pytest.raises(archc.ArchcError) as info:
        check_layers([layer], (4, "H", "W"))
    assert info.value.code == "needs-concrete-size"
    assert info.value.loc is not None and "H" in info.value.found
