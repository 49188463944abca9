"""In-place layers whose input is read again later are refused by check (passes/aliasing.py).

Each hazardous spec is also built with the aliasing check skipped, to prove that torch
really computes something else than the out-of-place network: the refusal is not a
false alarm. Safe in-place uses (after a layer that makes a new tensor) stay allowed.
"""
from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import archc
from archc import runtime
from archc.emit.torch_module import build_module
from archc.errors import ArchcError, ArchcErrors
from archc.layers import KINDS
from archc.passes.aliasing import VIEW_KINDS
from archc.passes.expand import expand
from archc.passes.infer import infer
from archc.spec.load import load_spec

HEAD = "archc: 1\nname: net\ninput: [4, 6, 6]\nlayers:\n"
CONV = "conv2d: {out_channels: 4, kernel_size: 3, padding: 1}"


def _unchecked(text: str) -> nn.Module:
    """The module archc would build without the aliasing pass."""
    return build_module(infer(expand(load_spec("spec.yaml", text=text), archc.Limits(), None)))


def _outputs_differ(text: str, train: bool = False) -> bool:
    """Does the in-place network compute something else than the same network out of place?"""
    torch.manual_seed(0)
    inplace = _unchecked(text).train(train)
    outplace = _unchecked(text.replace("inplace: true", "inplace: false")).train(train)
    outplace.load_state_dict(inplace.state_dict())
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        torch.manual_seed(1)
        a = inplace(x.clone())
        torch.manual_seed(1)
        b = outplace(x.clone())
    return not torch.equal(a, b)


def _refusal(text: str) -> ArchcError:
    with pytest.raises(ArchcError) as info:
        archc.check("spec.yaml", text=text)
    assert info.value.code == "inplace-aliases"
    return info.value


HAZARDS = {
    "residual identity shortcut": HEAD + f"  - residual: {{body: [relu: {{inplace: true}}, {CONV}]}}\n",
    "residual module shortcut": HEAD + f"  - residual: {{body: [relu: {{inplace: true}}, {CONV}], "
                                       "shortcut: [conv2d: {out_channels: 4, kernel_size: 1}]}\n",
    "from: a kept layer": HEAD + f"  - {CONV[:-1]}, name: a}}\n  - relu: {{inplace: true}}\n  - {CONV[:-1]}, from: a}}\n",
    "from: input": HEAD + "  - relu: {inplace: true, name: r}\n  - identity: {from: [input, r], merge: add}\n",
    "parallel sibling": HEAD + f"  - parallel: {{branches: {{a: [relu: {{inplace: true}}], b: [{CONV}]}}}}\n",
    "parallel sibling's output aliases the input": HEAD + "  - parallel: {branches: {a: [identity], b: [leaky_relu: {inplace: true}]}}\n",
    "dense unit starting with relu": HEAD + f"  - dense: {{units: 2, layers: [relu: {{inplace: true}}, {CONV}]}}\n",
    "first op of a nested sequential": HEAD + f"  - residual: {{body: [sequential: {{layers: [elu: {{inplace: true}}, {CONV}]}}]}}\n",
    "after an identity": HEAD + f"  - residual: {{body: [identity, hardswish: {{inplace: true}}, {CONV}]}}\n",
    "after a channel slice": HEAD + "  - parallel: {branches: {a: [slice_channels: {start: 0, stop: 2}, relu6: {inplace: true}],"
                                    " b: [slice_channels: {start: 1, stop: 3}]}}\n",
    "after a flatten": HEAD + "  - parallel: {branches: {a: [flatten, silu: {inplace: true}], b: [flatten]}}\n",
    "after a dropout (eval: the input itself)": HEAD + f"  - residual: {{body: [dropout, relu: {{inplace: true}}, {CONV}]}}\n",
}


@pytest.mark.parametrize("situation", HAZARDS)
def test_an_inplace_layer_whose_input_is_read_later_is_refused(situation):
    text = HAZARDS[situation]
    assert _outputs_differ(text), "the spec does not compute wrong values in place: not a hazard"
    error = _refusal(text)
    assert error.loc is not None and "inplace" in text.splitlines()[error.loc.line - 1]
    assert "read afterwards by" in error.found and "inplace: true" in error.hint


def test_inplace_dropout_in_training_that_a_shortcut_reads_is_refused():
    text = HEAD + f"  - residual: {{body: [dropout: {{inplace: true}}, {CONV}]}}\n"
    assert _outputs_differ(text, train=True)
    _refusal(text)


def test_the_refusal_names_what_reads_the_value():
    error = _refusal(HAZARDS["residual identity shortcut"])
    assert "identity shortcut of the residual" in error.found
    error = _refusal(HAZARDS["from: a kept layer"])
    assert "'from:'" in error.found and error.loc.line == 6
    error = _refusal(HAZARDS["parallel sibling"])
    assert "branch 'b'" in error.found


SAFE = {
    "after a batch norm in a residual body": HEAD + f"  - residual: {{body: [{CONV}, batch_norm2d, relu: {{inplace: true}}, {CONV}]}}\n",
    "after a conv in a chain whose from: reads another layer": HEAD + f"  - {CONV[:-1]}, name: a}}\n  - {CONV}\n"
                                                                       "  - relu: {inplace: true, name: r}\n  - identity: {from: [a, r], merge: add}\n",
    "a dense unit's norm then relu": HEAD + f"  - dense: {{units: 2, layers: [batch_norm2d, relu: {{inplace: true}}, {CONV}]}}\n",
    "on the network's input, read by nothing else": HEAD + f"  - relu: {{inplace: true}}\n  - {CONV}\n",
    "after the merge of a residual": HEAD + f"  - residual: {{body: [{CONV}], after: [relu: {{inplace: true}}]}}\n",
    "in the last branch, after its own conv": HEAD + f"  - parallel: {{branches: {{a: [identity], b: [{CONV}, relu: {{inplace: true}}]}}}}\n",
}


@pytest.mark.parametrize("situation", SAFE)
def test_a_safe_inplace_layer_is_allowed(situation):
    text = SAFE[situation]
    archc.check("spec.yaml", text=text)
    assert not _outputs_differ(text)


def test_the_view_kinds_are_exactly_those_whose_output_can_share_the_input_storage():
    """Torch is the answer key: every kind, built with small arguments, in train and eval mode."""
    args = {"conv": {"out_channels": 4, "kernel_size": 1}, "conv_transpose": {"out_channels": 4, "kernel_size": 1},
            "linear": {"out_features": 4}, "max_pool": {"kernel_size": 1}, "avg_pool": {"kernel_size": 1},
            "adaptive": {"output_size": 6}, "local_response_norm": {"size": 1}, "slice_channels": {"start": 0, "stop": 2},
            "channel_shuffle": {"groups": 2}, "pixel_shuffle": {"upscale_factor": 1},
            "pixel_unshuffle": {"downscale_factor": 1}, "interpolate": {"scale_factor": 1.0}, "dropout": {"p": 0.0},
            "group_norm": {"num_groups": 2}, "permute": {"dims": [0, 2, 1, 3]}, "reshape": {"shape": [4, 36]},
            "unflatten": {"dim": 1, "sizes": [2, 2]}, "mean": {"dim": 2}, "amax": {"dim": 2}, "sum": {"dim": 2},
            "stochastic_depth": {"p": 0.5}, "chunk": {"chunks": 2}, "split": {"sizes": [1, 3]},
            "scale": {"factor": 2.0}, "full_like": {"value": 8.0},
            "multihead_attention": {"num_heads": 2}, "select": {"dim": 1, "index": 0},
            "shifted_window_attention": {"num_heads": 2, "window_size": 2, "shift_size": 1}}
    shares = set()
    for kind, kind_class in KINDS.items():
        given_args = next((a for prefix, a in args.items() if kind.startswith(prefix)), {})
        if "1d" in kind or kind.endswith("linear"):
            shape = (4, 6)
        elif "3d" in kind:
            shape = (4, 6, 6, 6)
        else:
            shape = (4, 6, 6)
        if kind == "linear":
            shape = (4,)
        if kind == "multihead_attention":
            shape = (6, 4)  # tokens
        if kind == "shifted_window_attention":
            shape = (4, 4, 6)  # a channels-last map
        a = kind_class.Args.model_validate(given_args)
        kind_class.infer(kind, a, shape)
        call = kind_class.torch_call(kind, a, shape)
        module = getattr(runtime if call.runtime else nn, call.cls)(*call.args, **call.kwargs)
        x = torch.randn(2, *shape)
        for train in (False, True):
            y = module.train(train)(x)
            pieces = y if isinstance(y, tuple) else (y,)  # chunk and split return several
            if any(p.untyped_storage().data_ptr() == x.untyped_storage().data_ptr() for p in pieces):
                shares.add(kind)
    assert shares == VIEW_KINDS


# -- the property: random small networks with random in-place flags are refused or exact -----
_ACT = st.sampled_from(["relu", "relu6", "leaky_relu", "elu", "silu", "hardswish", "hardsigmoid"])


def _activation(draw) -> str:
    return f"{draw(_ACT)}: {{inplace: {str(draw(st.booleans())).lower()}}}"


@st.composite
def _layers(draw, depth=0) -> list[str]:
    items = []
    for _ in range(draw(st.integers(1, 3))):
        choice = draw(st.sampled_from(["act", "act", "conv", "identity", "bn", "residual", "parallel", "dense"]
                                      if depth < 2 else ["act", "conv", "identity", "bn"]))
        if choice == "act":
            items.append(_activation(draw))
        elif choice == "conv":
            items.append(CONV)
        elif choice == "identity":
            items.append("identity")
        elif choice == "bn":
            items.append("batch_norm2d")
        elif choice == "residual":
            body = ", ".join(draw(_layers(depth + 1)))
            items.append(f"residual: {{body: [{body}]}}")
        elif choice == "parallel":
            a, b = (", ".join(draw(_layers(depth + 1))) for _ in range(2))
            items.append(f"parallel: {{merge: add, branches: {{a: [{a}], b: [{b}]}}}}")
        else:  # a dense unit, then a convolution back to 4 channels
            body = ", ".join(draw(_layers(depth + 1)))
            items.append(f"sequential: {{layers: [dense: {{units: 1, layers: [{body}, {CONV}]}}, {CONV}]}}")
    return items


@st.composite
def _networks(draw) -> str:
    items = draw(_layers())
    lines = [f"  - {item}\n" for item in items]
    if draw(st.booleans()):  # a chain: name the first layer and read it again at the end
        lines[0] = f"  - sequential: {{name: first, layers: [{items[0]}]}}\n"
        lines.append("  - identity: {name: last}\n  - identity: {from: [first, last], merge: add}\n")
    return HEAD + "".join(lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_networks())
def test_random_networks_with_inplace_flags_are_refused_or_compute_the_out_of_place_values(text):
    try:
        archc.check("spec.yaml", text=text)
    except (ArchcError, ArchcErrors) as refusal:
        errors = getattr(refusal, "errors", [refusal])
        assert {e.code for e in errors} == {"inplace-aliases"}, refusal.format()
        return
    assert not _outputs_differ(text), text


SAVED_OUTPUT_CASES = [
    "relu", "relu: {inplace: true}", "relu6", "leaky_relu", "leaky_relu: {inplace: true}", "elu", "elu: {inplace: true}",
    "gelu", "silu", "silu: {inplace: true}", "sigmoid", "tanh", "hardswish", "hardsigmoid: {inplace: true}",
    "softmax", "log_softmax", "amax: {dim: [1]}", "mean: {dim: [1]}", "max_pool2d: {kernel_size: 2}",
    "adaptive_max_pool2d: {output_size: 2}", "batch_norm2d", "layer_norm2d", "dropout",
]


@pytest.mark.parametrize("layer", SAVED_OUTPUT_CASES)
def test_the_kinds_whose_backward_reads_their_output_are_exactly_those_archc_protects(layer):
    """SAVES_OUTPUT against torch's autograd: write a layer's output in place, then backward."""
    from archc.passes.aliasing import saves_output

    graph = archc.check("s.yaml", text="archc: 1\nname: t\ninput: [4, 6, 6]\nlayers:\n"
                        f"  - conv2d: {{out_channels: 4, kernel_size: 1}}\n  - {layer}\n")
    model = build_module(graph).train()
    out = model(torch.randn(2, 4, 6, 6))
    torch.relu_(out)
    try:
        out.sum().backward()
        needs_output = False
    except RuntimeError as exc:
        assert "modified by an inplace operation" in str(exc)
        needs_output = True
    assert saves_output(graph.root.items[-1]) == needs_output


def test_an_in_place_layer_after_one_whose_backward_reads_its_output_is_refused_even_through_a_view():
    text = ("archc: 1\nname: t\ninput: [3, 4, 4]\nlayers:\n  - conv2d: {out_channels: 2, kernel_size: 1}\n"
            "  - sigmoid\n  - flatten\n  - relu: {inplace: true}\n")
    with pytest.raises(ArchcError) as info:
        archc.check("s.yaml", text=text)
    assert info.value.code == "inplace-aliases" and "output of sigmoid" in info.value.message
