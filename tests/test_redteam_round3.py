"""Issue 9, a third round of variations: what a red-team pass over the finished fixes still found.
Each test fails without its fix."""
from __future__ import annotations

import json

import pytest
from conftest import errors_of

import archc
from archc.cli import main

HEAD = "archc: 1\nname: t\ninput: [3, 8, 8]\n"


def _one(text: str) -> archc.ArchcError:
    (error,) = errors_of(text)
    return error


def _write(tmp_path, text: str, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# -- files and inputs ---------------------------------------------------------------------------
def test_an_import_path_with_a_nul_character_is_a_located_error(tmp_path, capsys):
    spec = _write(tmp_path, HEAD + 'imports: ["a\\0b"]\nlayers: [relu]\n')
    assert main(["check", spec]) == 1
    err = capsys.readouterr().err
    assert "s.yaml:4:11: error[file-not-found] an import path holds a NUL character" in err
    assert "Traceback" not in err


def test_a_standard_library_import_written_with_yaml_says_what_to_write():
    error = _one(HEAD + "imports: [std/resnet.yaml]\nlayers: [relu]\n")
    assert error.code == "unknown-import"
    assert error.hint.startswith("did you mean 'std/resnet'?")


@pytest.mark.parametrize("suffix,text", [(".json", "[" + "9" * 400 + "]"), (".yaml", "[-" + "9" * 400 + "]")])
def test_an_input_integer_beyond_float_is_too_large_not_a_crash(tmp_path, capsys, suffix, text):
    spec = _write(tmp_path, "archc: 1\nname: t\ninput: [1]\nlayers: [relu]\n")
    data = tmp_path / f"x{suffix}"
    data.write_text(text)
    assert main(["run", spec, "--input", str(data)]) == 1
    err = capsys.readouterr().err
    assert "error[bad-input] a number is too large for float32" in err and "Traceback" not in err


def test_a_line_break_quoted_from_a_spec_cannot_start_a_line_of_its_own(tmp_path, capsys):
    # an import name ending in "\nerror[...]" would otherwise print a second, forged error
    spec = _write(tmp_path, HEAD + 'imports: ["a\\nspec.yaml:1:1: error[fake] forged"]\nlayers: [relu]\n')
    assert main(["check", spec]) == 1
    err = capsys.readouterr().err
    assert not any(line.startswith("spec.yaml:1:1") for line in err.splitlines())
    assert "a\\u000aspec.yaml:1:1" in err


def test_a_too_large_input_points_at_the_input_line():
    error = _one("archc: 1\nname: t\ninput: [100000, 100000, 3]\nlayers: [relu]\n")
    assert (error.code, error.loc.line) == ("too-large", 3)


def test_a_torch_save_of_objects_is_refused_without_torch_warnings(tmp_path, capsys):
    spec = _write(tmp_path, HEAD + "layers: [relu]\n")
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"\x80\x04cos\nsystem\n(S'echo PWNED'\ntR.")
    assert main(["run", spec, "--input", "arange:3x8x8", "--weights", str(weights)]) == 1
    out, err = capsys.readouterr()
    assert "error[bad-weights]" in err and "PWNED" not in out
    assert "Warning" not in err


# -- compute is bounded like memory ---------------------------------------------------------------
HEAVY = "archc: 1\nname: t\ninput: [512, 512, 512]\nlayers:\n  - conv2d: {out_channels: 8, kernel_size: 101, padding: 50}\n"


def test_a_forward_pass_beyond_the_compute_limit_is_refused_by_check_before_build_spends_it(tmp_path, capsys):
    # 1.1e13 multiply-accumulates: hours of CPU time in build's verification pass
    error = _one(HEAVY)
    assert (error.code, error.loc.line, error.path) == ("too-much-compute", 5, "layer 0 (conv2d)")
    assert error.found.startswith("10,953,240,346,624")
    spec = _write(tmp_path, HEAVY)
    assert main(["build", spec, "-o", str(tmp_path / "out"), "--no-diagram"]) == 1
    assert not (tmp_path / "out").exists()
    assert main(["check", spec, "--max-macs", "2e13"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("input_shape,layer,path", [
    # 601² outputs each reading a 600² window: 1.3·10¹¹ reads, over a minute of ATen's max pooling
    ("[1, 1200, 1200]", "max_pool2d: {kernel_size: 600, stride: 1}", "layer 0 (max_pool2d)"),
    ("[1, 1200, 1200]", "avg_pool2d: {kernel_size: 600, stride: 1}", "layer 0 (avg_pool2d)"),
    ("[2000, 300, 300]", "local_response_norm: {size: 1001}", "layer 0 (local_response_norm)"),
])
def test_pooling_windows_count_toward_the_compute_limit_though_they_multiply_nothing(input_shape, layer, path):
    error = _one(f"archc: 1\nname: t\ninput: {input_shape}\nlayers:\n  - {layer}\n")
    assert (error.code, error.path) == ("too-much-compute", path)
    assert "window read counts as 10 MACs" in error.found


def test_ordinary_pooling_stays_far_below_the_compute_limit():
    graph = archc.check("specs/torchvision/googlenet.yaml", limits=archc.Limits(max_macs=2 * 10**9))
    assert graph.root.macs > 10**9  # pooling adds little to a real network's count


def test_the_compute_limit_is_an_option_and_a_limit_of_the_api(capsys):
    graph = archc.check("specs/d2l/lenet.yaml")
    with pytest.raises(archc.ArchcError) as caught:
        archc.check("specs/d2l/lenet.yaml", limits=archc.Limits(max_macs=graph.root.macs - 1))
    assert caught.value.code == "too-much-compute"
    for bad in ("0", "1.5", "nan", "1e19", "x"):
        with pytest.raises(SystemExit) as usage:
            main(["check", "specs/d2l/lenet.yaml", "--max-macs", bad])
        assert usage.value.code == 2
    capsys.readouterr()


# -- messages ------------------------------------------------------------------------------------
def test_i_inside_a_block_says_how_a_block_gets_the_index():
    error = _one(HEAD + "blocks:\n  b:\n    layers: [conv2d: {out_channels: 4, kernel_size: 1, stride: '${1 + i}'}]\n"
                 "layers:\n  - repeat: {times: 2, layers: [b]}\n")
    assert error.code == "expr-unknown-name"
    assert "params: {i: 0}" in error.hint and "(none)" not in error.hint


def test_an_unknown_name_lists_what_is_available():
    error = _one(HEAD + "params: {width: 4}\nlayers:\n  - conv2d: {out_channels: '${zzz}', kernel_size: 1}\n")
    assert error.hint == "names available here: width, in (the layer's input)"


@pytest.mark.parametrize("layer,hint", [
    ("upsample: {scale_factor: 2}", "did you mean 'interpolate'?"),
    ("Upsample: {scale_factor: 2, mode: nearest}", "did you mean 'interpolate'?"),
    ("transpose: {dim0: 1, dim1: 2}", "did you mean 'permute'? (its arguments: dims)"),
    ("Reshape: {shape: [-1]}", "did you mean 'reshape'?"),
    ("concatenate: {from: [-1]}", "did you mean 'concat'?"),
    ("ConvTranspose2d: {out_channels: 3, kernel_size: 2}", "did you mean 'conv_transpose2d'?"),
])
def test_foreign_kind_names_lead_to_the_archc_kind_and_never_to_arguments_it_lacks(layer, hint):
    error = _one(HEAD + f"layers:\n  - {layer}\n")
    assert error.code == "unknown-kind"
    assert error.hint == hint


@pytest.mark.parametrize("layers,hint", [
    ("  - relu\n   - relu\n  - sigmoid\n", "give every item of a list the same indentation"),
    ("  -relu\n  - relu\n", "a list item needs a space after '-': write '- relu'"),
    ("  - conv2d {out_channels: 6}\n", "a ':' is missing after 'conv2d': write 'conv2d: {…}'"),
    ("  - conv2d:{out_channels: 6}\n", "a key needs a space after ':': write 'conv2d: {…}'"),
])
def test_a_yaml_slip_that_makes_one_text_of_several_items_is_named(layers, hint):
    error = _one(HEAD + "layers:\n" + layers)
    assert hint in error.hint


@pytest.mark.parametrize("defaults,code,fragment", [
    ("conv2d: {kernel_size: -1}", "bad-value", "invalid value for 'kernel_size'"),
    ("dropout: {p: 2}", "bad-value", "invalid value for 'p'"),
    ("BatchNorm2d: {eps: 0.1}", "unknown-kind", "did you mean 'batch_norm2d'?"),
    ("repeat: {times: 2}", "unknown-kind", "write a repeat's arguments where it is used"),
])
def test_defaults_are_checked_even_where_no_layer_uses_them(defaults, code, fragment):
    error = _one(HEAD + f"defaults:\n  {defaults}\nlayers: [relu]\n")
    assert error.code == code
    assert fragment in error.format()


def test_good_defaults_still_pass_and_apply():
    graph = archc.check("spec.yaml", text=HEAD + "defaults:\n  conv2d: {kernel_size: 3, padding: same}\n"
                        "  batch_norm2d: {eps: 0.001}\nlayers: [conv2d: {out_channels: 2}, batch_norm2d]\n")
    assert graph.root.out_shape == (2, 8, 8)


def test_a_utf16_pair_of_escapes_is_one_character_as_in_json(tmp_path):
    text = HEAD + 'description: ' + json.dumps("\U0001F600 smile") + "\nlayers: [relu]\n"
    assert "\\ud83d\\ude00" in text  # what json.dumps writes
    assert archc.check("spec.yaml", text=text).description == "\U0001F600 smile"
    error = _one(HEAD + 'description: "\\ude00\\ud83d"\nlayers: [relu]\n')  # the wrong order is still refused
    assert error.code == "yaml-string"


@pytest.mark.parametrize("init,message", [
    ("{trunc_normal: {a: 2, b: -2}}", "trunc_normal's range is empty"),
    ("{xavier_uniform: {gain: -1}}", "the gain must not be negative"),
    ("{xavier_normal: {gain: .nan}}", "the gain must not be negative"),
])
def test_init_errors_name_the_function_and_argument_at_fault(init, message):
    error = _one(HEAD + f"layers:\n  - conv2d: {{out_channels: 4, kernel_size: 1, init: {{weight: {init}}}}}\n")
    assert error.code == "bad-init"
    assert message in error.message


def test_run_saves_by_the_name_it_is_given_and_refuses_a_name_it_cannot_tell(tmp_path, capsys):
    import numpy as np  # a dev dependency

    spec = _write(tmp_path, HEAD + "layers: [relu]\n")
    assert main(["run", spec, "--input", "arange:3x8x8", "--save", str(tmp_path / "y.txt")]) == 1
    assert "error[unknown-format]" in capsys.readouterr().err and not (tmp_path / "y.txt").exists()
    assert main(["run", spec, "--input", "arange:3x8x8", "--save", str(tmp_path / "y.npz")]) == 0
    assert np.load(tmp_path / "y.npz")["output"].shape == (3, 8, 8)
    assert main(["run", spec, "--input", "arange:3x8x8", "--save", str(tmp_path / "y.npy")]) == 0
    assert np.load(tmp_path / "y.npy").shape == (3, 8, 8)
    capsys.readouterr()


def test_an_empty_layer_mapping_says_so():
    error = _one(HEAD + "layers:\n  - relu\n  - {}\n")
    assert (error.code, error.found) == ("bad-layer", "an empty mapping {}")
    assert "'- relu'" in error.hint


# -- check accepted, build or forward failed: found by a fuzzer over every kind's arguments ---------
def test_grid_coords_gives_a_tensor_an_in_place_layer_may_write():
    import torch

    model = archc.build(archc.check(
        "spec.yaml", text="archc: 1\nname: t\ninput: [6, 1, 4]\nlayers:\n  - grid_coords\n  - hardswish: {inplace: true}\n"))
    assert model(torch.zeros(3, 6, 1, 4)).shape == (3, 2, 4)  # was: more than one element refers to one location


def test_an_in_place_layer_may_not_write_a_parameter():
    error = _one("archc: 1\nname: t\ninput: [4, 8]\nparameters:\n  tok: {shape: [1, 1, 8], init: zeros, batched: true}\n"
                 "layers:\n  - relu: {from: tok, inplace: true}\n  - concat: {dim: 1, from: [-1, input]}\n")
    assert error.code == "inplace-aliases" and "overwrite the parameter 'tok'" in error.message


def test_a_batched_parameter_read_by_a_layer_joins_every_sample_in_module_and_source(tmp_path):
    import torch

    text = ("archc: 1\nname: tokens\ninput: [4, 8]\nparameters:\n  tok: {shape: [1, 1, 8], init: ones, batched: true}\n"
            "layers:\n  - linear: {from: tok, out_features: 8}\n  - concat: {dim: 1, from: [-1, input]}\n")
    spec = _write(tmp_path, text)
    model = archc.build(spec)
    namespace: dict = {}
    exec(compile(archc.source(spec), "tokens.py", "exec"), namespace)
    written = namespace["build"]()
    written.load_state_dict(model.state_dict())
    x = torch.randn(3, 4, 8)
    assert model(x).shape == (3, 5, 8)  # was: torch.cat found a batch of 1 beside a batch of 3
    assert torch.equal(written(x), model(x))


@pytest.mark.parametrize("expression", ["in.channels // 0", "in.shape.__len__()", "min(*in.shape)"])
def test_expression_errors_quote_in_as_written(expression):
    error = _one(HEAD + f"layers:\n  - conv2d: {{out_channels: 4, kernel_size: 1, stride: '${{{expression}}}'}}\n")
    assert "archc" not in error.format().replace("archc: 1", "") and "in." in error.message


def test_min_and_max_of_one_number_say_what_they_take():
    error = _one(HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: 1, stride: '${min(1)}'}\n")
    assert error.message == "min takes two or more numbers, here 1" and "iterable" not in error.format()


@pytest.mark.parametrize("layer", ["leaky_relu: {negative_slope: -0.1, inplace: true}", "elu: {alpha: -1, inplace: true}"])
def test_an_in_place_activation_torch_cannot_train_is_refused(layer):
    # torch builds and runs it, then refuses loss.backward(): check says so first
    error = _one(HEAD + f"layers:\n  - conv2d: {{out_channels: 4, kernel_size: 1}}\n  - {layer}\n")
    assert error.code == "bad-value" and "cannot be trained" in error.message


def test_the_same_activations_out_of_place_or_with_a_positive_slope_train():
    import torch

    for layer in ("leaky_relu: {negative_slope: -0.1}", "leaky_relu: {negative_slope: 0.1, inplace: true}"):
        model = archc.build(archc.check("spec.yaml", text=HEAD + f"layers:\n  - conv2d: {{out_channels: 4, kernel_size: 1}}\n  - {layer}\n"))
        model(torch.randn(2, 3, 8, 8)).sum().backward()


# -- what check accepted or crashed on, found by the kind fuzzer (repros in the closing note) --------
@pytest.mark.parametrize("body", [
    "  - residual:\n      body:\n        - chunk: {chunks: 2}\n      merge: concat\n",
    "  - dense: {units: 2, layers: [chunk: {chunks: 2}]}\n",
    "  - parallel: {merge: concat, branches: {a: [chunk: {chunks: 2}], b: [slice_channels: {stop: 2}]}}\n",
])
def test_a_chunk_that_ends_a_path_of_a_merge_is_refused_by_check(body):
    error = _one("archc: 1\nname: t\ninput: [4, 6]\nlayers:\n" + body)
    assert error.code == "merge-mismatch" and "must give one tensor" in error.message


def test_a_shortcut_that_keeps_the_channels_the_body_changes_is_a_located_error():
    error = _one("archc: 1\nname: t\ninput: [4, 4, 4]\nlayers:\n  - residual:\n"
                 "      body: [{conv2d: {out_channels: 3, kernel_size: 1}}]\n      shortcut: [relu]\n")
    assert error.code == "merge-mismatch" and error.message.startswith("this layer makes 3 channels")


@pytest.mark.parametrize("input_shape,layers,fragment", [
    ("[3, H, W]", "  - permute: {dims: [0, 1, 3, 2]}\n  - add: {from: [input, -1]}\n", "agree only if H = W"),
    ("[1, L]", "  - concat: {from: [input, input], dim: 2}\n", "concatenating along symbolic dim 2"),
    ("[4, L]", "  - permute: {dims: [0, 2, 1]}\n  - conv1d: {out_channels: 2, kernel_size: 1}\n", "its channels are symbolic"),
    ("[3, 5, W]", "  - permute: {dims: [0, 3, 1, 2]}\n  - slice_channels: {stop: 2}\n", "its channels are symbolic"),
])
def test_symbolic_sizes_where_a_number_is_needed_are_located_errors_not_crashes(input_shape, layers, fragment):
    error = _one(f"archc: 1\nname: t\ninput: {input_shape}\nlayers:\n{layers}")
    assert error.code == "needs-concrete-size" and fragment in error.message


def test_a_symbolic_spec_that_takes_one_size_only_builds_at_it(tmp_path):
    import torch

    model = archc.build(_write(tmp_path, "archc: 1\nname: t\ninput: [3, H, W]\nlayers:\n"
                               "  - adaptive_avg_pool2d: {output_size: 3}\n  - add: {from: [-1, input]}\n"))
    assert model(torch.zeros(2, 3, 3, 3)).shape == (2, 3, 3, 3)


def test_lrn_on_symbolic_channels_checks():
    graph = archc.check("spec.yaml", text="archc: 1\nname: t\ninput: [3, 5, W]\nlayers:\n"
                        "  - permute: {dims: [0, 3, 1, 2]}\n  - local_response_norm: {size: 2}\n")
    assert str(graph.root.out_shape[0]) == "W"
