"""Messages that help: 'did you mean' finds what was meant (other case, PyTorch and Keras
names, the input's rank), validator internals never show, one mistake is one error, shape
mismatches point at the layer that caused them, and likely mistakes get a warning."""
from __future__ import annotations

import re

import pytest
from conftest import errors_of

import archc
from archc.cli import main

HEAD = "archc: 1\nname: t\ninput: [3, 32, 32]\n"


def _one(text: str) -> archc.ArchcError:
    (error,) = errors_of(text)
    return error


@pytest.mark.parametrize("written,meant", [
    ("Relu", "relu"), ("ReLU", "relu"), ("RELU", "relu"), ("rleu", "relu"), ("LeakyReLU", "leaky_relu"),
    ("bn", "batch_norm2d"), ("BatchNorm2d", "batch_norm2d"), ("BatchNormalization", "batch_norm2d"),
    ("batchnorm2d", "batch_norm2d"), ("maxpool", "max_pool2d"), ("MaxPool2d", "max_pool2d"),
    ("MaxPooling2D", "max_pool2d"), ("AvgPool2d", "avg_pool2d"), ("conv", "conv2d"), ("Conv2d", "conv2d"),
    ("fc", "linear"), ("Dense", "linear"), ("Linear", "linear"), ("Dropout", "dropout"), ("Sequential", "sequential"),
    ("GlobalAveragePooling2D", "adaptive_avg_pool2d"), ("LRN", "local_response_norm"), ("Flatten", "flatten"),
])
def test_unknown_kind_hint_names_the_archc_kind(written, meant):
    error = _one(HEAD + f"layers:\n  - {written}\n")
    assert error.code == "unknown-kind"
    assert error.hint.startswith(f"did you mean '{meant}'?"), error.hint


@pytest.mark.parametrize("written,input_shape,meant", [
    ("maxpool", "[3, 32]", "max_pool1d"), ("maxpool", "[3, 32, 32]", "max_pool2d"),
    ("maxpool", "[3, 8, 32, 32]", "max_pool3d"), ("bn", "[3, 32]", "batch_norm1d"),
    ("conv", "[3, 8, 8, 8]", "conv3d"), ("avgpool", "[3, 32, 32]", "avg_pool2d"),
    ("max_pool", "[3, 32, 32]", "max_pool2d"), ("adaptive_avg_pool", "[3, 32, 32]", "adaptive_avg_pool2d"),
])
def test_kind_hint_takes_the_rank_of_the_input_never_3d_first(written, input_shape, meant):
    error = _one(f"archc: 1\nname: t\ninput: {input_shape}\nlayers:\n  - {written}: {{kernel_size: 2}}\n")
    assert f"did you mean '{meant}'?" in error.hint, error.hint


@pytest.mark.parametrize("layer,rewritten", [
    ("Dense: {units: 10}", "'linear: {out_features: 10}'"),
    ("Conv2D: {filters: 32, kernel_size: 3}", "'conv2d: {out_channels: 32, kernel_size: 3}'"),
    ("Conv2D: {filters: 32, kernel_size: 3, strides: 2, activation: relu}",
     "'conv2d: {out_channels: 32, kernel_size: 3, stride: 2}' (then '- relu' as its own layer)"),
    ("MaxPooling2D: {pool_size: 2}", "'max_pool2d: {kernel_size: 2}'"),
    ("Dropout: {rate: 0.3}", "'dropout: {p: 0.3}'"),
    ("Conv2d: {in_channels: 3, out_channels: 8, kernel_size: 3}", "'conv2d: {out_channels: 8, kernel_size: 3}' ('in_channels' is inferred)"),
])
def test_foreign_layers_are_rewritten_in_archc_names(layer, rewritten):
    error = _one(HEAD + f"layers:\n  - {layer}\n")
    assert error.code == "unknown-kind" and rewritten in error.hint, error.hint


def test_keras_dense_is_told_apart_from_densenets_dense():
    errors = errors_of(HEAD + "layers:\n  - flatten\n  - dense: {units: 10}\n")
    assert errors[0].code == "missing-argument"
    assert "a fully connected layer is 'linear: {out_features: 10}'" in errors[0].hint


@pytest.mark.parametrize("kind,argument", [
    ("conv2d: {out_channels: 4, kernel_size: 3, in_channels: 3}", "in_channels"),
    ("batch_norm2d: {num_features: 3}", "num_features"),
    ("linear: {in_features: 3072, out_features: 10}", "in_features"),
])
def test_inferred_arguments_say_remove_them(kind, argument):
    layers = f"layers:\n  - flatten\n  - {kind}\n" if "linear" in kind else f"layers:\n  - {kind}\n"
    error = _one(HEAD + layers)
    assert error.code == "unknown-argument"
    assert error.hint == f"'{argument}' is inferred from the input; remove it"


@pytest.mark.parametrize("argument,meant", [
    ("filters: 8, kernel_size: 3", "out_channels"), ("out_channels: 8, kernel_size: 3, strides: 2", "stride"),
    ("out_channels: 8, kernel: 3", "kernel_size"), ("out_channels: 8, kernel_size: 3, Stride: 2", "stride"),
])
def test_foreign_argument_names_get_archcs(argument, meant):
    errors = errors_of(HEAD + f"layers:\n  - conv2d: {{{argument}}}\n")
    unknown = [e for e in errors if e.code == "unknown-argument"]
    assert unknown and unknown[0].hint.startswith(f"did you mean '{meant}'?"), [e.format() for e in errors]


# every kind of value error a spec can provoke; none may show validator internals
BAD_VALUES = [
    "name: 1abc\ninput: [3, 32, 32]\nlayers: [relu]\n",
    "name: t\ninput: 3\nlayers: [relu]\n",
    "name: t\ninput: [[3]]\nlayers: [relu]\n",
    "name: t\ninput: [1, 2, 3, 4, 5]\nlayers: [relu]\n",
    "name: t\ninput: []\nlayers: [relu]\n",
    "name: t\ninput: [H, 3]\nlayers: [relu]\n",
    "name: t\ninput: [3, 0]\nlayers: [relu]\n",
    "name: " + "a" * 120 + "\ninput: [3]\nlayers: [relu]\n",
    "name: t\ninput: [3]\nimports: std\nlayers: [relu]\n",
    "name: t\ninput: [3]\ndefaults: [1]\nlayers: [relu]\n",
    "name: t\ninput: [3]\ndescription: 3\nlayers: [relu]\n",
    "name: t\ninput: [3]\nblocks: {b: [relu]}\nlayers: [relu]\n",
    "name: t\ninput: [3]\nblocks: {b: {layers: [relu], foo: 1}}\nlayers: [relu]\n",
    "name: t\ninput: [3]\nblocks: {b: {params: {1x: int}, layers: [relu]}}\nlayers: [relu]\n",
    "name: t\ninput: [3]\nblocks: {b: {params: {in: int}, layers: [relu]}}\nlayers: [relu]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [conv2d: {out_channels: 4, kernel_size: big}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [conv2d: {out_channels: 4, kernel_size: [a, 3]}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [conv2d: {out_channels: 4, kernel_size: 3.5}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [conv2d: {out_channels: 4, kernel_size: 3, padding: {a: 1}}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [conv2d: {out_channels: 4, kernel_size: 3, padding_mode: foo}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [conv2d: {out_channels: true, kernel_size: 3}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [dropout: {p: 2}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [dropout: {p: x}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [leaky_relu: {negative_slope: [1]}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [repeat: {times: -1, layers: [relu]}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [repeat: {times: 1, prefix: 3, layers: [relu]}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [adaptive_avg_pool2d: {output_size: [null, x]}]\n",
    "name: t\ninput: [3, 8, 8]\nlayers: [batch_norm2d: {momentum: fast}]\n",
]
LEAKS = re.compile(r"String should|Input should|should have|valid integer|valid list|valid dict|a valid |YList|YMap|"
                   r"after validation|pydantic|errors\.pydantic|\^\[|\$'|instance of|Value error|found a list; |expected -")


@pytest.mark.parametrize("text", BAD_VALUES, ids=range(len(BAD_VALUES)))
def test_value_errors_are_plain_sentences(text):
    for error in errors_of("archc: 1\n" + text):
        assert not LEAKS.search(error.format()), error.format()
        assert error.loc is not None


def test_a_list_with_a_bad_member_is_one_error_at_the_member():
    error = _one(HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: [a, 3]}\n")
    assert error.message.endswith("'kernel_size.0'") and error.expected == "a whole number"


def test_one_error_in_a_repeated_block_is_reported_once_with_its_iterations():
    text = HEAD + ("blocks:\n  b:\n    layers:\n      - conv2d: {out_channels: 4, kernel_size: 3, strid: 1}\n"
                   "layers:\n  - repeat:\n      times: 6\n      layers: [b]\n  - b\n  - b\n")
    error = _one(text)
    assert error.code == "unknown-argument"
    assert "in iterations 0–5 of the repeat at spec.yaml:9:5" in error.notes
    assert "also in block 'b' used at spec.yaml:12:5, spec.yaml:13:5" in error.notes


def test_errors_in_different_places_stay_separate():
    errors = errors_of(HEAD + "layers:\n  - repeat: {times: 3, layers: [relu: {x: 1}, relu: {y: 1}]}\n")
    assert len(errors) == 2 and all("iterations 0–2" in e.notes[0] for e in errors)


RESIDUAL = HEAD.replace("[3, 32, 32]", "[16, 32, 32]") + "layers:\n  - residual:\n      body:\n"


@pytest.mark.parametrize("body,line,hint", [
    ("        - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}\n        - relu\n"
     "        - conv2d: {out_channels: 16, kernel_size: 3, stride: 2, padding: 1}\n", 9,
     "give the shortcut the same stride: shortcut: [conv2d: {out_channels: 16, kernel_size: 1, stride: 2}]"),
    ("        - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}\n        - conv2d: {out_channels: 16, kernel_size: 5}\n",
     8, "padding: 2 keeps the size"),
    ("        - conv2d: {out_channels: 32, kernel_size: 3, padding: 1}\n        - batch_norm2d\n", 7,
     "shortcut: [conv2d: {out_channels: 32, kernel_size: 1}]"),
])
def test_residual_mismatch_points_at_the_layer_that_changed_the_size(body, line, hint):
    error = _one(RESIDUAL + body)
    assert error.code == "merge-mismatch"
    assert (error.loc.line, error.loc.col) == (line, 11)
    assert hint in error.hint, error.hint
    assert "in the residual at spec.yaml:5:5" in error.notes


def test_residual_shortcut_that_downsamples_alone_is_named():
    error = _one(RESIDUAL + "        - conv2d: {out_channels: 16, kernel_size: 3, padding: 1}\n"
                 "      shortcut: [conv2d: {out_channels: 16, kernel_size: 1, stride: 2}]\n")
    assert error.loc.line == 8 and "shortcut" in error.message and "give the shortcut stride 1" in error.hint


def test_concat_mismatch_hint_names_each_branch_and_its_fix():
    error = _one(HEAD + "layers:\n  - parallel:\n      branches:\n"
                 "        a: [conv2d: {out_channels: 4, kernel_size: 3, padding: 1}]\n"
                 "        b: [max_pool2d: {kernel_size: 2}]\n        c: [conv2d: {out_channels: 4, kernel_size: 5}]\n")
    assert "'b' gives 16×16 (its max_pool2d at spec.yaml:8:13: its stride 2 downsamples)" in error.hint
    assert "'c' gives 28×28" in error.hint and "padding: 2 keeps the size" in error.hint
    assert "'a' gives 32×32" in error.hint


def test_concat_of_sources_names_their_sizes():
    error = _one(HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: 3, name: a}\n"
                 "  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1, from: input, name: b}\n"
                 "  - identity: {from: [a, b], merge: concat}\n")
    assert "'b' gives 32×32 where 'a' gives 30×30" in error.hint


@pytest.mark.parametrize("shape,warned", [
    ("[32, 32, 3]", True), ("[224, 224, 3]", True), ("[28, 28, 1]", True), ("[16, 64, 64, 1]", True),
    ("[3, 32, 32]", False), ("[1, 28, 28]", False), ("[64, 8, 8]", False), ("[3, 32]", False),
])
def test_channels_last_input_gets_a_warning_not_an_error(tmp_path, capsys, shape, warned):
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"archc: 1\nname: t\ninput: {shape}\nlayers: [relu]\n")
    assert main(["check", str(spec)]) == 0
    err = capsys.readouterr().err
    assert (f"{spec}:3:8: warning[channels-last]" in err) is warned, err
    assert [w.code for w in archc.check(spec).warnings] == (["channels-last"] if warned else [])
