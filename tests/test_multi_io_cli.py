"""The commands on networks with several named inputs and several outputs (the tiny U-Net:
one input `image`, three dict outputs; a two-input network with a tuple of outputs)."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import archc
from archc.cli import main
from archc.export import export_spec
from archc.pipeline import check

UNET = str(Path(__file__).parent / "specs_multi_io" / "tiny_unet.yaml")
TWO = """archc: 1
name: two_inputs
inputs: {rgb: [3, 8, 8], depth: [1, 8, 8]}
layers:
  - conv2d: {out_channels: 4, kernel_size: 1, from: rgb, name: a}
  - conv2d: {out_channels: 4, kernel_size: 1, from: depth, name: b}
  - add: {from: [a, b], name: fused}
  - concat: {from: [a, b], name: both}
  - split: {sizes: [3, 5], from: both, name: parts}
outputs: [fused, parts.1]
"""


@pytest.fixture
def two(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(TWO)
    return str(path)


def test_build_verifies_every_output_and_the_generated_file_prints_each(tmp_path, capsys):
    assert main(["build", UNET, "-o", str(tmp_path), "--no-diagram"]) == 0
    ran = subprocess.run([sys.executable, str(tmp_path / "tiny_unet.py")], capture_output=True, text=True,
                         cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ""})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split("\n")[:3] == ["out (1, 2, 16, 16)", "resized (1, 2, 16, 16)", "gated (1, 1, 16, 16)"]


def test_generated_file_feeds_one_zeros_tensor_per_input(tmp_path, two):
    assert main(["build", two, "-o", str(tmp_path), "--no-diagram"]) == 0
    ran = subprocess.run([sys.executable, str(tmp_path / "two_inputs.py")], capture_output=True, text=True,
                         cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ""})
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split("\n")[:2] == ["0 (1, 4, 8, 8)", "1 (1, 5, 8, 8)"]


def test_check_and_summary_list_inputs_by_name_and_outputs_by_key(capsys, two):
    assert main(["check", UNET]) == 0
    text = capsys.readouterr().out
    assert "input image 3×16×16" in text.splitlines()[0]
    assert text.splitlines()[-1].endswith("outputs out 2×16×16, resized 2×16×16, gated 1×16×16")
    assert main(["summary", two]) == 0
    assert "inputs rgb 3×8×8, depth 1×8×8 → outputs [0] 4×8×8, [1] 5×8×8" in capsys.readouterr().out


def test_run_prints_every_output_and_saves_them_as_npz(tmp_path, capsys):
    import numpy as np

    save = tmp_path / "y.npz"
    assert main(["run", UNET, "--input", "arange:3x16x16", "--save", str(save)]) == 0
    text = capsys.readouterr().out
    for key, shape in (("out", "2×16×16"), ("resized", "2×16×16"), ("gated", "1×16×16")):
        assert f"output {key} {shape}:" in text
    torch.manual_seed(0)
    model = archc.build(check(UNET)).eval()
    with torch.no_grad():
        want = model(torch.arange(768.0).reshape(1, 3, 16, 16))
    saved = np.load(save)
    assert list(saved) == ["out", "resized", "gated"]
    for key in want:
        torch.testing.assert_close(torch.from_numpy(saved[key]), want[key][0])


def test_run_refuses_npy_for_several_outputs_and_writes_nothing(tmp_path, capsys):
    assert main(["run", UNET, "--input", "image=zeros:3x16x16", "--save", str(tmp_path / "y.npy")]) == 1
    assert ".npz" in capsys.readouterr().err and not (tmp_path / "y.npy").exists()


def test_run_takes_named_inputs_and_refuses_a_bare_one(capsys, two):
    assert main(["run", two, "--input", "rgb=zeros:2x3x8x8", "--input", "depth=ones:2x1x8x8"]) == 0
    assert "outputs (batch of 2) [1] 2×5×8×8:" in capsys.readouterr().out
    assert main(["run", two, "--input", "zeros:3x8x8"]) == 1
    assert "name each one" in capsys.readouterr().err
    assert main(["run", two, "--input", "rgb=zeros:3x8x8", "--input", "dept=zeros:1x8x8"]) == 1
    assert "did you mean 'depth'" in capsys.readouterr().err


def test_explain_says_what_merges_chunks_and_size_of_do(capsys):
    assert main(["explain", UNET]) == 0
    text = capsys.readouterr().out
    assert "concat along dim 1: 4 (upsample) + 4 (skip) = 8" in text
    assert "takes the spatial size of 'image' (16×16), whatever the input's (8×8)" in text
    assert "chunk along dim 1: 2 / 2 = 1 each → 2 pieces of 1×16×16" in text
    assert "halves.0 1×16×16, halves.1 1×16×16" in text
    assert "elementwise, shape unchanged" not in "\n".join(l for l in text.splitlines() if "chunk" in l or "concat" in l)


def _unet_and_input():
    torch.manual_seed(0)
    model = archc.build(check(UNET)).eval()
    return model, torch.randn(3, 3, 16, 16)


def test_onnx_names_inputs_and_outputs_and_matches_the_module():
    onnxruntime = pytest.importorskip("onnxruntime")
    model, x = _unet_and_input()
    weights = io.BytesIO()
    torch.save(model.state_dict(), weights)
    path = Path(__file__).parent / "_multi_io_weights.pt"
    path.write_bytes(weights.getvalue())
    try:
        data = export_spec(UNET, "onnx", weights=str(path)).data
    finally:
        path.unlink()
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["out", "resized", "gated"]
    got = session.run(None, {"image": x.numpy()})  # batch 3: the batch is dynamic
    with torch.no_grad():
        want = model(x)
    for value, key in zip(got, want):
        torch.testing.assert_close(torch.from_numpy(value), want[key], rtol=1e-4, atol=1e-5)


def test_pt2_of_two_inputs_matches_the_module(tmp_path, two):
    torch.manual_seed(0)
    model = archc.build(check(two)).eval()
    weights = tmp_path / "w.pt"
    torch.save(model.state_dict(), weights)
    program = torch.export.load(io.BytesIO(export_spec(two, "pt2", weights=str(weights)).data))
    rgb, depth = torch.randn(5, 3, 8, 8), torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        got, want = program.module()(rgb, depth), model(rgb, depth)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)


def test_torchscript_of_a_flow_is_traced_and_matches_the_module():
    model, x = _unet_and_input()
    exported = export_spec(UNET, "torchscript")
    assert any("traced" in note for note in exported.notes)
    loaded = torch.jit.load(io.BytesIO(exported.data))
    loaded.load_state_dict(model.state_dict())
    with torch.no_grad():
        got, want = loaded(x), model(x)
    for key in want:
        torch.testing.assert_close(got[key], want[key])
