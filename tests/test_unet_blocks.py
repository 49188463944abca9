"""The U-Net blocks of std/unet.yaml against hand-written PyTorch (smp's DecoderBlock, the
lecture's up step), the small teaching U-Net's shapes, and ResNet-34 as an encoder."""
from __future__ import annotations

import textwrap

import torch
import torch.nn as nn
import torch.nn.functional as F
from conftest import SPECS

import archc


def _build(text: str) -> nn.Module:
    return archc.build(archc.check("t.yaml", text=textwrap.dedent(text))).eval()


def _randomise(model: nn.Module) -> None:
    """Random weights and batch-norm statistics, so eval mode exercises every tensor."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5 if "running_var" in name
                             else torch.randn(tensor.shape, generator=gen) * 0.1)


def _conv_relu(cin: int, cout: int) -> nn.Sequential:
    """smp's Conv2dReLU with batch norm."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class SmpDecoderBlock(nn.Module):
    """segmentation-models-pytorch 0.6's DecoderBlock (no attention), as its source writes it."""

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.conv1 = _conv_relu(cin + cskip, cout)
        self.conv2 = _conv_relu(cout, cout)

    def forward(self, x, skip):
        x = F.interpolate(x, size=skip.shape[-2:], mode="nearest")
        return self.conv2(self.conv1(torch.cat([x, skip], dim=1)))


def _decoder_block_net(x_shape, skip_shape) -> nn.Module:
    return _build(f"""\
        archc: 1
        name: t
        inputs: {{x: {list(x_shape)}, skip: {list(skip_shape)}}}
        imports: [std/unet]
        layers:
          - unet_decoder_block: {{from: [x, skip], channels: 5, name: block}}
        """)


def test_unet_decoder_block_computes_smp_decoder_block_with_its_keys():
    ours = _decoder_block_net((8, 4, 4), (6, 8, 8))
    _randomise(ours)
    theirs = SmpDecoderBlock(8, 6, 5).eval()
    assert [k.removeprefix("block.") for k in ours.state_dict()] == list(theirs.state_dict())
    theirs.load_state_dict({k.removeprefix("block."): v for k, v in ours.state_dict().items()})
    gen = torch.Generator().manual_seed(1)
    x, skip = torch.randn(2, 8, 4, 4, generator=gen), torch.randn(2, 6, 8, 8, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, skip), theirs(x, skip), rtol=0, atol=0)


def test_unet_decoder_block_resizes_to_the_skip_size_not_by_two():
    # smp resizes to the skip's size: a 4×4 map meeting a 7×7 skip becomes 7×7, where a
    # fixed ×2 would give 8×8 and fail to concatenate
    graph = archc.check("t.yaml", text=textwrap.dedent("""\
        archc: 1
        name: t
        inputs: {x: [8, 4, 4], skip: [6, 7, 7]}
        imports: [std/unet]
        layers:
          - unet_decoder_block: {from: [x, skip], channels: 5}
        """))
    assert graph.root.out_shape == (5, 7, 7)


class LectureUp(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.conv = nn.Sequential(nn.Conv2d(2 * cout, cout, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())

    def forward(self, x, skip):
        return self.conv(torch.cat([self.up(x), skip], dim=1))


def test_unet_up_is_transposed_convolution_concat_and_double_conv():
    ours = _build("""\
        archc: 1
        name: t
        inputs: {x: [8, 4, 4], skip: [4, 8, 8]}
        imports: [std/unet]
        layers:
          - unet_up: {from: [x, skip], channels: 4, name: block}
        """)
    _randomise(ours)
    theirs = LectureUp(8, 4).eval()
    assert [k.removeprefix("block.") for k in ours.state_dict()] == list(theirs.state_dict())
    theirs.load_state_dict({k.removeprefix("block."): v for k, v in ours.state_dict().items()})
    gen = torch.Generator().manual_seed(1)
    x, skip = torch.randn(2, 8, 4, 4, generator=gen), torch.randn(2, 4, 8, 8, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, skip), theirs(x, skip), rtol=0, atol=0)


class SmallUNet(nn.Module):
    """specs/d2l/unet_small.yaml written by hand: the answer key for its shapes and function."""

    def __init__(self):
        super().__init__()

        def double_conv(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())

        self.enc1, self.enc2, self.bottleneck = double_conv(1, 16), double_conv(16, 32), double_conv(32, 64)
        self.dec2, self.dec1 = LectureUp(64, 32), LectureUp(32, 16)
        self.head = nn.Conv2d(16, 2, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottleneck(F.max_pool2d(e2, 2))
        return self.head(self.dec1(self.dec2(b, e2), e1))


def test_small_unet_stage_shapes_and_function_match_hand_written_unet():
    graph = archc.check(SPECS / "d2l" / "unet_small.yaml")
    stages = [(node.name, node.out_shape) for node in graph.root.items]
    assert stages == [("enc1", (16, 64, 64)), ("1", (16, 32, 32)), ("enc2", (32, 32, 32)), ("3", (32, 16, 16)),
                      ("bottleneck", (64, 16, 16)), ("dec2", (32, 32, 32)), ("dec1", (16, 64, 64)),
                      ("head", (2, 64, 64))]
    ours = archc.build(graph).eval()
    theirs = SmallUNet().eval()
    assert [t.shape for t in ours.state_dict().values()] == [t.shape for t in theirs.state_dict().values()]
    theirs.load_state_dict(dict(zip(theirs.state_dict(), ours.state_dict().values())))
    x = torch.randn(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=0)


def test_resnet34_without_top_ends_at_layer4():
    # a spec given as text imports relative to the working directory: the path is absolute
    graph = archc.check("t.yaml", text=textwrap.dedent(f"""\
        archc: 1
        name: t
        input: [3, 64, 64]
        imports: ['{SPECS / "torchvision" / "resnet34.yaml"}']
        layers:
          - resnet34: {{name: encoder, include_top: false}}
        """))
    assert graph.root.out_shape == (512, 2, 2)
    keys = list(archc.build(graph).state_dict())
    assert keys[-1] == "encoder.layer4.2.bn2.num_batches_tracked"
    assert not any(".fc." in key for key in keys)
