"""init: in specs, and archc run on the lecture's worked examples."""
from __future__ import annotations

import json

import pytest
import torch
from conftest import SPECS, check_layers, spec_text

import archc
from archc.cli import main

LECTURE = SPECS / "lecture"


def _run(capsys, spec: str, data: str) -> str:
    assert main(["run", str(LECTURE / f"{spec}.yaml"), "--input", str(LECTURE / "inputs" / f"{data}.json")]) == 0
    return capsys.readouterr().out


def test_cross_correlation_gives_the_lecture_numbers(capsys):
    assert _run(capsys, "cross_correlation", "3x3") == "output 1×2×2:\n[0]\n  [19 25]\n  [37 43]\n"


def test_edge_detector_marks_both_edges(capsys):
    out = _run(capsys, "edge_detector", "6x8_stripe")
    assert out.count("[ 0  1  0  0  0 -1  0]") == 6


def test_max_pooling_takes_the_largest_in_each_window(capsys):
    assert _run(capsys, "max_pooling", "3x3").endswith("[4 5]\n  [7 8]\n")


def test_multi_input_channels_are_summed(capsys):
    assert _run(capsys, "multi_input_channels", "2x3x3").endswith("[ 56  72]\n  [104 120]\n")


def test_two_filters_give_two_feature_maps(capsys):
    out = _run(capsys, "two_filters", "6x6_square")
    assert out.startswith("output 2×6×6:") and "[-3 -3  0  0  3  3]" in out and "[ 1  2  3  3  2  1]" in out


def test_run_accepts_a_batch_and_yaml_and_npy(tmp_path, capsys):
    import numpy as np

    batch = tmp_path / "batch.yaml"
    batch.write_text("input:\n  - [[[0, 1, 2], [3, 4, 5], [6, 7, 8]]]\n  - [[[0, 0, 0], [0, 0, 0], [0, 0, 1]]]\n")
    assert main(["run", str(LECTURE / "cross_correlation.yaml"), "--input", str(batch)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("outputs (batch of 2) 2×1×2×2:") and "[0 0]\n    [0 3]" in out
    npy = tmp_path / "x.npy"
    np.save(npy, np.arange(9, dtype=np.float32).reshape(1, 3, 3))
    assert main(["run", str(LECTURE / "cross_correlation.yaml"), "--input", str(npy)]) == 0
    assert "[37 43]" in capsys.readouterr().out


def test_run_refuses_an_input_of_the_wrong_shape(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([[1, 2], [3, 4]]))
    assert main(["run", str(LECTURE / "cross_correlation.yaml"), "--input", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "error[bad-input]" in err and "expected 1×3×3 (one sample) or N×1×3×3; found 2×2" in err


def test_run_refuses_an_input_made_for_another_spec(capsys):
    args = ["run", str(SPECS / "d2l" / "lenet.yaml"), "--input", str(LECTURE / "inputs" / "3x3.json")]
    # lenet wants 1×28×28: a clear error, not a crash
    assert main(args) == 1
    assert "error[bad-input]" in capsys.readouterr().err


def test_run_with_random_parameters_repeats_for_a_seed_and_differs_across_seeds(tmp_path, capsys):
    data = tmp_path / "x.json"
    data.write_text(json.dumps([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]] * 3))  # 3×3×3
    spec = str(LECTURE / "conv_1x1.yaml")  # no init: its weights are random
    outputs = []
    for seed in ("0", "0", "1"):
        assert main(["run", spec, "--input", str(data), "--seed", seed]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0].startswith("output 2×3×3:")
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2]


@pytest.mark.parametrize("init,check", [
    ("zeros", lambda w: bool((w == 0).all())),
    ({"constant": {"val": 0.25}}, lambda w: bool((w == 0.25).all())),
    (0.5, lambda w: bool((w == 0.5).all())),
    ({"normal": {"mean": 3.0, "std": 0.01}}, lambda w: abs(w.mean().item() - 3.0) < 0.01),
    ({"uniform": {"a": 2.0, "b": 3.0}}, lambda w: bool(((w >= 2) & (w <= 3)).all())),
    ({"kaiming_normal": {"mode": "fan_out", "nonlinearity": "relu"}}, lambda w: w.std().item() > 0),
    ("xavier_uniform", lambda w: w.abs().max().item() <= (6 / (8 * 9 + 16 * 9)) ** 0.5 + 1e-6),
    ("orthogonal", lambda w: w.std().item() > 0),
])
def test_init_functions_apply(init, check):
    graph = check_layers([{"conv2d": {"out_channels": 16, "kernel_size": 3, "init": init}}], (8, 10, 10))
    assert check(archc.build(graph)[0].weight.detach())


def test_init_per_parameter_and_from_defaults():
    graph = check_layers([{"conv2d": {"out_channels": 4, "kernel_size": 1}}, "flatten", {"linear": {"out_features": 2}}],
                         (3, 1, 1), defaults={"conv2d": {"init": {"weight": "ones", "bias": {"constant": {"val": 2.0}}}}})
    model = archc.build(graph)
    assert bool((model[0].weight == 1).all()) and bool((model[0].bias == 2).all())


def test_random_init_draws_in_the_same_order_in_module_and_source():
    graph = check_layers([{"conv2d": {"out_channels": 4, "kernel_size": 3, "init": "kaiming_normal"}}, "relu",
                          {"conv2d": {"out_channels": 4, "kernel_size": 3, "init": {"weight": {"normal": {"std": 0.1}}}}}], (3, 9, 9))
    torch.manual_seed(7)
    ours = archc.build(graph)
    namespace: dict = {}
    exec(compile(archc.source(graph), "gen.py", "exec"), namespace)  # noqa: S102 - our own output
    torch.manual_seed(7)
    theirs = namespace["build"]()
    for (k, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert torch.equal(a, b), k


@pytest.mark.parametrize("init,code,fragment", [
    ({"weight": [[[[1, 2, 3]]]]}, "bad-init", "expected 1×1×2×2"),
    ({"wieght": "zeros"}, "bad-init", "has no parameter 'wieght'"),
    ("kaiming_norml", "bad-init", "unknown init function 'kaiming_norml'"),
    ({"normal": {"sd": 1}}, "bad-init", "'normal' takes no argument 'sd'"),
    ({"weight": [[1, 2], [3]]}, "bad-init", "same shape"),
    ({"bias": "kaiming_normal"}, "bad-init", "at least 2 dims"),
])
def test_bad_init_is_a_located_error(init, code, fragment):
    text = spec_text([{"conv2d": {"out_channels": 1, "kernel_size": 2, "init": init}}], (1, 3, 3))
    with pytest.raises(archc.ArchcError) as info:
        archc.check("t.yaml", text=text)
    assert info.value.code == code and fragment in info.value.format()
    init_line = next(i for i, line in enumerate(text.splitlines(), 1) if "init:" in line)
    assert info.value.loc.line >= init_line  # at the init value (or inside it), not elsewhere
