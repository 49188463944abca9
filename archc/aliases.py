"""Names from other frameworks (PyTorch classes, Keras layers, common shorthands) → archc's
kind and argument names: the one table the "did you mean" hints consult for foreign spellings.

Kinds are compared without case or separators ('MaxPool2d', 'max-pool2d' → 'maxpool2d'), and
a trailing 1d/2d/3d is split off, so one entry covers every spelling and rank: 'maxpool' with
a 2-d input means max_pool2d, 'MaxPooling1D' means max_pool1d.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from archc.errors import closest, squashed

# squashed foreign name (without a trailing 1d/2d/3d) → archc kind; {d} is the spatial rank
KIND_ALIASES: dict[str, str] = {
    "conv": "conv{d}d", "convolution": "conv{d}d", "convnd": "conv{d}d",
    "bn": "batch_norm{d}d", "batchnorm": "batch_norm{d}d", "batchnormalization": "batch_norm{d}d", "bnorm": "batch_norm{d}d",
    "pool": "max_pool{d}d", "maxpool": "max_pool{d}d", "maxpooling": "max_pool{d}d", "mp": "max_pool{d}d",
    "avgpool": "avg_pool{d}d", "averagepool": "avg_pool{d}d", "averagepooling": "avg_pool{d}d",
    "adaptiveavgpool": "adaptive_avg_pool{d}d", "adaptivemaxpool": "adaptive_max_pool{d}d",
    "globalavgpool": "adaptive_avg_pool{d}d", "globalaveragepooling": "adaptive_avg_pool{d}d", "gap": "adaptive_avg_pool{d}d",
    "globalmaxpool": "adaptive_max_pool{d}d", "globalmaxpooling": "adaptive_max_pool{d}d",
    "fc": "linear", "dense": "linear", "fullyconnected": "linear", "affine": "linear", "innerproduct": "linear",
    "lrn": "local_response_norm", "localresponsenormalization": "local_response_norm",
    "spatialdropout": "dropout{d}d", "drop": "dropout",
    "swish": "silu", "hswish": "hardswish", "hsigmoid": "hardsigmoid", "lrelu": "leaky_relu",
    "logsoftmax": "log_softmax", "id": "identity", "noop": "identity",
    "flat": "flatten",
    "upsample": "interpolate", "upsampling": "interpolate", "upsamplingnearest": "interpolate",
    "upsamplingbilinear": "interpolate", "resize": "interpolate", "resizing": "interpolate",
    "transpose": "permute", "swapaxes": "permute", "swapdims": "permute",
    "cat": "concat", "concatenate": "concat", "multiply": "mul",
    "convtranspose": "conv_transpose{d}d", "deconv": "conv_transpose{d}d", "deconvolution": "conv_transpose{d}d",
    "convtranspose2dlayer": "conv_transpose{d}d",
    "layernormalization": "layer_norm", "groupnormalization": "group_norm", "instancenorm": "instance_norm{d}d",
    "instancenormalization": "instance_norm{d}d",
    "mha": "multihead_attention", "multiheadattention": "multihead_attention", "attention": "multihead_attention",
    "droppath": "stochastic_depth",
    "seq": "sequential", "block": "sequential",
}
# global pooling is adaptive pooling to size 1
KIND_ARGUMENTS: dict[str, dict[str, Any]] = {
    "globalavgpool": {"output_size": 1}, "globalaveragepooling": {"output_size": 1}, "gap": {"output_size": 1},
    "globalmaxpool": {"output_size": 1}, "globalmaxpooling": {"output_size": 1},
}

# foreign argument name → archc's (PyTorch's) name; used only where the target exists
ARGUMENT_ALIASES: dict[str, str] = {
    "units": "out_features", "features": "out_features", "out_dim": "out_features", "output_dim": "out_features",
    "num_outputs": "out_features", "num_output": "out_channels",
    "filters": "out_channels", "channels": "out_channels", "out_ch": "out_channels", "num_filters": "out_channels",
    "kernel": "kernel_size", "ksize": "kernel_size", "pool_size": "kernel_size", "window": "kernel_size",
    "strides": "stride", "dilation_rate": "dilation", "pad": "padding",
    "rate": "p", "drop_rate": "p", "dropout": "p", "prob": "p",
    "use_bias": "bias", "epsilon": "eps", "axis": "dim", "alpha": "negative_slope",
    "beta_initializer": "init", "kernel_initializer": "init", "bias_initializer": "init",
}
# arguments archc works out itself
INFERRED = ("in_channels", "in_features", "num_features", "input_dim", "input_size", "input_shape", "in_dim")
# foreign arguments with no counterpart: what to do instead
NO_COUNTERPART: dict[str, str] = {
    "activation": "archc has no activation argument: add the activation as its own layer after this one, e.g. '- relu'",
    "name_scope": "use 'name:' to name a layer",
    "trainable": "'trainable' is written on the layer itself, e.g. 'conv2d: {…, trainable: false}'",
}

_DIM_SUFFIX = re.compile(r"^(.*?)([123])d$")


def _split_rank(name: str) -> tuple[str, int | None]:
    match = _DIM_SUFFIX.match(name)
    return (match.group(1), int(match.group(2))) if match else (name, None)


def _with_rank(template: str, rank: int | None, default_rank: int) -> str:
    return template.format(d=rank or default_rank)


def kind_for(name: str, choices, default_rank: int = 2) -> tuple[str, dict] | None:
    """The archc kind a foreign or misspelt kind name means, and arguments it implies
    (global pooling → output_size: 1); the rank comes from the name or else `default_rank`."""
    choices = set(choices)
    base, rank = _split_rank(squashed(name))
    if base in KIND_ALIASES:
        target = _with_rank(KIND_ALIASES[base], rank, default_rank)
        if target in choices:
            return target, dict(KIND_ARGUMENTS.get(base, {}))
    match = closest(name, choices)
    if match is None:
        return None
    # difflib cannot tell max_pool1d from max_pool3d: take the rank the input has
    base_match, match_rank = _split_rank(match)
    if match_rank is not None and rank is None:
        preferred = f"{match[:-2]}{default_rank}d"
        if preferred in choices:
            match = preferred
    return match, {}


def argument_hint(key: str, allowed) -> str:
    """Why an argument is not taken, and what to write instead ('' when nothing helps)."""
    allowed = list(allowed)
    if key in INFERRED:
        return f"'{key}' is inferred from the input; remove it"
    target = ARGUMENT_ALIASES.get(key) or ARGUMENT_ALIASES.get(key.lower())
    if target in allowed:
        return f"did you mean '{target}'? (archc uses PyTorch's argument names)"
    if key in NO_COUNTERPART:
        return NO_COUNTERPART[key]
    match = closest(key, allowed)
    return f"did you mean '{match}'?" if match else ""


def kind_hint(kind: str, args: dict, choices, fields_of: Callable[[str], list[str]], default_rank: int = 2) -> str:
    """'did you mean' for an unknown kind; with arguments written the Keras/PyTorch way, the
    whole layer rewritten in archc's names: 'dense: {units: 10}' → 'linear: {out_features: 10}'."""
    found = kind_for(kind, choices, default_rank)
    if found is None:
        return ""
    target, implied = found
    fields = fields_of(target)
    if not implied and all(str(key) in fields for key in args):
        return f"did you mean '{target}'?"  # its arguments are archc's already
    if any(_foreign(str(key), fields) for key in args):
        # arguments the suggested kind has no use for: show its own rather than a rewrite that fails again
        takes = f"its arguments: {', '.join(fields)}" if fields else "it takes no arguments"
        return f"did you mean '{target}'? ({takes})"
    return f"did you mean '{target}'? write {rewrite_layer(target, {**implied, **dict(args)}, fields)}"


def _foreign(key: str, fields: list[str]) -> bool:
    """Whether argument `key` has no place in a layer with `fields`, even renamed (inferred
    arguments and Keras' activation are dropped by the rewrite, so they are not foreign)."""
    if key in INFERRED or key in NO_COUNTERPART:
        return False
    return ARGUMENT_ALIASES.get(key, key) not in fields and key not in fields


def rewrite_layer(target: str, args: dict, fields: list[str]) -> str:
    """'target: {…}' with foreign argument names renamed and what has no counterpart left out
    (with a word on why)."""
    kept, dropped = [], []
    for key, value in args.items():
        key = str(key)
        if key in INFERRED:
            dropped.append(f"'{key}' is inferred")
            continue
        if key == "activation" and isinstance(value, str):
            dropped.append(f"then '- {value.lower()}' as its own layer")
            continue
        if key in NO_COUNTERPART and key not in fields:
            dropped.append(NO_COUNTERPART[key])
            continue
        renamed = ARGUMENT_ALIASES.get(key, key)
        kept.append(f"{renamed if renamed in fields else key}: {_short(value)}")
    text = f"'{target}: {{{', '.join(kept)}}}'" if kept else f"'{target}'"
    return text + (f" ({'; '.join(dropped)})" if dropped else "")


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def misread_kind_hint(kind: str, args: dict) -> str:
    """Hints for archc kinds that share a name with another framework's different layer."""
    if kind == "dense" and "layers" not in args:
        return ("archc's 'dense' is a DenseNet block (units concatenated onto their input); a fully connected "
                "layer is " + rewrite_layer("linear", dict(args), ["out_features", "bias"]))
    return ""
