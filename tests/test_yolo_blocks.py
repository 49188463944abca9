"""The kinds added for Ultralytics' Detect head (grid_coords, scale, full_like) beyond their rows
in test_kinds.py: the generated source, symbolic sizes, explanations, and the decode they make."""
from __future__ import annotations

import pytest
import torch
from conftest import check_layers

import archc
from archc.explain import explain_node

DECODE_PIECES = [
    {"conv2d": {"out_channels": 4, "kernel_size": 1}},
    {"identity": {"name": "feats"}},
    {"grid_coords": {"offset": 0.5, "from": "feats"}},
    {"scale": {"factor": -1}},
    {"full_like": {"value": 16}},
]


def _generated(graph):
    namespace: dict = {}
    exec(compile(archc.source(graph), "yolo_kinds_generated.py", "exec"), namespace)  # noqa: S102 - our own output
    return namespace["build"]()


def test_generated_source_computes_what_the_built_module_computes():
    graph = check_layers(DECODE_PIECES, (3, 5, 6))
    ours = archc.build(graph)
    theirs = _generated(graph)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 5, 6)
    with torch.no_grad():
        torch.testing.assert_close(theirs.eval()(x), ours.eval()(x), rtol=0, atol=0)
    assert graph.root.out_shape == (2, 30)
    assert [type(m).__name__ for m in ours.children()][2:] == ["GridCoords", "Scale", "FullLike"]


def test_grid_coords_are_make_anchors_cell_centres_row_by_row():
    module = archc.build(check_layers([{"grid_coords": {"offset": 0.5}}], (1, 2, 3)))
    out = module(torch.zeros(2, 1, 2, 3))
    expected = torch.tensor([[0.5, 1.5, 2.5, 0.5, 1.5, 2.5],   # x: the column, fastest
                             [0.5, 0.5, 0.5, 1.5, 1.5, 1.5]])  # y: the row
    assert torch.equal(out[0], expected) and torch.equal(out[1], expected)


def test_grid_coords_follow_the_input_dtype():
    module = archc.build(check_layers([{"grid_coords": {"offset": 0.5}}], (1, 2, 2)))
    assert module(torch.zeros(1, 1, 2, 2, dtype=torch.float64)).dtype == torch.float64


def test_grid_coords_of_a_symbolic_map_need_a_concrete_size():
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"grid_coords": {"offset": 0.5}}], (3, "H", "W"))
    assert info.value.code == "needs-concrete-size"


def test_full_like_keeps_the_shape_and_drops_the_values():
    module = archc.build(check_layers([{"full_like": {"value": 8}}], (1, 7)))
    x = torch.randn(3, 1, 7)
    assert torch.equal(module(x), torch.full((3, 1, 7), 8.0))


def test_scale_negates_and_halves_exactly():
    module = archc.build(check_layers([{"scale": {"factor": -0.5}}], (4,)))
    x = torch.randn(5, 4)
    assert torch.equal(module(x), -(x / 2))


@pytest.mark.parametrize("layer,words", [
    ({"grid_coords": {"offset": 0.5}}, "grid_coords of the 4 × 5 grid"),
    ({"scale": {"factor": 0.5}}, "every element × 0.5"),
    ({"full_like": {"value": 32}}, "filled with 32"),
])
def test_each_kind_explains_itself(layer, words):
    graph = check_layers([layer], (3, 4, 5))
    assert words in "\n".join(explain_node(graph.root.items[0]))


# -- std/yolo's blocks against Ultralytics' modules, written here from ultralytics.nn.modules --
class _Conv(torch.nn.Module):
    def __init__(self, c1, c2, k=1, s=1):
        super().__init__()
        self.conv = torch.nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = torch.nn.BatchNorm2d(c2, eps=0.001, momentum=0.03)
        self.act = torch.nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class _Bottleneck(torch.nn.Module):
    def __init__(self, c, shortcut):
        super().__init__()
        self.cv1, self.cv2, self.add = _Conv(c, c, 3), _Conv(c, c, 3), shortcut

    def forward(self, x):
        return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))


class _C2f(torch.nn.Module):
    def __init__(self, c1, c2, n, shortcut):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = _Conv(c1, 2 * self.c)
        self.cv2 = _Conv((2 + n) * self.c, c2)
        self.m = torch.nn.ModuleList(_Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class _SPPF(torch.nn.Module):
    def __init__(self, c1, c2):
        super().__init__()
        self.cv1, self.cv2 = _Conv(c1, c1 // 2), _Conv(c1 // 2 * 4, c2)
        self.m = torch.nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


def _yolo_block(layer, in_shape):
    text = ("archc: 1\nname: t\ninput: " + str(list(in_shape)) + "\nimports: [std/yolo]\nlayers:\n  - "
            + layer + "\n")
    return archc.build(archc.check("t.yaml", text=text))[0]


@pytest.mark.parametrize("n,shortcut", [(1, True), (2, True), (3, False)])
def test_c2f_computes_ultralytics_c2f_with_its_keys(n, shortcut):
    ours = _yolo_block(f"c2f: {{channels: 32, n: {n}, shortcut: {str(shortcut).lower()}}}", (24, 9, 7))
    theirs = _C2f(24, 32, n, shortcut)
    with torch.no_grad():
        for tensor in theirs.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5)  # positive: running_var too
    # the same keys, shapes and order (order: registers cv2 before m, as Ultralytics does)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [(k, v.shape) for k, v in theirs.state_dict().items()]
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 24, 9, 7)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs.eval()(x), rtol=0, atol=0)


def test_sppf_computes_ultralytics_sppf():
    ours = _yolo_block("sppf: {channels: 16}", (12, 11, 6))
    theirs = _SPPF(12, 16)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 12, 11, 6)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x), theirs.eval()(x), rtol=0, atol=0)


class _DFL(torch.nn.Module):
    def __init__(self, c1=16):
        super().__init__()
        self.conv = torch.nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x):
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)


class _Detect(torch.nn.Module):
    """Ultralytics' Detect in eval mode (make_anchors, DFL, dist2bbox xywh, × strides, sigmoid)."""

    def __init__(self, nc, ch, strides=(8.0, 16.0, 32.0)):
        super().__init__()
        self.nc, self.strides_ = nc, strides
        c2, c3 = max(16, ch[0] // 4, 64), max(ch[0], min(nc, 100))
        branch = lambda x, c, out: torch.nn.Sequential(_Conv(x, c, 3), _Conv(c, c, 3), torch.nn.Conv2d(c, out, 1))  # noqa: E731
        self.cv2 = torch.nn.ModuleList(branch(x, c2, 64) for x in ch)
        self.cv3 = torch.nn.ModuleList(branch(x, c3, nc) for x in ch)
        self.dfl = _DFL(16)

    def forward(self, xs):
        xs = [torch.cat((self.cv2[i](x), self.cv3[i](x)), 1) for i, x in enumerate(xs)]
        points, strides = [], []
        for x, stride in zip(xs, self.strides_):
            h, w = x.shape[2:]
            sy, sx = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
            points.append(torch.stack((sx, sy), -1).view(-1, 2))
            strides.append(torch.full((h * w, 1), stride))
        anchors, stride = torch.cat(points).transpose(0, 1), torch.cat(strides).transpose(0, 1)
        box, cls = torch.cat([x.view(x.shape[0], 64 + self.nc, -1) for x in xs], 2).split((64, self.nc), 1)
        lt, rb = self.dfl(box).chunk(2, 1)
        x1y1, x2y2 = anchors.unsqueeze(0) - lt, anchors.unsqueeze(0) + rb
        dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * stride
        return {"decoded": torch.cat((dbox, cls.sigmoid()), 1), "boxes": box, "scores": cls}


DETECT_SPEC = """archc: 1
name: head
inputs: {p3: [16, 8, 6], p4: [32, 4, 3], p5: [48, 2, 2]}
imports: [std/yolo]
layers:
  - detect: {from: [p3, p4, p5], nc: 5, name: det}
outputs: {decoded: det.decoded, boxes: det.boxes, scores: det.scores}
"""


def test_detect_computes_ultralytics_detect_on_a_non_square_grid():
    graph = archc.check("head.yaml", text=DETECT_SPEC)
    ours = archc.build(graph)
    theirs = _Detect(5, (16, 32, 48))
    with torch.no_grad():
        for key, tensor in theirs.state_dict().items():
            if tensor.is_floating_point() and "dfl" not in key:
                tensor.copy_(torch.rand_like(tensor) * 0.2 + 0.9 if "var" in key else torch.randn_like(tensor) * 0.2)
    assert [(k.removeprefix("det."), v.shape) for k, v in ours.state_dict().items()] == \
        [(k, v.shape) for k, v in theirs.state_dict().items()]
    assert not any(p.requires_grad for p in ours.det.dfl.parameters())  # DFL's 0 … 15 are frozen
    ours.load_state_dict({"det." + k: v for k, v in theirs.state_dict().items()})
    xs = [torch.randn(2, 16, 8, 6), torch.randn(2, 32, 4, 3), torch.randn(2, 48, 2, 2)]
    with torch.no_grad():
        got, want = ours.eval()(*xs), theirs.eval()(xs)
    assert list(got) == ["decoded", "boxes", "scores"]
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=0)
    assert got["decoded"].shape == (2, 4 + 5, 48 + 12 + 4)


@pytest.mark.parametrize("depth,width,max_channels,params", [
    (0.33, 0.25, 1024, 3_157_200), (0.33, 0.50, 1024, 11_166_560), (0.67, 0.75, 768, 25_902_640),
    (1.00, 1.00, 512, 43_691_520), (1.00, 1.25, 512, 68_229_648)])
def test_yolov8_scales_have_ultralytics_parameter_counts(depth, width, max_channels, params):
    """yolov8n.yaml's params are parse_model's scales: each gives Ultralytics' published count."""
    from conftest import REPO

    text = (f"archc: 1\nname: scaled\ninput: [3, 64, 64]\nimports: [{REPO / 'specs/detection/yolov8n.yaml'}]\n"
            f"layers:\n  - yolov8n: {{depth: {depth}, width: {width}, max_channels: {max_channels}}}\n")
    assert archc.check("scaled.yaml", text=text).root.params == params
