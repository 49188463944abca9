"""For the classroom (issue 12, the parts without the dataflow core): run as the lecture
runs (every layer's output, .npy out, arange inputs, an input for every worked example),
explain's padding as the lecture writes it, `kinds` for structure and the standard library,
the README's error example, and a checked graph that shows itself in notebooks."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, SPECS, check_layers, load_script, spec_text

import archc
from archc.cli import main
from archc.run import format_tensor

LECTURE = SPECS / "lecture"
# every worked example and the input it is run on (the lecture's own input where it has one)
LECTURE_INPUTS = {
    "avg_pooling": "3x3.json",
    "conv_1x1": "3x3x3.json",
    "cross_correlation": "3x3.json",
    "edge_detector": "6x8_stripe.json",
    "max_pooling": "3x3.json",
    "multi_input_channels": "2x3x3.json",
    "multi_output_channels": "2x3x3.json",
    "padding_and_stride": "8x8.json",
    "pooling_padding_stride": "4x4.json",
    "two_filters": "6x6_square.json",
}


def _run(capsys, *argv) -> str:
    assert main(["run", *map(str, argv)]) == 0
    return capsys.readouterr().out


# ---- run --all, --save, made inputs ----

def test_run_all_shows_each_of_the_three_poolings(capsys):
    out = _run(capsys, LECTURE / "pooling_padding_stride.yaml", "--input", "arange:1x4x4", "--all")
    x = torch.arange(16.0).reshape(1, 1, 4, 4)  # d2l's X; torch is the answer key
    expected = {"default_stride": F.max_pool2d(x, 3),
                "padded": F.max_pool2d(x, 3, padding=1, stride=2),
                "uneven": F.max_pool2d(x, (2, 3), padding=(0, 1), stride=(2, 3))}
    for name, y in expected.items():
        shape = "×".join(map(str, y.shape[1:]))
        assert f"{name} (max_pool2d) {shape}:\n{format_tensor(y[0])}\n" in out
    assert out.index("default_stride") < out.index("padded") < out.index("uneven") < out.index("output 1×2×2")


def test_run_without_all_shows_only_the_output(capsys):
    out = _run(capsys, LECTURE / "pooling_padding_stride.yaml", "--input", "arange:1x4x4")
    assert out.startswith("output 1×2×2:") and "default_stride" not in out


def test_run_all_names_layers_inside_blocks_by_their_path(capsys):
    out = _run(capsys, SPECS / "d2l" / "resnet18.yaml", "--input", "zeros:1x96x96", "--all")
    assert "\nb2.0.conv1 (conv2d) 64×24×24:" in out and "\nb2.0.bn2 (batch_norm2d) 64×24×24:" in out


def test_arange_input_is_the_lecture_3x3(capsys):
    made = _run(capsys, LECTURE / "cross_correlation.yaml", "--input", "arange:1x3x3")
    from_file = _run(capsys, LECTURE / "cross_correlation.yaml", "--input", LECTURE / "inputs" / "3x3.json")
    assert made == from_file == "output 1×2×2:\n[0]\n  [19 25]\n  [37 43]\n"


def test_input_file_may_ask_for_an_arange(capsys, tmp_path):
    (tmp_path / "x.yaml").write_text("input: {arange: [1, 3, 3]}\n")
    out = _run(capsys, LECTURE / "max_pooling.yaml", "--input", tmp_path / "x.yaml")
    assert out.endswith("[4 5]\n  [7 8]\n")


@pytest.mark.parametrize("text,found", [
    ("input:\n  arnge: [1, 3, 3]\n", "2:3: error[bad-input] an input mapping must name one way"),
    ("input:\n  arange: [1, 0, 3]\n", "2:11: error[bad-input] the arange input cannot be made: its sizes must be"),
    ("input:\n  ones: [4096, 4096, 4096]\n", "2:9: error[bad-input] the ones input cannot be made: it would hold"),
])
def test_a_bad_made_input_in_a_file_is_located(capsys, tmp_path, text, found):
    (tmp_path / "x.yaml").write_text(text)
    assert main(["run", str(LECTURE / "max_pooling.yaml"), "--input", str(tmp_path / "x.yaml")]) == 1
    err = capsys.readouterr().err
    assert found in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["arange:1x0x3", "arange:1xHx3", "zeros:", "ones:1x2x3x4x5x6",
                                   "arange:4096x4096x4096"])
def test_a_bad_made_input_on_the_command_line_is_a_usage_error(capsys, value):
    with pytest.raises(SystemExit) as info:
        main(["run", str(LECTURE / "max_pooling.yaml"), "--input", value])
    assert info.value.code == 2
    assert "is not an input like arange:1x3x3" in capsys.readouterr().err


def test_a_made_input_of_the_wrong_shape_is_shown_at_the_spec_input(capsys):
    assert main(["run", str(LECTURE / "max_pooling.yaml"), "--input", "ones:2x3x3"]) == 1
    err = capsys.readouterr().err
    assert "max_pooling.yaml:4:8: error[bad-input] the input ones:2x3x3's shape does not match" in err


def test_a_made_batch_too_large_for_memory_is_refused_at_the_spec_input(capsys):
    assert main(["run", str(SPECS / "d2l" / "lenet.yaml"), "--input", "zeros:500x1x28x28", "--max-memory", "0.001"]) == 1
    assert "lenet.yaml:4:8: error[bad-input] running a batch of 500 would need too much memory" in capsys.readouterr().err


def test_save_writes_the_output_as_npy(capsys, tmp_path):
    np = pytest.importorskip("numpy")
    out = _run(capsys, LECTURE / "pooling_padding_stride.yaml", "--input", "arange:1x4x4",
               "--save", tmp_path / "y.npy")
    assert f"wrote {tmp_path / 'y.npy'}" in out
    saved = np.load(tmp_path / "y.npy", allow_pickle=False)
    assert saved.shape == (1, 2, 2) and saved.tolist() == [[[5, 7], [13, 15]]]


def test_save_keeps_the_batch_a_batch_came_in(capsys, tmp_path):
    np = pytest.importorskip("numpy")
    _run(capsys, LECTURE / "max_pooling.yaml", "--input", "arange:2x1x3x3", "--save", tmp_path / "y.npy")
    assert np.load(tmp_path / "y.npy").shape == (2, 1, 2, 2)


def test_save_without_numpy_says_how_to_install_it_and_writes_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now raises ImportError
    assert main(["run", str(LECTURE / "max_pooling.yaml"), "--input", "arange:1x3x3",
                 "--save", str(tmp_path / "y.npy")]) == 1
    err = capsys.readouterr().err
    assert "error[numpy-missing]" in err and "pip install numpy" in err and "Traceback" not in err
    assert not (tmp_path / "y.npy").exists()


def test_save_into_a_directory_is_an_output_error(capsys, tmp_path):
    pytest.importorskip("numpy")
    (tmp_path / "y.npy").mkdir()
    assert main(["run", str(LECTURE / "max_pooling.yaml"), "--input", "arange:1x3x3",
                 "--save", str(tmp_path / "y.npy")]) == 1
    assert "error[output-failed]" in capsys.readouterr().err


def test_every_worked_example_has_its_input(capsys):
    assert set(LECTURE_INPUTS) == {p.stem for p in LECTURE.glob("*.yaml")}
    for spec, data in LECTURE_INPUTS.items():
        out = _run(capsys, LECTURE / f"{spec}.yaml", "--input", LECTURE / "inputs" / data)
        graph = archc.check(LECTURE / f"{spec}.yaml")
        assert out.startswith(f"output {'×'.join(map(str, graph.root.out_shape))}:"), spec


def test_run_help_shows_how_to_give_a_made_input(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "arange:1x3x3" in text and "--all" in text and "--save" in text


# ---- padding and stride as in the lecture ----

def test_padding_and_stride_gives_the_lecture_shapes(capsys):
    out = _run(capsys, LECTURE / "padding_and_stride.yaml", "--input", LECTURE / "inputs" / "8x8.json", "--all")
    # d2l 7.3 on an 8×8 input: 3×3 p1 → 8×8; (5, 3) p(2, 1) → 8×8; 3×3 p1 s2 → 4×4; (3, 5) p(0, 1) s(3, 4) → 2×2
    for name, shape in [("same_size", "1×8×8"), ("tall_kernel", "1×8×8"), ("halved", "1×4×4"), ("uneven", "1×2×2")]:
        assert f"{name} (conv2d) {shape}:" in out
    assert "output 1×2×2:" in out


def test_padding_and_stride_uneven_output_is_torchs(capsys, tmp_path):
    np = pytest.importorskip("numpy")
    _run(capsys, LECTURE / "padding_and_stride.yaml", "--input", "arange:1x8x8", "--save", tmp_path / "y.npy")
    torch.manual_seed(0)  # archc run's default seed, before the module is built
    model = archc.build(LECTURE / "padding_and_stride.yaml")
    x = torch.arange(64.0).reshape(1, 1, 8, 8)
    with torch.no_grad():
        want = F.conv2d(x, model.uneven.weight, model.uneven.bias, stride=(3, 4), padding=(0, 1))[0]
    assert torch.allclose(torch.from_numpy(np.load(tmp_path / "y.npy")), want)


# ---- explain writes padding as it is added ----

def test_explain_writes_symmetric_padding_as_two_times_p():
    text = check_layers([{"conv2d": {"out_channels": 1, "kernel_size": 3, "padding": 1}}], (1, 8, 8)).explain()
    assert "padding 1 on 8: ⌊(8 − 3 + 2·1 + 1) / 1⌋ = 8" in text


def test_explain_writes_same_padding_as_what_it_adds():
    graph = check_layers([{"conv2d": {"out_channels": 1, "kernel_size": 4, "padding": "same"}}], (1, 8, 8))
    text = graph.explain()
    assert "padding same (1 left + 2 right = 3) on 8: ⌊(8 − 4 + (1 + 2) + 1) / 1⌋ = 8" in text
    with torch.no_grad():  # torch's 'same' keeps 8 with kernel 4: it pads 3 in all
        assert torch.nn.Conv2d(1, 1, 4, padding="same")(torch.zeros(1, 1, 8, 8)).shape[-1] == 8 == graph.root.out_shape[-1]


def test_explain_writes_odd_same_padding_as_two_times_p():
    text = check_layers([{"conv2d": {"out_channels": 1, "kernel_size": 3, "padding": "same"}}], (1, 8, 8)).explain()
    assert "padding same (1) on 8: ⌊(8 − 3 + 2·1 + 1) / 1⌋ = 8" in text


# ---- kinds: structural kinds and the standard library ----

def _kinds(capsys, *argv) -> str:
    assert main(["kinds", *argv]) == 0
    return capsys.readouterr().out


def test_kinds_lists_builtins_then_structural_kinds_then_std_blocks(capsys):
    from archc.spec.load import std_blocks

    out = _kinds(capsys)
    assert out.index("conv1d / conv2d / conv3d:") < out.index("structural kinds:") < out.index("standard-library blocks")
    for kind in ("sequential", "repeat", "residual", "parallel", "dense"):
        assert f"\n{kind}: " in out
    for family, blocks in std_blocks().items():
        assert f"\n{family}\n" in out
        for block in blocks:
            assert f"\n  {block}(" in out


def test_kinds_names_one_structural_kind_with_its_arguments(capsys):
    out = _kinds(capsys, "residual")
    assert out.startswith("residual: merge(body(x), shortcut(x))")
    assert "shortcut_name" in out and "merge          add | concat | mul" in out and "conv2d" not in out


@pytest.mark.parametrize("name", ["std/resnet", "basic_block"])
def test_kinds_shows_std_blocks_with_their_parameters(capsys, name):
    out = _kinds(capsys, name)
    assert "basic_block(channels: int, stride = 1, downsample = false): torchvision's BasicBlock" in out
    assert ("bottleneck(" in out) == (name == "std/resnet")


def test_kinds_unknown_name_suggests_a_block(capsys):
    assert main(["kinds", "basicblock"]) == 1
    assert "did you mean 'basic_block'?" in capsys.readouterr().err


# ---- the README's error example ----

def test_readme_error_example_is_shipped_and_prints_what_the_readme_shows():
    tutorial = load_script("tutorial")
    shown = dict(tutorial.commands((REPO / "README.md").read_text()))
    command = "archc check examples/broken.yaml"
    assert command in shown and (REPO / "examples" / "broken.yaml").is_file()
    assert shown[command].startswith("examples/broken.yaml:7:5: error[kernel-too-large]")
    assert tutorial.run_command(command) == shown[command]


# ---- notebooks and the Python API ----

def test_print_graph_is_a_short_summary():
    graph = archc.check(SPECS / "d2l" / "lenet.yaml")
    text = str(graph)
    assert len(text.splitlines()) <= 4 and len(text) < 400
    assert "lenet" in text and "1×28×28 → output 10" in text and "61,706 parameters" in text and "416,520 MACs" in text
    assert repr(graph) == "<archc.Graph lenet: 1×28×28 → 10, 61,706 parameters, 416,520 MACs>"


def test_graph_summary_and_explain_are_the_commands_text(capsys):
    graph = archc.check(SPECS / "d2l" / "alexnet.yaml")
    assert main(["summary", str(SPECS / "d2l" / "alexnet.yaml")]) == 0
    assert graph.summary() + "\n" == capsys.readouterr().out
    assert main(["explain", str(SPECS / "d2l" / "alexnet.yaml"), "features.0"]) == 0
    assert graph.explain("features.0") + "\n" == capsys.readouterr().out


def test_html_display_escapes_what_the_spec_wrote():
    text = spec_text([{"conv2d": {"out_channels": 4, "kernel_size": 3}}], (1, 8, 8),
                     description="<script>alert('x')</script> & more")
    page = archc.check("t.yaml", text=text)._repr_html_()
    assert "<table>" in page and "<td>4×6×6</td>" in page
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in page


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_notebook_display_includes_the_diagram_as_inline_svg():
    graph = archc.check(SPECS / "d2l" / "lenet.yaml")
    svg = graph._repr_svg_()
    assert svg.startswith("<svg") and "<?xml" not in svg
    assert "<svg" in graph._repr_html_()


def test_notebook_display_without_graphviz_shows_the_table_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # as on a machine without graphviz
    graph = archc.check(SPECS / "d2l" / "lenet.yaml")
    assert graph._repr_svg_() is None
    page = graph._repr_html_()
    assert "<table>" in page and "<svg" not in page


def test_graph_display_needs_no_torch():
    code = ("import sys, archc; g = archc.check('specs/d2l/resnet18.yaml'); "
            "str(g); repr(g); g.summary(); g.explain('b2'); g._repr_html_(); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
