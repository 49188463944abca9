"""Built modules work with torch.compile as one graph (no graph breaks) and under autocast."""
from __future__ import annotations

import pytest
import torch
from conftest import SPECS

import archc

# every container archc builds: Residual (resnet18), Parallel (googlenet), Dense (densenet),
# Chain with from: (squeezenet), broadcasting mul in squeeze-excitation (efficientnet)
NETWORKS = ["d2l/resnet18", "d2l/googlenet", "d2l/densenet", "torchvision/squeezenet1_1", "torchvision/efficientnet_b0"]


@pytest.mark.parametrize("name", NETWORKS)
def test_torch_compile_traces_the_whole_network_as_one_graph(name):
    graph = archc.check(SPECS / f"{name}.yaml")
    model = archc.build(graph).eval()
    x = torch.randn(2, *graph.input_shape)
    compiled = torch.compile(model, fullgraph=True, backend="eager")  # fullgraph: a graph break is an error
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))


def test_autocast_bfloat16_forward_stays_close():
    graph = archc.check(SPECS / "d2l" / "resnet18.yaml")
    model = archc.build(graph).eval()
    x = torch.randn(2, *graph.input_shape)
    with torch.no_grad():
        reference = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x)
    assert low.dtype == torch.bfloat16
    assert torch.allclose(low.float(), reference, rtol=0.1, atol=0.1)
