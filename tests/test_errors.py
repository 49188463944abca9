"""Each class of user error: its code, its location, and the CLI's exit status."""
from __future__ import annotations

import textwrap

import pytest
from conftest import errors_of

import archc
from archc.cli import main

HEAD = "archc: 1\nname: t\ninput: [1, 28, 28]\n"

# (id, spec text, code, line, column)
CASES = [
    ("unknown-kind", HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n  - rleu\n", "unknown-kind", 6, 5),
    ("unknown-argument", HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: 3, strid: 2}\n", "unknown-argument", 5, 47),
    ("wrong-type", HEAD + "layers:\n  - conv2d: {out_channels: four, kernel_size: 3}\n", "bad-value", 5, 28),
    ("bool-is-not-int", HEAD + "layers:\n  - conv2d: {out_channels: true, kernel_size: 3}\n", "bad-value", 5, 28),
    ("missing-argument", HEAD + "layers:\n  - conv2d: {kernel_size: 3}\n", "missing-argument", 5, 13),
    ("non-positive-channels", HEAD + "layers:\n  - conv2d: {out_channels: 0, kernel_size: 3}\n", "bad-value", 5, 28),
    ("kernel-larger-than-input", HEAD + "layers:\n  - max_pool2d: {kernel_size: 4}\n  - conv2d: {out_channels: 4, kernel_size: 9}\n", "kernel-too-large", 6, 5),
    ("shape-comes-out-below-one", HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: 28}\n  - max_pool2d: {kernel_size: 2}\n", "output-too-small", 6, 5),
    ("groups-not-dividing", HEAD + "layers:\n  - conv2d: {out_channels: 6, kernel_size: 3}\n  - conv2d: {out_channels: 8, kernel_size: 3, groups: 4}\n", "groups-mismatch", 6, 5),
    ("linear-without-flatten", HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n  - linear: {out_features: 10}\n", "wrong-rank", 6, 5),
    ("layer-with-two-keys", HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n    name: c\n", "bad-layer", 5, 5),
    ("args-not-a-mapping", HEAD + "layers:\n  - dropout: 0.5\n", "bad-layer", 5, 14),
    ("top-level-typo", HEAD + "layer:\n  - relu\n", "unknown-argument", 4, 1),
    ("input-not-positive", "archc: 1\nname: t\ninput: [1, 0, 28]\nlayers: [relu]\n", "bad-value", 3, 12),
    ("wrong-version", "archc: 2\nname: t\ninput: [1]\nlayers: [relu]\n", "bad-value", 1, 8),
    ("duplicate-name", HEAD + "layers:\n  - relu: {name: a}\n  - relu: {name: a}\n", "duplicate-name", 6, 5),
    ("bad-name", HEAD + "layers:\n  - relu: {name: a.b}\n", "bad-name", 5, 18),
    ("unknown-block-parameter", HEAD + "imports: [std]\nlayers:\n  - vgg_block: {num_convs: 1, channels: 4, chanels: 3}\n", "unknown-parameter", 6, 44),
    ("missing-block-parameter", HEAD + "imports: [std]\nlayers:\n  - vgg_block: {num_convs: 1}\n", "missing-parameter", 6, 5),
    ("block-parameter-type", HEAD + "imports: [std]\nlayers:\n  - vgg_block: {num_convs: 1.5, channels: 4}\n", "bad-parameter", 6, 28),
    ("unknown-source", HEAD + "layers:\n  - relu: {name: a}\n  - relu: {from: b}\n", "unknown-source", 6, 5),
    ("residual-shapes-differ", HEAD + "layers:\n  - residual: {body: [conv2d: {out_channels: 4, kernel_size: 3}]}\n", "merge-mismatch", 5, 23),
    ("concat-spatial-differs", HEAD + "layers:\n  - parallel:\n      branches:\n        a: [identity]\n        b: [max_pool2d: {kernel_size: 2}]\n", "merge-mismatch", 5, 5),
    ("expression-unknown-name", HEAD + "layers:\n  - conv2d: {out_channels: '${widht * 2}', kernel_size: 3}\n", "expr-unknown-name", 5, 28),
    ("expression-division-by-zero", HEAD + "layers:\n  - conv2d: {out_channels: '${4 // 0}', kernel_size: 3}\n", "expr-division-by-zero", 5, 28),
    ("expression-not-allowed", HEAD + "layers:\n  - conv2d: {out_channels: '${open(1)}', kernel_size: 3}\n", "expr-not-allowed", 5, 28),
    ("repeat-count-too-large", HEAD + "layers:\n  - repeat: {times: 100000000, layers: [relu]}\n", "too-many-repeats", 5, 21),
    ("unknown-import", HEAD + "imports: [std/vggg]\nlayers: [relu]\n", "unknown-import", 4, 11),
    ("bad-merge", HEAD + "layers:\n  - parallel: {merge: sum, branches: {a: [relu]}}\n", "bad-merge", 5, 23),
    ("structure-depends-on-input", HEAD + "layers:\n  - repeat: {times: '${in.channels}', layers: [relu]}\n", "needs-concrete", 5, 21),
]


@pytest.mark.parametrize("text,code,line,col", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_has_code_and_location(text, code, line, col):
    errors = errors_of(text)
    matching = [e for e in errors if e.code == code]
    assert matching, [e.format() for e in errors]
    assert (matching[0].loc.file, matching[0].loc.line, matching[0].loc.col) == ("spec.yaml", line, col)


@pytest.mark.parametrize("text,code,line,col", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cli_prints_error_without_traceback_and_exits_1(tmp_path, capsys, text, code, line, col):
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    out_dir = tmp_path / "out"
    assert main(["build", str(path), "-o", str(out_dir)]) == 1
    captured = capsys.readouterr()
    assert f":{line}:{col}: error[{code}]" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert not out_dir.exists(), "nothing may be written for a failing spec"


def test_independent_errors_are_reported_together():
    errors = errors_of(HEAD + "layers:\n  - rleu\n  - conv2d: {out_channels: 4, kernel_size: 3, strid: 2}\n  - dropout: {p: 2}\n")
    assert [e.code for e in errors] == ["unknown-kind", "unknown-argument", "bad-value"]
    assert [e.loc.line for e in errors] == [5, 6, 7]


def test_error_message_says_expected_found_and_hint():
    (error,) = errors_of(HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: 3, strid: 2}\n")
    text = error.format()
    assert "spec.yaml:5:47: error[unknown-argument]" in text
    assert "found 'strid'" in text and "did you mean 'stride'?" in text


def test_shape_error_names_the_layer_and_echoes_its_input():
    (error,) = errors_of(HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: 3, name: stem}\n"
                       "  - conv2d: {out_channels: 4, kernel_size: 30}\n")
    assert error.path == "layer 1 (conv2d)"
    assert "26" in error.found  # the input size the kernel did not fit


def test_error_inside_block_names_definition_line_and_use_site():
    text = HEAD + ("blocks:\n  stem:\n    params: {c: int}\n    layers:\n"
                   "      - conv2d: {out_channels: $c, kernel_size: 3, stride: -1}\n"
                   "layers:\n  - stem: {c: 4}\n")
    (error,) = errors_of(text)
    assert error.code == "bad-value"
    assert error.loc.line == 8  # the line in the block's definition
    assert any("used at spec.yaml:10:5" in note for note in error.notes)


def test_block_cycle_is_named():
    text = HEAD + ("blocks:\n  a: {layers: [b]}\n  b: {layers: [a]}\nlayers: [a]\n")
    (error,) = errors_of(text)
    assert error.code == "block-cycle" and "a → b → a" in error.message


def test_block_that_shadows_another_is_an_error(tmp_path):
    (tmp_path / "mine.yaml").write_text("archc: 1\nblocks:\n  vgg_block: {layers: [relu]}\n")
    spec = tmp_path / "net.yaml"
    spec.write_text(HEAD + "imports: [std/vgg, mine.yaml]\nlayers: [relu]\n")
    with pytest.raises(archc.ArchcError) as info:
        archc.check(spec)
    assert info.value.code == "block-shadowed"


def test_missing_file_is_a_clean_error(capsys):
    assert main(["check", "no/such/spec.yaml"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["check"])
    assert info.value.code == 2
