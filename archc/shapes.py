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
