"""archc export: each format, loaded back by its own runtime, computes what the built module
computes, at several batch sizes (and, for a symbolic spec, several spatial sizes)."""
from __future__ import annotations

import functools
import io
import sys
from pathlib import Path

import pytest
import torch
from conftest import SPECS

import archc
from archc.cli import main
from archc.export import export, export_spec, plan_dims

D2L_RESNET = SPECS / "d2l" / "resnet18.yaml"  # input 1×96×96
TV_RESNET = SPECS / "torchvision" / "resnet18.yaml"
SMALL = (3, 64, 64)  # torchvision's ResNet-18 at a size that keeps the test fast


def _input(batch: int, shape: tuple) -> torch.Tensor:
    return torch.randn((batch, *shape), generator=torch.Generator().manual_seed(batch))


@functools.lru_cache(maxsize=None)
def _exported(spec, fmt: str, input_shape=None):
    """(the module exported, its artefact's bytes); one export per spec and format per session."""
    graph = archc.check(spec, input_shape=input_shape)
    plan = plan_dims(graph)
    concrete = archc.check(spec, input_shape=plan.example_shape) if graph.symbolic else graph
    torch.manual_seed(0)
    model = archc.build(concrete).eval()
    return model, export(concrete, fmt, model, plan)


def _expected(model, x):
    with torch.no_grad():
        return model(x)


def _onnx_run(data: bytes, x: torch.Tensor):
    import onnxruntime

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert [o.name for o in session.get_outputs()] == ["output"]
    return torch.from_numpy(session.run(["output"], {"input": x.numpy()})[0])


CLASSIFIERS = [(D2L_RESNET, None, (1, 96, 96)), (TV_RESNET, SMALL, SMALL)]
IDS = ["d2l-resnet18", "torchvision-resnet18"]


@pytest.mark.parametrize("spec, input_shape, sample", CLASSIFIERS, ids=IDS)
@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_through_onnxruntime_equals_the_module(spec, input_shape, sample, batch):
    model, exported = _exported(spec, "onnx", input_shape)
    x = _input(batch, sample)
    torch.testing.assert_close(_onnx_run(exported.data, x), _expected(model, x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("spec, input_shape, sample", CLASSIFIERS, ids=IDS)
def test_pt2_through_torch_export_load_equals_the_module(spec, input_shape, sample):
    model, exported = _exported(spec, "pt2", input_shape)
    program = torch.export.load(io.BytesIO(exported.data)).module()
    for batch in (1, 3):
        x = _input(batch, sample)
        torch.testing.assert_close(program(x), _expected(model, x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("spec, input_shape, sample", CLASSIFIERS, ids=IDS)
def test_torchscript_through_jit_load_equals_the_module(spec, input_shape, sample):
    model, exported = _exported(spec, "torchscript", input_shape)
    loaded = torch.jit.load(io.BytesIO(exported.data))
    for batch in (1, 3):
        x = _input(batch, sample)
        torch.testing.assert_close(loaded(x), _expected(model, x), atol=1e-4, rtol=1e-4)


def test_symbolic_spec_exports_dynamic_spatial_dims_to_onnx():
    model, exported = _exported(D2L_RESNET, "onnx", (1, "H", "W"))
    import onnx

    dims = onnx.load_from_string(exported.data).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 1, "H", "W"]
    for shape in [(1, 40, 72), (1, 96, 96)]:  # neither is the size it was traced at (64×64)
        x = _input(2, shape)
        torch.testing.assert_close(_onnx_run(exported.data, x), _expected(model, x), atol=1e-4, rtol=1e-4)


def test_symbolic_spec_exports_dynamic_spatial_dims_to_pt2():
    model, exported = _exported(D2L_RESNET, "pt2", (1, "H", "W"))
    program = torch.export.load(io.BytesIO(exported.data))
    traced = [n for n in program.graph.nodes if n.op == "placeholder"][-1].meta["val"].shape
    assert all(not isinstance(d, int) for d in (traced[0], traced[2], traced[3]))  # batch, H and W symbolic
    x = _input(3, (1, 40, 72))
    torch.testing.assert_close(program.module()(x), _expected(model, x), atol=1e-4, rtol=1e-4)


def test_concrete_spec_keeps_spatial_dims_static():
    plan = plan_dims(archc.check(D2L_RESNET))
    assert plan.dynamic == {0: "batch"} and plan.example_shape == (1, 96, 96)


def test_spatial_sizes_that_must_agree_modulo_a_stride_stay_static_with_a_note():
    # ⌊H/2⌋ (pool of 2) and ⌊(H + 1)/2⌋ (pool of 3, padded) agree only for even sizes
    text = ("archc: 1\nname: t\ninput: [4, H, W]\nlayers:\n"
            "  - parallel:\n      merge: add\n      branches:\n"
            "        a: [max_pool2d: {kernel_size: 2, stride: 2}]\n"
            "        b: [max_pool2d: {kernel_size: 3, stride: 2, padding: 1}]\n")
    graph = archc.check("t.yaml", text=text)
    plan = plan_dims(graph)
    assert plan.dynamic == {0: "batch"}
    assert plan.example_shape[1] % 2 == 0 and "static" in plan.notes[0]


def test_weights_are_exported(tmp_path):
    lenet = SPECS / "d2l" / "lenet.yaml"
    torch.manual_seed(5)
    trained = archc.build(lenet).eval()
    torch.save(trained.state_dict(), tmp_path / "w.pt")
    exported = export_spec(lenet, "torchscript", weights=tmp_path / "w.pt")
    x = _input(2, (1, 28, 28))
    torch.testing.assert_close(torch.jit.load(io.BytesIO(exported.data))(x), _expected(trained, x))


def test_cli_writes_the_artefact_and_notes(tmp_path, capsys):
    out = tmp_path / "lenet.pt"
    assert main(["export", str(SPECS / "d2l" / "lenet.yaml"), "--format", "torchscript", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"wrote {out} (torchscript)\n"
    assert torch.jit.load(str(out))(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_cli_refuses_an_unknown_format_as_usage(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["export", str(D2L_RESNET), "--format", "tflite", "-o", "x"])
    assert caught.value.code == 2 and "invalid choice: 'tflite'" in capsys.readouterr().err


def test_missing_onnx_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    out = tmp_path / "lenet.onnx"
    assert main(["export", str(SPECS / "d2l" / "lenet.yaml"), "--format", "onnx", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error[missing-package]" in err and "pip install 'archc[export]'" in err and "Traceback" not in err
    assert not out.exists()


def test_bad_weights_write_nothing(tmp_path, capsys):
    (tmp_path / "w.pt").write_bytes(b"not weights")
    out = tmp_path / "lenet.onnx"
    assert main(["export", str(SPECS / "d2l" / "lenet.yaml"), "--format", "onnx", "-o", str(out),
                 "--weights", str(tmp_path / "w.pt")]) == 1
    assert "error[bad-weights]" in capsys.readouterr().err and not out.exists()


# -- several outputs: a segmentation network and a detector, through onnxruntime ------------------
# a segmentation network (the tiny U-Net: a two-input decoder block, a resize to the input's size,
# three named outputs) and a detector (YOLOv8n: six named outputs, the decoded boxes included),
# small inputs: the formats are what is tested (tests/test_specs.py checks the networks themselves)
DENSE = [(Path(__file__).parent / "specs_multi_io" / "tiny_unet.yaml", (3, 16, 16), ["out", "resized", "gated"]),
         (SPECS / "detection" / "yolov8n.yaml", (3, 64, 64), ["decoded", "boxes", "scores", "p3", "p4", "p5"])]


@pytest.mark.parametrize("spec, input_shape, outputs", DENSE, ids=["unet", "yolov8n"])
def test_dense_networks_export_every_named_output_to_onnx(spec, input_shape, outputs):
    """Each output comes out of ONNX Runtime under its key, equal to the module's, at a batch
    other than the one traced (the batch is dynamic)."""
    import onnxruntime

    model, exported = _exported(spec, "onnx", input_shape)
    session = onnxruntime.InferenceSession(exported.data, providers=["CPUExecutionProvider"])
    (name,) = archc.check(spec, input_shape=input_shape).input_shapes  # the spec's own input name
    assert [i.name for i in session.get_inputs()] == [name]
    assert [o.name for o in session.get_outputs()] == outputs
    x = _input(3, input_shape)
    got = dict(zip(outputs, session.run(None, {name: x.numpy()})))
    want = _expected(model, x)
    for key in outputs:
        torch.testing.assert_close(torch.from_numpy(got[key]), want[key], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("fmt", ["pt2", "torchscript"])
@pytest.mark.parametrize("spec, input_shape, outputs", DENSE, ids=["unet", "yolov8n"])
def test_dense_networks_round_trip_through_torch_export_and_torchscript(spec, input_shape, outputs, fmt):
    """The torch.export program and the TorchScript module (traced: a dataflow network is not
    scriptable) return every named output, equal to the module's, at batch 1 and 3."""
    model, exported = _exported(spec, fmt, input_shape)
    loaded = torch.export.load(io.BytesIO(exported.data)).module() if fmt == "pt2" \
        else torch.jit.load(io.BytesIO(exported.data))
    for batch in (1, 3):
        x = _input(batch, input_shape)
        with torch.no_grad():
            got, want = loaded(x), _expected(model, x)
        assert list(got) == outputs
        for key in outputs:
            torch.testing.assert_close(got[key], want[key], atol=1e-4, rtol=1e-4)
