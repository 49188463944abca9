"""All shape arithmetic, as pure integer functions mirroring ATen's own rules.

Every layer kind computes its output size through these; nothing else in archc does
shape arithmetic. Each function returns the size or raises ShapeError with what was
expected and what was found.
"""
from __future__ import annotations

from dataclasses import dataclass

from archc.symbolic import UNKNOWN, is_symbolic, require_at_least


@dataclass
class ShapeError(Exception):
    """A shape rule refused its inputs."""

    code: str
    message: str
    expected: str = ""
    found: str = ""
    hint: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.message)


def conv_output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    """ATen's convolution output size: ⌊(n + p − d·(k − 1) − 1) / s⌋ + 1, p the total padding."""
    effective = dilation * (kernel - 1) + 1
    padded = size + pad_total
    if not require_at_least(padded, effective, f"a {effective}-wide kernel fits"):
        raise ShapeError(
            "kernel-too-large",
            "the kernel is larger than the padded input",
            expected=f"padded input ≥ effective kernel {effective}"
            + (f" (dilation {dilation} × (kernel {kernel} − 1) + 1)" if dilation > 1 else ""),
            found=f"input {size} + padding {pad_total} = {padded}",
            hint="reduce the kernel or stride earlier, add padding, or use a larger input",
        )
    return (padded - effective) // stride + 1


def same_padding(kernel: int, dilation: int) -> tuple[int, int]:
    """padding='same' as torch applies it: total d·(k−1), the extra one on the right."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def pool_output_size(
    size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool
) -> int:
    """ATen's pooling_output_shape, including ceil_mode's last-window correction.

    With ceil_mode a partial last window counts, but only if it starts inside the input
    or its left padding; otherwise it is dropped.
    """
    if pad > kernel // 2:
        raise ShapeError(
            "pool-padding-too-large",
            "pooling padding must be at most half the kernel size",
            expected=f"padding ≤ {kernel} // 2 = {kernel // 2}",
            found=f"padding {pad}",
        )
    numerator = size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = numerator // stride + 1  # floor division rounds towards −∞, as ATen's div_rtn
    effective = dilation * (kernel - 1) + 1
    if ceil_mode and is_symbolic(out):
        # The correction below can only apply when padding + stride > the effective kernel
        # ((out − 1)·s ≤ n + 2p − k + s − 1); otherwise the symbolic formula is exact.
        if pad + stride > effective:
            raise ShapeError("needs-concrete-size", "ceil_mode here depends on the exact input size",
                             expected="a concrete input size (--input)", found=f"symbolic size {size}",
                             hint="with padding + stride > kernel, ceil_mode's last-window rule is not a single formula")
    elif ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    if not require_at_least(out, 1, "the pooling output is at least 1"):
        raise ShapeError(
            "output-too-small",
            "pooling gives an output size below 1",
            expected=f"input + 2·padding ≥ effective kernel {effective}",
            found=f"input {size}, padding {pad}, kernel {kernel}, stride {stride} → output {out}",
            hint="the input is too small here: remove a downsampling layer or enlarge the input",
        )
    return out


def require_groups_divide(count: int, groups: int, what: str) -> None:
    """Grouped convolutions and channel shuffles split `what` into equal groups."""
    if count % groups:
        raise ShapeError("groups-mismatch", f"groups must divide the {what}",
                         expected=f"{what} divisible by groups={groups}", found=f"{what} = {count}")


def broadcast_size(a, b):
    """One dim of torch's broadcasting: equal sizes, or one of them 1."""
    from archc.symbolic import require_equal

    if a == 1:
        return b
    if b == 1:
        return a
    if not require_equal(a, b, "broadcast in mul"):
        raise ShapeError("merge-mismatch", "sizes neither equal nor 1 cannot be multiplied",
                         expected="equal sizes, or 1 on one side", found=f"{a} and {b}")
    return a


def flatten_shape(shape: tuple[int, ...], start_dim: int, end_dim: int) -> tuple[int, ...]:
    """nn.Flatten on a batched tensor (dims count the batch), applied to a sample shape."""
    rank = len(shape) + 1
    start = start_dim + rank if start_dim < 0 else start_dim
    end = end_dim + rank if end_dim < 0 else end_dim
    if not (0 <= start < rank and 0 <= end < rank) or start > end:
        raise ShapeError(
            "bad-dim", "flatten dimensions are out of range",
            expected=f"0 ≤ start_dim ≤ end_dim < {rank} (the batch is dim 0)",
            found=f"start_dim {start_dim}, end_dim {end_dim}",
        )
    if start == 0:
        raise ShapeError("bad-dim", "flatten must keep the batch dimension",
                         expected="start_dim ≥ 1", found=f"start_dim {start_dim}")
    full = (None, *shape)
    merged = 1
    for size in full[start : end + 1]:
        if is_symbolic(size):
            raise ShapeError("needs-concrete-size", "flattening a symbolic size needs a concrete input size",
                             expected="concrete sizes (give --input with numbers, e.g. --input 3x224x224)",
                             found=" × ".join(str(s) for s in full[start:end + 1]),
                             hint="a global pool before flatten (adaptive_avg_pool2d: {output_size: 1}) makes it size-free")
        merged *= size
    return tuple(full[1:start]) + (merged,) + tuple(full[end + 1 :])


def product(values) -> int:
    """The product of sizes; UNKNOWN (prints as '—') when one of them is symbolic."""
    out = 1
    for v in values:
        if is_symbolic(v):
            return UNKNOWN
        out *= v
    return out


def format_shape(shape) -> str:
    """C×H×W notation, batch left out."""
    return "×".join(str(s) for s in shape)


def window_formula(size: int, kernel: int, stride: int, pad_total: int, dilation: int = 1,
                   ceil_mode: bool = False, pad_left: int | None = None, pooling: bool = False) -> tuple[str, int]:
    """The lecture's ⌊(n − k + p + s) / s⌋ for one dim (p the total padding), with its value.

    p is written as the lecture counts it: 2·1 for 1 on both sides, (1 + 2) for 'same'
    padding that adds one more on the right. Dilation shows as the effective kernel
    d·(k − 1) + 1; ceil_mode as ⌈…⌉ and, where it applies, ATen's correction that drops a
    last window starting outside the input. The value comes from the same functions
    inference uses.
    """
    effective = dilation * (kernel - 1) + 1
    k_text = str(kernel) if dilation == 1 else f"{effective} (= {dilation}·({kernel} − 1) + 1)"
    left, right = ("⌈", "⌉") if ceil_mode else ("⌊", "⌋")
    text = f"{left}({size} − {k_text} + {padding_text(pad_total, pad_left)} + {stride}) / {stride}{right}"
    if pooling:
        value = pool_output_size(size, kernel, stride, pad_total // 2 if pad_left is None else pad_left, dilation, ceil_mode)
    else:
        value = conv_output_size(size, kernel, stride, pad_total, dilation)
    if is_symbolic(size):
        return f"{text} = {value}", value
    plain = -(-(size - effective + pad_total + stride) // stride) if ceil_mode else (size - effective + pad_total + stride) // stride
    if value != plain:
        text += f" − 1 (the last window would start in the padding) = {plain} − 1"
    return f"{text} = {value}", value


def padding_text(pad_total: int, pad_left: int | None = None) -> str:
    """The total padding of one dim as the lecture writes it: '0', '2·1' (both sides), '(1 + 2)'."""
    if pad_left is None:
        pad_left = pad_total // 2 if pad_total % 2 == 0 else None
    if pad_total == 0 or pad_left is None:
        return str(pad_total)
    if 2 * pad_left == pad_total:
        return f"2·{pad_left}"
    return f"({pad_left} + {pad_total - pad_left})"


# ---- dense prediction: transposed convolution, interpolation, pixel shuffles ----

def conv_transpose_output_size(size, kernel: int, stride: int, pad: int, dilation: int, output_padding: int):
    """ATen's transposed convolution output size: (n − 1)·s − 2p + d·(k − 1) + output_padding + 1.

    A symbolic size stays symbolic only with stride 1: a multiple s·⌊(v + b)/c⌋ is not of
    the form ⌊(v + b')/c'⌋ (it only takes every s-th value).
    """
    if output_padding >= max(stride, dilation):
        raise ShapeError("output-padding-too-large", "output_padding must be smaller than the stride or the dilation",
                         expected=f"output_padding < max(stride {stride}, dilation {dilation}) = {max(stride, dilation)}",
                         found=f"output_padding {output_padding}",
                         hint="output_padding only picks among the sizes a stride > 1 can give; with stride 1 leave it 0")
    if is_symbolic(size) and stride != 1:
        raise ShapeError("needs-concrete-size", "a strided transposed convolution multiplies a symbolic size",
                         expected="a concrete input size (--input)", found=f"symbolic size {size} × stride {stride}",
                         hint="symbolic sizes are floor formulas ⌊(v + b)/c⌋, which a multiple of s is not")
    out = (size - 1) * stride if stride != 1 else size - 1
    out = out - 2 * pad + dilation * (kernel - 1) + output_padding + 1
    if not require_at_least(out, 1, "the transposed convolution's output is at least 1"):
        raise ShapeError("output-too-small", "the transposed convolution gives an output size below 1",
                         expected="(n − 1)·s − 2p + d·(k − 1) + output_padding + 1 ≥ 1",
                         found=f"input {size}, padding {pad}, kernel {kernel}, stride {stride} → output {out}",
                         hint="padding removes 2·padding from the output: reduce it")
    return out


def _exact_reciprocal(scale: float) -> int | None:
    """c when scale = 1/c with c a power of two (then ⌊n·scale⌋ = ⌊n/c⌋ exactly in floating point)."""
    import math

    mantissa, _ = math.frexp(scale)
    return round(1 / scale) if mantissa == 0.5 and scale <= 1 else None


def interpolate_output_size(size, target: int | None, scale: float | None):
    """F.interpolate's output size for one dim: `target` when given, else ⌊n · scale⌋.

    torch computes the product in double precision and truncates (ATen's
    compute_output_size), so 100 × 0.29 gives 28, not 29: this does the same. A symbolic
    size stays symbolic for a scale of 1/2^j (exact); other scales need a concrete size.
    """
    import math

    if target is not None:
        return target
    if is_symbolic(size):
        divisor = _exact_reciprocal(scale)
        if divisor is None:
            raise ShapeError("needs-concrete-size", "interpolating by this scale needs a concrete input size",
                             expected="a concrete input size (--input), or a scale of 1/2^j",
                             found=f"symbolic size {size} × scale {scale:g}",
                             hint="symbolic sizes are floor formulas ⌊(v + b)/c⌋, which ⌊n·scale⌋ is not in general")
        out = size // divisor
    else:
        out = math.floor(float(size) * scale)
    if not require_at_least(out, 1, "the interpolated size is at least 1"):
        raise ShapeError("output-too-small", "interpolation gives an output size below 1",
                         expected="⌊n · scale_factor⌋ ≥ 1", found=f"⌊{size} × {scale:g}⌋ = {out}",
                         hint="a larger scale_factor, or give the output size with size:")
    return out


def require_divisible(count, factor: int, what: str, hint: str = ""):
    """`what` must be a multiple of `factor` (pixel shuffles); a symbolic size records it."""
    from archc.symbolic import require_equal

    if is_symbolic(count):
        # n is a multiple of f exactly when ⌊n/f⌋ = ⌈n/f⌉ = ⌊(n + f − 1)/f⌋
        holds = require_equal(count // factor, (count + factor - 1) // factor, f"{what} divisible by {factor}")
    else:
        holds = count % factor == 0
    if not holds:
        raise ShapeError("not-divisible", f"the {what} must be divisible by {factor}",
                         expected=f"{what} a multiple of {factor}", found=f"{what} = {count}", hint=hint)
    return count // factor


def multiplied_size(size, factor: int, why: str):
    """n · factor for an upscaling layer; symbolic sizes cannot be multiplied (see above)."""
    if factor == 1:
        return size
    if is_symbolic(size):
        raise ShapeError("needs-concrete-size", f"{why} multiplies a symbolic size",
                         expected="a concrete input size (--input)", found=f"symbolic size {size} × {factor}",
                         hint="symbolic sizes are floor formulas ⌊(v + b)/c⌋, which a multiple is not")
    return size * factor


# ---- layouts: norms over trailing dims, permutes, reshapes, reductions (issue 11) ----

_LAYOUTS = {0: "N (one value per sample)", 1: "N×C features", 2: "(N, L, C) tokens", 3: "N×C×H×W feature maps",
            4: "N×C×D×H×W volumes"}


def layout_name(shape) -> str:
    """What a sample shape usually holds, in the words a transformer or a CNN paper uses."""
    return _LAYOUTS.get(len(shape), f"a {len(shape) + 1}-d tensor")


def require_concrete(size, what: str):
    """A size a module's constructor needs as a number (a norm's channels or normalised shape):
    a symbolic one cannot be built, whatever the input turns out to be."""
    if is_symbolic(size):
        raise ShapeError("needs-concrete-size", f"the {what} must be a concrete size",
                         expected="a concrete input size (give --input with numbers)", found=f"symbolic size {size}",
                         hint="the module's parameters (or its constructor) depend on this size")
    return size


def trailing_shape(shape, dims: int, kind: str) -> tuple:
    """The last `dims` sizes of a sample (layer norm's normalized_shape), which must all be
    concrete: torch's LayerNorm is constructed with them."""
    if dims > len(shape):
        raise ShapeError("wrong-rank", f"{kind} over the last {dims} dims needs at least {dims} dims after the batch",
                         expected=f"at least {dims} dims after the batch, e.g. (N, L, C) tokens for dims: 1 or 2",
                         found=f"{layout_name(shape)} ({format_shape(shape) or 'no dims'})",
                         hint="lower dims:, or add a flatten/permute to make tokens first")
    trailing = tuple(shape[len(shape) - dims:])
    for size in trailing:
        require_concrete(size, f"normalised shape {format_shape(trailing)}")
    return trailing


def sample_dims(dims, shape, kind: str) -> tuple[int, ...]:
    """torch's dims (the batch is dim 0, negatives count from the end) as distinct indices into
    the sample shape. archc refuses the batch on purpose: mixing samples is never meant."""
    rank = len(shape) + 1
    listed = [dims] if isinstance(dims, int) else list(dims)
    if not listed:
        raise ShapeError("bad-dim", f"{kind} over no dims would reduce every dim, the batch included",
                         expected="a dim or a non-empty list of dims ≥ 1 (dim 0 is the batch)", found="dim []")
    out = []
    for d in listed:
        if not -rank <= d < rank:
            raise ShapeError("bad-dim", f"{kind} dim {d} is out of range",
                             expected=f"{-rank} ≤ dim < {rank} on {layout_name(shape)} (dim 0 is the batch)",
                             found=f"dim {d}")
        if d % rank == 0:
            raise ShapeError("bad-dim", f"{kind} dim {d} is the batch",
                             expected=f"1 ≤ dim < {rank} (dim 0 is the batch, which archc never mixes)", found=f"dim {d}")
        if d % rank - 1 in out:
            raise ShapeError("bad-dim", f"{kind} names dim {d % rank} twice", expected="distinct dims",
                             found=f"dims {listed}")
        out.append(d % rank - 1)
    return tuple(out)


def reduced_shape(shape, dims: tuple[int, ...], keepdim: bool) -> tuple:
    """A reduction's output: the sample dims `dims` dropped, or kept as 1 with keepdim."""
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def permuted_shape(shape, dims: list[int]) -> tuple:
    """torch.permute on a batched tensor: `dims` lists every dim, the batch included, and must
    keep the batch first (archc's shapes always lead with it)."""
    rank = len(shape) + 1
    if len(dims) != rank:
        raise ShapeError("wrong-length", "permute's dims must list every dim, the batch (0) included",
                         expected=f"{rank} dims for {layout_name(shape)}, e.g. {[0, *range(2, rank), 1][:rank]}",
                         found=f"{len(dims)}: {dims}")
    for d in dims:
        if not -rank <= d < rank:
            raise ShapeError("bad-dim", f"permute dim {d} is out of range",
                             expected=f"{-rank} ≤ dim < {rank} (dim 0 is the batch)", found=f"dims {dims}")
    resolved = [d % rank for d in dims]
    if len(set(resolved)) != rank:
        raise ShapeError("bad-dim", "permute's dims must name each dim once", expected="a permutation of "
                         f"0 … {rank - 1}", found=f"dims {dims}")
    if resolved[0] != 0:
        raise ShapeError("bad-dim", "permute must keep the batch as dim 0",
                         expected="dims starting with 0", found=f"dims {dims}",
                         hint="archc's shapes always lead with the batch; permute only the dims after it")
    full = (None, *shape)
    return tuple(full[d] for d in resolved[1:])


def _known_product(sizes, what: str, found: str) -> int:
    total = 1
    for size in sizes:
        if is_symbolic(size):
            raise ShapeError("needs-concrete-size", f"{what} of a symbolic size needs a concrete input size",
                             expected="concrete sizes (give --input with numbers, e.g. --input 3x224x224)",
                             found=found, hint="a global pool first (adaptive_avg_pool2d: {output_size: 1}) makes it size-free")
        total *= size
    return total


def resolve_sizes(sizes: list[int], count: int, what: str, found_shape: str) -> tuple[int, ...]:
    """Sizes that must multiply to `count`, one of them -1 (inferred), as torch's reshape and
    unflatten take them. Sizes are ≥ 1 or -1: a 0 would need an empty input."""
    if sizes.count(-1) > 1:
        raise ShapeError("bad-reshape", f"{what} can infer only one size (-1)", expected="at most one -1",
                         found=f"sizes {sizes}")
    if any(s == 0 for s in sizes):
        raise ShapeError("bad-reshape", f"{what} cannot make a size 0 from a non-empty input",
                         expected="sizes ≥ 1, or -1 for the one inferred", found=f"sizes {sizes}")
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    if -1 in sizes:
        if count % known:
            raise ShapeError("bad-reshape", f"{what}: the known sizes do not divide the input's {count:,} elements",
                             expected=f"a product dividing {count:,}", found=f"sizes {sizes} (product {known:,}) "
                             f"on {found_shape}")
        return tuple(count // known if s == -1 else s for s in sizes)
    if known != count:
        raise ShapeError("bad-reshape", f"{what}: the sizes must hold exactly the input's {count:,} elements",
                         expected=f"sizes multiplying to {count:,}", found=f"sizes {sizes} (product {known:,}) "
                         f"on {found_shape}")
    return tuple(sizes)


def reshaped_shape(shape, target: list[int]) -> tuple:
    """x.reshape(N, *target): the sample's elements in a new shape (one size may be -1)."""
    count = _known_product(shape, "reshaping", format_shape(shape))
    return resolve_sizes(target, count, "reshape", format_shape(shape))


def unflattened_shape(shape, dim: int, sizes: list[int]) -> tuple:
    """nn.Unflatten(dim, sizes): one dim (torch's numbering; not the batch) split into `sizes`."""
    rank = len(shape) + 1
    if not -rank <= dim < rank or dim % rank == 0:
        raise ShapeError("bad-dim", f"unflatten dim {dim} is out of range or is the batch",
                         expected=f"1 ≤ dim < {rank} (dim 0 is the batch)", found=f"dim {dim}")
    at = dim % rank - 1
    count = _known_product([shape[at]], "unflattening", f"dim {dim} of size {shape[at]}")
    return (*shape[:at], *resolve_sizes(sizes, count, "unflatten", f"dim {dim} of size {count}"), *shape[at + 1:])


def require_more_than_one(sizes, what: str) -> None:
    """Instance norm's per-sample statistics need more than one value (torch refuses one when
    training). A symbolic size records ≥ 2 when it alone decides; several symbolic sizes of
    which any one ≥ 2 would do is no single constraint, so that needs concrete sizes."""
    if any(not is_symbolic(s) and s >= 2 for s in sizes):
        return
    symbolic = [s for s in sizes if is_symbolic(s)]
    if len(symbolic) > 1:
        raise ShapeError("needs-concrete-size", f"whether the {what} holds more than one value depends on the exact sizes",
                         expected="a concrete input size (--input)", found=" × ".join(map(str, sizes)),
                         hint="it needs any one of these sizes ≥ 2, which no single constraint says")
    if symbolic and require_at_least(symbolic[0], 2, f"the {what} holds more than one value"):
        return
    raise ShapeError("too-few-values", f"the {what} holds a single value, which torch refuses to normalise when training",
                     expected="more than one spatial element per channel", found=" × ".join(map(str, sizes)) or "no spatial dims",
                     hint="normalise earlier, where the map is larger, or use a batch norm")
