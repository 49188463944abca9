"""grid_coords: the coordinates of a feature map's cells, a value that depends only on its shape.

Why a kind: anchor-point detectors (Ultralytics' make_anchors, FCOS, the points of a
transformer's reference grid) decode each cell's prediction relative to where the cell is.
Those coordinates are not learned and not read from the input's values, but a network needs
them as a tensor beside its outputs (with the input's dtype and device, batched like it), and
no torch.nn module makes them. Computed from the input's shape on every call, so nothing is
stored (no state_dict entry) and any input size works.
"""
from __future__ import annotations

from archc.layers.base import Args, Float32, Inferred, Kind, TorchCall, expect_rank
from archc.shapes import flatten_shape, format_shape


class GridCoordsArgs(Args):
    offset: Float32 = 0.0  # added to every index: 0.5 gives cell centres in feature-map units


class GridCoords(Kind):
    names = ("grid_coords",)
    family = "shape"
    Args = GridCoordsArgs
    summary = ("the (x, y) of every cell of the input's H×W grid plus offset, flattened row by row: "
               "N×C×H×W → N×2×(H·W) (Ultralytics' make_anchors with offset 0.5); values from the shape only")

    def infer(self, kind, a: GridCoordsArgs, shape):
        expect_rank(kind, shape, (3,), "channels×height×width")
        return Inferred(flatten_shape((2, *shape[1:]), 2, -1))

    def explain(self, kind, a, shape, out):
        return [f"grid_coords of the {shape[1]} × {shape[2]} grid: row 0 the column index x, row 1 the row index y, "
                f"each + {a.offset:g}, for {out.shape[1]} cells in row-major order → {format_shape(out.shape)}; "
                "no parameters, the input's values unused"]

    def torch_call(self, kind, a: GridCoordsArgs, shape):
        return TorchCall("GridCoords", (a.offset,), runtime=True)

    def label(self, kind, a: GridCoordsArgs):
        return f"grid_coords +{a.offset:g}"
