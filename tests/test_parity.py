"""Whatever `build` would refuse, `check` refuses first, with a located error; and the memory
estimate covers what the module really allocates. Torch is the answer key throughout."""
from __future__ import annotations

import signal
import warnings

import pytest
import torch
from conftest import check_layers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import archc
from archc.layers import KINDS
from archc.layers.init import FUNCTIONS, InitError, check_values
from archc.passes.infer import memory_estimate

# -- one case per class of "check passed, build crashed" ----------------------------------------
# (id, input shape, kind, args, error code)
REFUSED = [
    ("avg_pool3d-kernel-larger-than-unpadded-input", (1, 2, 4, 4), "avg_pool3d", {"kernel_size": 3, "padding": 1}, "kernel-too-large"),
    ("avg_pool3d-one-dim-smaller-than-its-kernel", (1, 4, 4, 2), "avg_pool3d", {"kernel_size": [1, 1, 3], "padding": [0, 0, 1]}, "kernel-too-large"),
    ("avg_pool1d-has-no-divisor_override", (1, 4), "avg_pool1d", {"kernel_size": 2, "divisor_override": 2}, "unknown-argument"),
    ("adaptive_avg_pool1d-null-output-size", (1, 4), "adaptive_avg_pool1d", {"output_size": [None]}, "bad-value"),
    ("adaptive_max_pool1d-null-output-size", (1, 4), "adaptive_max_pool1d", {"output_size": [None]}, "bad-value"),
    ("max_pool2d-stride-beyond-int32", (1, 4, 4), "max_pool2d", {"kernel_size": 2, "stride": 2**31}, "bad-value"),
    ("max_pool3d-kernel-10e18", (1, 2, 2, 2), "max_pool3d", {"kernel_size": 10**18, "ceil_mode": True}, "bad-value"),
    ("avg_pool2d-divisor-beyond-int64", (1, 4, 4), "avg_pool2d", {"kernel_size": 2, "divisor_override": 2**63}, "bad-value"),
    ("conv2d-dilation-beyond-int64", (1, 4, 4), "conv2d", {"out_channels": 1, "kernel_size": 1, "dilation": 2**64}, "bad-value"),
    ("local_response_norm-size-10e18", (8, 5, 5), "local_response_norm", {"size": 10**18}, "bad-value"),
    ("batch_norm-negative-eps", (3, 4, 4), "batch_norm2d", {"eps": -1}, "bad-value"),
    ("batch_norm-zero-eps-without-running-stats", (3, 4, 4, 4), "batch_norm3d", {"eps": 0, "track_running_stats": False}, "bad-value"),
    ("leaky_relu-slope-beyond-float32", (3, 4, 4), "leaky_relu", {"negative_slope": 1e300}, "bad-value"),
    ("elu-alpha-beyond-float32", (3, 4, 4), "elu", {"alpha": -1e39}, "bad-value"),
]


@pytest.mark.parametrize("in_shape,kind,args,code", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_check_refuses_what_build_would_crash_on(in_shape, kind, args, code):
    with pytest.raises((archc.ArchcError, archc.ArchcErrors)) as info:
        check_layers([{kind: args}], in_shape)
    errors = getattr(info.value, "errors", [info.value])
    assert {e.code for e in errors} == {code}
    assert all(e.loc is not None and e.loc.line > 0 for e in errors)


def test_the_refused_layers_really_crash_in_torch():
    """The answer key: each REFUSED row, given to torch directly, is refused by torch."""
    torch_cls = {"avg_pool3d": nn.AvgPool3d, "avg_pool1d": nn.AvgPool1d, "max_pool2d": nn.MaxPool2d,
                 "max_pool3d": nn.MaxPool3d, "avg_pool2d": nn.AvgPool2d, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}
    for _, in_shape, kind, args, _ in REFUSED:
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
        if kind.startswith("adaptive"):
            cls = getattr(nn, "Adaptive" + ("Avg" if "avg" in kind else "Max") + "Pool1d")
            make = lambda: cls(kwargs["output_size"])  # noqa: E731
        elif kind == "conv2d":
            make = lambda: nn.Conv2d(in_shape[0], **kwargs)  # noqa: E731
        elif kind.startswith("batch_norm"):
            make = lambda: getattr(nn, "BatchNorm" + kind[-2:])(in_shape[0], **kwargs).train()  # noqa: E731
        elif kind == "local_response_norm":
            make = lambda: nn.LocalResponseNorm(**kwargs)  # noqa: E731
        else:
            make = lambda: torch_cls[kind](**kwargs)  # noqa: E731
        with pytest.raises((RuntimeError, ValueError, TypeError, OverflowError)):
            make()(torch.zeros(2, *in_shape))


# -- init -----------------------------------------------------------------------------------------
INIT_REFUSED = [
    ("uniform-a-above-b", {"weight": {"uniform": {"a": 1, "b": 0}}}),
    ("uniform-nan-bound", {"weight": {"uniform": {"a": float("nan")}}}),
    ("uniform-bound-beyond-float32", {"weight": {"uniform": {"a": -1e300, "b": 1e300}}}),
    ("normal-negative-std", {"weight": {"normal": {"std": -1}}}),
    ("normal-nan-std", {"weight": {"normal": {"std": float("nan")}}}),
    ("constant-overflows-float32", {"weight": 1e300}),
    ("constant-int-beyond-64-bits", {"weight": 10**30}),
    ("constant-without-value", {"weight": {"constant": {}}}),
    ("trunc_normal-a-above-b", {"weight": {"trunc_normal": {"a": 1, "b": 0}}}),
    ("trunc_normal-zero-std", {"weight": {"trunc_normal": {"std": 0}}}),
    ("trunc_normal-window-far-in-the-tail", {"weight": {"trunc_normal": {"a": 30, "b": 1e30}}}),
    ("kaiming-nan-slope", {"weight": {"kaiming_normal": {"a": float("nan")}}}),
    ("kaiming-slope-squared-overflows", {"weight": {"kaiming_uniform": {"a": 1e300}}}),
    ("xavier-negative-gain", {"weight": {"xavier_normal": {"gain": -1}}}),
    ("xavier_uniform-infinite-gain", {"weight": {"xavier_uniform": {"gain": float("inf")}}}),
    ("orthogonal-on-a-bias", {"bias": "orthogonal"}),
]


@pytest.mark.parametrize("init", [r[1] for r in INIT_REFUSED], ids=[r[0] for r in INIT_REFUSED])
def test_check_refuses_init_values_torch_refuses(init):
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"linear": {"out_features": 3, "init": init}}], (4,))
    assert info.value.code == "bad-init"
    assert info.value.loc is not None and info.value.loc.line > 0


@pytest.mark.parametrize("init", [{"weight": float("nan")}, {"weight": {"constant": {"val": float("inf")}}},
                                  {"weight": [[1e300] * 4] * 3}, {"weight": {"trunc_normal": {"a": 3, "b": 6}}},
                                  {"weight": {"normal": {"mean": float("inf")}}}],
                         ids=["nan-constant", "inf-constant", "huge-literal", "trunc_normal-tail-window", "inf-mean"])
@pytest.mark.filterwarnings("ignore:mean is more than 2 std")  # the tail window is the point of that row
def test_init_values_torch_accepts_still_build(init):
    model = archc.build(check_layers([{"linear": {"out_features": 3, "init": init}}], (4,)))
    model(torch.zeros(2, 4))


_NUMBERS = st.one_of(
    st.sampled_from([0, 1, -1, 2, 0.5, -0.5, 0.02, 3, 5, 30, -30, 1e-300, 3.4e38, 3.5e38, 1e300, -1e300, 2**63, 2**64, 10**30,
                     float("nan"), float("inf"), -float("inf")]),
    st.floats(-10, 10), st.integers(-50, 50))


@st.composite
def _init_calls(draw):
    name = draw(st.sampled_from(sorted(FUNCTIONS)))
    args = {}
    for arg in FUNCTIONS[name]:
        if draw(st.booleans()):
            args[arg] = (draw(st.sampled_from(["fan_in", "fan_out"])) if arg == "mode" else
                         draw(st.sampled_from(["relu", "leaky_relu", "tanh", "selu", "linear"])) if arg == "nonlinearity" else
                         draw(_NUMBERS))
    if name == "constant":
        args["val"] = draw(_NUMBERS)
    return name, args, draw(st.sampled_from([(3, 4), (8, 3, 3, 3), (5, 1)]))


def _alarm(*_):
    raise TimeoutError


@settings(max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(_init_calls())
def test_init_check_agrees_with_torch_nn_init(call):
    """For random init arguments: check refuses ⇔ torch.nn.init raises (or loops for seconds)."""
    name, args, shape = call
    try:
        check_values(name, args, shape)
        archc_accepts = True
    except InitError:
        archc_accepts = False
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(10)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            getattr(nn.init, name + "_")(torch.empty(shape), **args)
        torch_accepts = True
    except TimeoutError:
        torch_accepts = False
    except (RuntimeError, ValueError, ArithmeticError):
        torch_accepts = False
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert archc_accepts == torch_accepts, (name, args, shape)


# -- every kind against torch ---------------------------------------------------------------------
_EDGE_INTS = st.sampled_from([0, 1, 2, 3, 5, -1, 2**31 - 1, 2**31, 10**18, 2**63, 2**64])
_EDGE_FLOATS = st.sampled_from([0.0, 0.5, 1.0, -1.0, 1e-5, 1e300, -1e300, 3.5e38, float("nan"), float("inf"), -float("inf")])
_VALUES = st.one_of(_EDGE_INTS, st.integers(0, 6), _EDGE_FLOATS, st.none(), st.booleans(),
                    st.lists(st.one_of(st.integers(0, 6), _EDGE_INTS, st.none()), max_size=4),
                    st.sampled_from(["same", "valid", "reflect", "circular", "tanh"]))
_SHAPES = {1: st.tuples(st.integers(1, 6)), 2: st.tuples(st.integers(1, 6), st.integers(1, 9)),
           3: st.tuples(st.integers(1, 6), st.integers(1, 9), st.integers(1, 9)),
           4: st.tuples(st.integers(1, 4), st.integers(1, 6), st.integers(1, 6), st.integers(1, 6))}
# a working argument set per kind, which the property then perturbs one or two arguments of
_BASE = {"conv": {"out_channels": 2, "kernel_size": 1}, "max_pool": {"kernel_size": 1}, "avg_pool": {"kernel_size": 1},
         "adaptive": {"output_size": 1}, "linear": {"out_features": 2}, "local_response_norm": {"size": 2},
         "slice_channels": {"stop": 1}, "channel_shuffle": {"groups": 1}, "interpolate": {"scale_factor": 1.0},
         "pixel_shuffle": {"upscale_factor": 1}, "pixel_unshuffle": {"downscale_factor": 1},
         "group_norm": {"num_groups": 1}, "permute": {"dims": [0, 1]}, "reshape": {"shape": [-1]},
         "unflatten": {"dim": 1, "sizes": [-1]}, "mean": {"dim": -1}, "amax": {"dim": -1}, "sum": {"dim": -1},
         "stochastic_depth": {"p": 0.5}, "scale": {"factor": 2.0}, "full_like": {"value": 8.0},
         "select": {"dim": 1, "index": 0}, "multihead_attention": {"num_heads": 1}}
# where archc refuses on purpose what torch would accept (documented in docs/design.md)
_ARCHC_ONLY = {"linear-on-spatial-input", "beyond-32-bits", "unbatched-input", "softmax-over-the-batch", "empty-size", "strict-types",
               "the-batch-mixed"}


def _base_args(kind: str) -> dict:
    for prefix, args in _BASE.items():
        if kind.startswith(prefix):
            return dict(args)
    return {}


@st.composite
def _layers(draw):
    # the multi-input and multi-output kinds need a program around them: tests/test_dataflow.py
    kind = draw(st.sampled_from(sorted(k for k in KINDS if KINDS[k].family not in ("merge", "split"))))
    args = _base_args(kind)
    fields = list(KINDS[kind].Args.model_fields)
    for name in draw(st.lists(st.sampled_from(fields), max_size=2, unique=True)) if fields else []:
        args[name] = draw(_VALUES)
    rank = draw(st.sampled_from([1, 2, 3, 4]))
    return kind, args, draw(_SHAPES[rank])


def _archc_only_reason(kind, args, shape, error) -> str | None:
    if kind == "linear" and error.code == "wrong-rank" and len(shape) > 1:
        return "linear-on-spatial-input"
    if error.code == "bad-value" and ("2147483647" in error.format() or "2,147,483,647" in error.format()):
        return "beyond-32-bits"
    if error.code == "bad-value" and "greater than 0" in error.format():
        return "empty-size"  # torch makes empty tensors of a size 0; archc refuses it as a mistake
    if error.code == "bad-value" and any(word in error.format() for word in (
            "true or false", "a whole number", "a list", "a number", "text")):
        return "strict-types"  # archc takes no 0 for False, no True for 1, no string for a number
    if error.code == "wrong-rank":
        return "unbatched-input"  # torch also takes tensors without a batch dim; archc's shapes never are
    if error.code == "output-too-small" and kind.startswith("conv_transpose") and args.get("groups", 1) != 1:
        return "empty-size"  # torch returns an empty map for a grouped transposed conv, refuses the ungrouped
    if error.code == "bad-dim" and kind in ("softmax", "log_softmax"):
        return "softmax-over-the-batch"  # torch accepts dim 0; it is never meant
    if error.code == "bad-dim" and "batch" in error.message:
        return "the-batch-mixed"  # torch reduces over, permutes or unflattens dim 0 too; archc keeps it apart
    return None


@settings(max_examples=500, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(_layers())
def test_check_refuses_exactly_what_torch_refuses(layer):
    """For random arguments of every kind: check refuses ⇔ building the torch module and running
    it (train and eval) raises; when both accept, the shapes agree."""
    from conftest import spec_text

    kind, args, shape = layer
    try:
        text = spec_text([{kind: args} if args else kind], shape)
    except Exception:  # nothing YAML can hold
        return
    limits = archc.Limits(max_memory=2**30)
    try:
        graph = archc.check("t.yaml", text=text, limits=limits)
    except (archc.ArchcError, archc.ArchcErrors) as exc:
        errors = exc.errors if isinstance(exc, archc.ArchcErrors) else [exc]
        assert all(e.loc is not None for e in errors)
        if any(_archc_only_reason(kind, args, shape, e) in _ARCHC_ONLY for e in errors):
            return
        if any(e.code in ("too-large", "too-many-params") for e in errors):
            return  # bounded on purpose, before torch would try
        # torch must refuse too: build without archc's checks, from the same torch call
        assert _torch_refuses_raw(kind, args, shape), (kind, args, shape, [e.code for e in errors])
        return
    module = archc.build(graph)
    x = torch.zeros(2, *shape)
    with torch.no_grad():
        train_out = module.train()(x)
        eval_out = module.eval()(x)
    assert tuple(train_out.shape[1:]) == tuple(eval_out.shape[1:]) == graph.root.out_shape


def _torch_refuses_raw(kind, args, shape) -> bool:
    """Whether torch itself refuses this layer, built from its torch.nn class with the spec's
    arguments as they are (archc's schema bypassed)."""
    from archc import runtime

    call = KINDS[kind].torch_call(kind, KINDS[kind].Args.model_construct(**args), shape) \
        if kind not in ("slice_channels", "layer_norm") else None
    if kind == "slice_channels":
        return True  # archc's own runtime module: its rules are archc's (start < stop ≤ channels)
    cls = call.cls if call else "LayerNorm"
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    try:
        if cls == "FrozenBatchNorm2d":  # archc's runtime module (torchvision's arithmetic)
            module = runtime.FrozenBatchNorm2d(shape[0], **kwargs)
        elif cls == "LayerNorm":  # normalized_shape from the sample's last `dims` sizes, as given
            module = nn.LayerNorm(tuple((2, *shape)[-kwargs.pop("dims", 1):]), **kwargs)
        elif call.runtime:  # archc's runtime modules run torch's own operations on the raw values
            module = getattr(runtime, cls)(*call.args, **call.kwargs)
        elif cls == "Unflatten":
            module = nn.Unflatten(kwargs["dim"], kwargs["sizes"])
        elif cls.startswith(("Conv", "Linear", "BatchNorm", "GroupNorm", "InstanceNorm")):
            first = {"Conv": "in_channels", "Linear": "in_features", "BatchNorm": "num_features",
                     "GroupNorm": "num_channels", "InstanceNorm": "num_features"}
            name = next(v for k, v in first.items() if cls.startswith(k))
            module = getattr(nn, cls)(**{name: shape[0]}, **kwargs)
        elif cls.startswith("Adaptive"):
            module = getattr(nn, cls)(kwargs.pop("output_size"), **kwargs)
        elif cls == "LocalResponseNorm":
            module = nn.LocalResponseNorm(**kwargs)
        elif cls in ("Softmax", "LogSoftmax") and "dim" not in kwargs:
            module = getattr(nn, cls)(dim=1, **kwargs)
        else:
            module = getattr(nn, cls)(**kwargs)
        x = torch.zeros(2, *shape)
        with torch.no_grad():
            module.train()(x)
            module.eval()(x)
    except (RuntimeError, ValueError, TypeError, OverflowError, IndexError):
        return True
    return False


# -- memory --------------------------------------------------------------------------------------
def test_memory_estimate_counts_local_response_norms_padded_square():
    graph = check_layers([{"local_response_norm": {"size": 10**6}}], (8, 5, 5))
    padded_square = (8 + 10**6 - 1) * 5 * 5 * 4
    assert memory_estimate(graph) >= padded_square


def test_huge_local_response_norm_is_refused_at_check_not_tried_at_build():
    with pytest.raises(archc.ArchcError) as info:
        check_layers([{"local_response_norm": {"size": 10**9}}], (8, 5, 5))
    assert info.value.code == "too-large"
    assert info.value.loc.line > 1  # at the layer, not the top of the file
    assert "--max-memory" in info.value.hint


def test_memory_estimate_counts_a_padding_modes_padded_copy():
    graph = check_layers([{"conv2d": {"out_channels": 1, "kernel_size": 1, "padding": 100, "stride": 100,
                                      "padding_mode": "reflect"}}], (3, 101, 101))
    assert memory_estimate(graph) >= 3 * 301 * 301 * 4


def test_summary_shows_the_working_memory():
    from archc.emit.summary import summary_json, summary_text

    graph = check_layers([{"local_response_norm": {"size": 10**6}}], (8, 5, 5))
    assert summary_json(graph)["totals"]["workspace_bytes"] >= (8 + 10**6 - 1) * 25 * 4
    assert "working memory per sample: 95.37 MiB" in summary_text(graph)


def test_default_memory_limit_fits_this_machine():
    import os

    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < archc.Limits().max_memory < physical
