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
