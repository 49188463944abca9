"""Built modules compile with torch.jit.script and torch.export, and compute what eager does.

Every container kind is covered: Residual (resnet18), Parallel (googlenet), Dense (densenet121),
Chain with from: (squeezenet1_0), slice_channels (shufflenet_v2_x1_0), mul merge (efficientnet_b0),
plus the lecture's networks at their own input sizes (the U-Net and ViT, dataflow networks, traced).
"""
from __future__ import annotations

import pytest
import torch
from conftest import SPECS

import archc

D2L = sorted(p.stem for p in (SPECS / "d2l").glob("*.yaml"))
# torchvision networks at a small input: the containers, not the size, are what is tested
TORCHVISION = {"resnet18": (3, 32, 32), "googlenet": (3, 32, 32), "densenet121": (3, 32, 32),
               "squeezenet1_0": (3, 64, 64), "shufflenet_v2_x1_0": (3, 32, 32), "efficientnet_b0": (3, 32, 32)}
NETWORKS = [(f"d2l/{name}", None) for name in D2L] + [(f"torchvision/{name}", shape) for name, shape in TORCHVISION.items()]


def _model_and_input(name, shape):
    graph = archc.check(SPECS / f"{name}.yaml", input_shape=shape)
    torch.manual_seed(0)
    return archc.build(graph).eval(), torch.randn(1, *graph.input_shape)


def test_every_container_kind_scripts_and_the_scripted_module_computes_what_eager_does():
    from archc.runtime import Flow

    for name, shape in NETWORKS:
        model, x = _model_and_input(name, shape)
        if any(isinstance(m, Flow) for m in model.modules()):
            # a dataflow program is interpreted (modules looked up by path): TorchScript takes it by
            # tracing, which archc export does too (docs/deploy.md)
            scripted = torch.jit.trace(model, (x,), strict=False)
        else:
            scripted = torch.jit.script(model)
        assert list(scripted.state_dict()) == list(model.state_dict()), name
        with torch.no_grad():
            assert torch.equal(scripted(x), model(x)), name


@pytest.mark.parametrize("name", ["torchvision/resnet18", "torchvision/squeezenet1_0", "d2l/densenet", "d2l/googlenet"])
def test_torch_export_captures_residual_chain_dense_and_parallel_modules(name):
    model, x = _model_and_input(name, TORCHVISION.get(name.split("/")[1]))
    exported = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(x), model(x))


def test_a_built_network_pickles_with_torch_save_and_loads_in_a_fresh_process(tmp_path):
    """torch.save(model) pickles block classes by name (archc/blocks.py makes them again on
    load), so a whole module saved here loads and computes the same in another process."""
    import subprocess
    import sys

    model = archc.build(archc.check(SPECS / "torchvision" / "resnet18.yaml")).eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    torch.save(model, tmp_path / "model.pt")
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        torch.save(model(x), tmp_path / "expected.pt")
    code = ("import torch\n"
            f"model = torch.load({str(tmp_path / 'model.pt')!r}, weights_only=False)\n"
            f"x = torch.load({str(tmp_path / 'x.pt')!r})\n"
            f"expected = torch.load({str(tmp_path / 'expected.pt')!r})\n"
            "with torch.no_grad():\n"
            "    assert torch.equal(model(x), expected)\n"
            "print(type(model).__name__, type(model.layer1[0]).__name__)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Resnet18", "BasicBlock"]
