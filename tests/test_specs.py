"""The example specs against the reference facts, torch, and hand-written PyTorch."""
from __future__ import annotations

import pytest
import torch
from conftest import SPECS, assert_every_node_matches_torch, built, checked, reference
from fingerprint import fingerprint_differences, probe_fingerprint
from lecture_nets import NETWORKS

import archc
from archc.graph import Layer
from archc.layers import KINDS

SEED = reference("seed_models.json")
TORCHVISION = reference("torchvision_models.json")
DENSE = reference("dense_models.json")
ALL_SPECS = sorted(SPECS.rglob("*.yaml"))


@pytest.mark.parametrize("name", sorted(SEED))
def test_lecture_spec_matches_reference_stage_by_stage(name):
    facts = SEED[name]
    graph = archc.check(SPECS / "d2l" / f"{name}.yaml")
    assert list(graph.input_shape) == facts["input"]
    stages = {node.name: node.out_shape for node in graph.root.items}
    for stage, shape in facts["stages"]:
        got = graph.root.out_shape if stage == "net" else stages.get(stage)
        assert got == tuple(shape), f"stage {stage}"
    assert graph.root.params == facts["params"]
    assert graph.root.macs == facts["macs_conv_linear"]


@pytest.mark.parametrize("path", ALL_SPECS, ids=[str(p.relative_to(SPECS)) for p in ALL_SPECS])
def test_spec_builds_and_every_node_agrees_with_torch(path):
    assert_every_node_matches_torch(checked(path), batch=1, model=built(path))


def _copy_weights_by_position(source: torch.nn.Module, target: torch.nn.Module) -> None:
    src, dst = list(source.state_dict().values()), target.state_dict()
    assert len(src) == len(dst), "the hand-written network has a different set of tensors"
    for (key, tensor), value in zip(dst.items(), src):
        assert tensor.shape == value.shape, key
    target.load_state_dict(dict(zip(dst, src)))


def _randomise(model: torch.nn.Module) -> None:
    """Random weights and batch-norm statistics, so eval mode exercises every tensor."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=gen) + 0.5 if "running_var" in name else \
                    torch.randn(tensor.shape, generator=gen) * 0.1
                tensor.copy_(values)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_lecture_spec_computes_what_the_hand_written_network_computes(name):
    graph = archc.check(SPECS / "d2l" / f"{name}.yaml")
    ours = archc.build(graph).eval()
    _randomise(ours)
    theirs = NETWORKS[name]().eval()
    _copy_weights_by_position(ours, theirs)
    x = torch.randn(2, *graph.input_shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-5)


TV_SPECS = sorted((SPECS / "torchvision").glob("*.yaml"))


@pytest.mark.parametrize("path", TV_SPECS, ids=[p.stem for p in TV_SPECS])
def test_torchvision_spec_has_checkpoint_compatible_state_dict(path):
    facts = TORCHVISION[path.stem]
    graph = checked(path)
    assert graph.root.params == facts["params"]
    # the reference counts the convolution and linear modules a forward calls (not attention's
    # matmuls, nor its projections, which nn.MultiheadAttention applies without calling a module)
    assert sum(n.macs for n in graph.nodes() if isinstance(n, Layer) and KINDS[n.kind].family in ("conv", "linear")
               and not n.dead) == facts["macs_conv_linear"]
    assert list(graph.root.out_shape) == facts["output"]
    keys = [[key, list(tensor.shape)] for key, tensor in built(path).state_dict().items()]
    assert keys == facts["state_dict"]


@pytest.mark.parametrize("path", TV_SPECS, ids=[p.stem for p in TV_SPECS])
def test_torchvision_spec_computes_what_torchvision_computes(path):
    """Same keys are not enough: a wrong activation or a missing ReLU computes something
    else. The probe fingerprint of torchvision's module is the answer key."""
    facts = TORCHVISION[path.stem]
    ours = probe_fingerprint(built(path), facts["input"])
    assert not fingerprint_differences(ours, facts["probe"])


@pytest.mark.parametrize("path", ALL_SPECS, ids=[str(p.relative_to(SPECS)) for p in ALL_SPECS])
def test_generated_source_builds_the_same_module(path):
    graph, ours = checked(path), built(path)
    namespace: dict = {}
    exec(compile(archc.source(graph), f"{path.stem}_generated.py", "exec"), namespace)  # noqa: S102 - our own output
    # constructed on the meta device: no random init to pay for, since every tensor is
    # replaced by ours (random draws in the same order are checked in test_structure.py)
    with torch.device("meta"):
        theirs = namespace["build"]().eval()
    assert list(theirs.state_dict()) == list(ours.state_dict())
    theirs.load_state_dict(ours.state_dict(), assign=True)
    x = torch.randn(1, *graph.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


DENSE_SPECS = {"fcn_resnet50": "segmentation", "deeplabv3_resnet50": "segmentation",
               "lraspp_mobilenet_v3_large": "segmentation", "unet_resnet34": "segmentation",
               "fpn_resnet50": "detection", "yolov8n": "detection"}


def test_every_dense_reference_model_has_a_spec():
    assert set(DENSE_SPECS) == set(DENSE)


@pytest.mark.parametrize("name", sorted(DENSE_SPECS))
def test_dense_spec_is_checkpoint_compatible_and_computes_what_its_reference_computes(name):
    """Segmentation and detection networks (torchvision, Ultralytics, segmentation-models-pytorch):
    the same state_dict keys in the same order and shapes (so published checkpoints load with
    strict=True), the same named outputs, and the same probe fingerprint."""
    facts = DENSE[name]
    path = SPECS / DENSE_SPECS[name] / f"{name}.yaml"
    graph, model = checked(path), built(path)
    assert graph.root.params == facts["params"]
    assert {key: list(shape) for key, shape in graph.root.out_shapes.items()} == facts["outputs"]
    assert [[key, list(t.shape)] for key, t in model.state_dict().items()] == facts["state_dict"]
    assert not fingerprint_differences(probe_fingerprint(model, facts["input"]), facts["probe"])
