"""Reductions over dims of each sample: mean, amax and sum (CBAM's channel pools, a token
average). torch.nn has no modules for them: archc's runtime has (Mean, Amax, Sum)."""
from __future__ import annotations

from archc.layers.base import Args, Bool, Inferred, Int, Kind, TorchCall
from archc.shapes import format_shape, layout_name, reduced_shape, sample_dims

_RUNTIME = {"mean": "Mean", "amax": "Amax", "sum": "Sum"}
_WORDS = {"mean": "averaged", "amax": "maximum taken", "sum": "summed"}


class ReduceArgs(Args):
    dim: Int | list[Int]  # torch's dims: 1 is the first dim after the batch; never 0
    keepdim: Bool = False


class Reduce(Kind):
    names = ("mean", "amax", "sum")
    family = "shape"
    Args = ReduceArgs
    summary = "torch.mean / torch.amax / torch.sum over `dim` (an int or a list; dim 0, the batch, is refused)"

    def infer(self, kind, a: ReduceArgs, shape):
        return Inferred(reduced_shape(shape, sample_dims(a.dim, shape, kind), a.keepdim))

    def explain(self, kind, a, shape, out):
        dims = sample_dims(a.dim, shape, kind)
        over = " × ".join(str(shape[i]) for i in dims)
        return [f"{kind} over dim {', '.join(str(i + 1) for i in dims)} of {layout_name(shape)} {format_shape(shape)}: "
                f"{over} values {_WORDS[kind]} → {format_shape(out.shape) or 'one value'}"
                + (" (kept as size 1)" if a.keepdim else "") + "; no parameters"]

    def torch_call(self, kind, a: ReduceArgs, shape):
        dim = a.dim if isinstance(a.dim, int) else tuple(a.dim)
        return TorchCall(_RUNTIME[kind], (dim,), {"keepdim": True} if a.keepdim else {}, runtime=True)

    def label(self, kind, a: ReduceArgs):
        dims = a.dim if isinstance(a.dim, int) else ", ".join(map(str, a.dim))
        return f"{kind} dim {dims}" + (" keep" if a.keepdim else "")
