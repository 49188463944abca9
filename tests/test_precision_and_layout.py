"""Built modules run in channels_last memory format with the same outputs, and under CPU
autocast with bfloat16 with outputs close to float32 ones."""
from __future__ import annotations

import pytest
import torch
from conftest import SPECS, built

SPECS_AND_INPUTS = [(SPECS / "d2l" / "resnet18.yaml", (1, 96, 96)), (SPECS / "d2l" / "densenet.yaml", (1, 96, 96)),
                    (SPECS / "d2l" / "googlenet.yaml", (1, 96, 96))]
IDS = ["resnet18", "densenet", "googlenet"]


def _x(shape, batch=2):
    return torch.randn((batch, *shape), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("spec, shape", SPECS_AND_INPUTS, ids=IDS)
def test_channels_last_gives_the_same_outputs(spec, shape):
    model = built(spec)
    x = _x(shape)
    with torch.no_grad():
        want = model(x)
        model.to(memory_format=torch.channels_last)
        try:
            assert next(p for p in model.parameters() if p.dim() == 4).is_contiguous(memory_format=torch.channels_last)
            got = model(x.to(memory_format=torch.channels_last))
        finally:
            model.to(memory_format=torch.contiguous_format)  # the module is shared with other tests
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("spec, shape", SPECS_AND_INPUTS, ids=IDS)
def test_bfloat16_autocast_on_cpu_is_close_to_float32(spec, shape):
    model = built(spec)
    x = _x(shape)
    with torch.no_grad():
        want = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            got = model(x)
    assert got.dtype == torch.bfloat16  # autocast did run the convolutions and linear layers in bfloat16
    scale = want.abs().max()
    assert (got.float() - want).abs().max() <= 0.05 * scale + 1e-3
