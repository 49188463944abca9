"""YAML syntax mistakes are reported where they start, in archc's words, with a hint."""
from __future__ import annotations

import pytest

import archc
from archc.cli import main

HEAD = "archc: 1\nname: t\ninput: [1, 8, 8]\n"

# (spec text, reported line, reported column or None, words the hint must contain)
MISTAKES = {
    "tab-indentation": (HEAD + "layers:\n\t- relu\n", 5, 1, "spaces"),
    "tab-inside-a-mapping": (HEAD + "layers:\n  - conv2d:\n\t  out_channels: 4\n", 6, 1, "spaces"),
    "unclosed-brace": (HEAD + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3\n  - relu\n  - relu\n", 5, 13, "close it with '}'"),
    "unclosed-bracket": (HEAD + "layers: [relu, relu\n\n\ndescription: x\n", 4, 9, "close it with ']'"),
    "missing-comma-in-braces": (HEAD + "layers:\n  - conv2d: {out_channels: 8 kernel_size: 3}\n", 5, 41, "separate the entries"),
    "unclosed-double-quote": (HEAD + 'description: "hello\nlayers: [relu]\n', 4, 14, "matching"),
    "unclosed-single-quote": (HEAD + "description: 'hello\nlayers: [relu]\n", 4, 14, "matching"),
    "missing-colon-after-key": ("archc: 1\nname t\ninput: [1, 8, 8]\nlayers: [relu]\n", 2, 1, "'key: value'"),
    "missing-colon-at-the-end": (HEAD + "layers:\n- relu\nfoo\n", 6, 1, "'key: value'"),
    "colon-inside-a-plain-value": (HEAD + "description: a: b\nlayers: [relu]\n", 4, 15, "quotes"),
    "bad-indentation": (HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: 3}\n   - relu\n", 6, 4, "same number of spaces"),
    "list-item-after-a-key": (HEAD + "layers: - relu\n", 4, 9, "own lines"),
    "stray-closing-brace": (HEAD + "layers: [relu]}\n", 4, 15, "remove it"),
    "two-documents": (HEAD + "layers: [relu]\n---\na: 1\n", 5, 1, "'---'"),
    "undefined-alias": (HEAD + "layers: *nope\n", 4, 9, "anchor"),
    "control-character": (HEAD + "description: a\x07b\nlayers: [relu]\n", 4, 15, "escape"),
}


@pytest.mark.parametrize("text,line,col,hint", MISTAKES.values(), ids=MISTAKES.keys())
def test_syntax_mistake_is_reported_where_it_starts(text, line, col, hint):
    with pytest.raises(archc.ArchcError) as info:
        archc.check("s.yaml", text=text)
    err = info.value
    assert err.code == "yaml-syntax"
    assert (err.loc.line, err.loc.col) == (line, col), err.format()
    assert hint in err.hint, err.format()
    # archc's words, not PyYAML's internals
    assert "<stream end>" not in err.format() and "<block" not in err.format()


def test_an_unclosed_brace_names_the_end_of_file_it_ran_into(capsys):
    text = MISTAKES["unclosed-brace"][0]
    err = pytest.raises(archc.ArchcError, archc.check, "s.yaml", text=text).value
    assert "never closed" in err.message and err.found == "the end of the file"


def test_syntax_error_on_the_command_line_is_located_without_a_traceback(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text(MISTAKES["unclosed-bracket"][0])
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert ":4:9: error[yaml-syntax] this '[' is never closed" in err
    assert "Traceback" not in err
