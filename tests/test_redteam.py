"""Variations of issue 9's hostile inputs that broke the first fixes (round two's red team)."""
from __future__ import annotations

import re

import pytest

from archc.cli import main

SPEC = """archc: 1
name: {name}
description: {description}
input: [2, 8, 8]
layers:
{layers}
"""
# what may not reach a terminal raw: C0 controls but tab and newline, DEL, C1, line and
# paragraph separators, bidirectional overrides and isolates
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _spec(tmp_path, filename="t.yaml", name="t", description="x", layers="  - relu"):
    path = tmp_path / filename
    path.write_text(SPEC.format(name=name, description=description, layers=layers), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("command, fields", [
    pytest.param("check", {"layers": '  - "\\e[31mrelu\\a"'}, id="unknown kind with an ANSI colour and a bell"),
    pytest.param("check", {"layers": '  - conv2d: {out_channels: 2, kernel_size: 3, "\\e[2Jx": 1}'},
                 id="unknown argument that clears the screen"),
    pytest.param("check", {"layers": '  - {"\\e]0;pwned\\a": 1}'}, id="bad layer that sets the window title"),
    pytest.param("check", {"layers": '  - "relu\\rconv2d"'}, id="carriage return hiding the real kind"),
    pytest.param("check", {"layers": '  - "\\u202erelu"'}, id="bidirectional override"),
    pytest.param("check", {"layers": '  - "\\x9b31mrelu"'}, id="C1 one-byte CSI"),
    pytest.param("summary", {"description": '"\\e[31mred\\e[0m\\a"'}, id="summary prints the description"),
    pytest.param("summary", {"description": '"a\\Nb\\Lc\\Pd"'}, id="summary description with Unicode line breaks"),
    pytest.param("check", {"filename": "t\x1b[2J.yaml"}, id="check table names the file"),
    pytest.param("check", {"filename": "t\x1b[2J.yaml", "layers": "  - relux"}, id="error location names the file"),
])
def test_spec_text_never_reaches_the_terminal_with_control_characters(tmp_path, capsys, command, fields):
    main([command, _spec(tmp_path, **fields)])
    out, err = capsys.readouterr()
    assert not RAW_CONTROL.search(out + err), (out + err)[:300]
    assert "\\u" in out + err  # shown, escaped, not dropped


BLOCK_WITH_DEFAULTS = """archc: 1
name: t
input: [2, 8, 8]
blocks:
  b:
    params: {k: [3, 3], init: {weight: ones}, extra: null}
    layers:
      - conv2d: {out_channels: 2, kernel_size: $k, padding: 1, init: $init}
layers:
  - b
  - b: {k: [1, 1]}
  - b: {k: "${[1, 1]}"}
  - b: {init: {weight: zeros}, extra: 3}
"""


def test_a_block_parameter_with_a_list_or_mapping_default_takes_it_or_another_of_its_kind(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(BLOCK_WITH_DEFAULTS)
    assert main(["build", str(path), "-o", str(tmp_path / "out"), "--no-diagram"]) == 0, capsys.readouterr().err


LEAKS = re.compile(r"YList|YMap|NoneType|Keys should|\bdict\b|\bstr\b|\bbool\b|'defaults\.1'")


@pytest.mark.parametrize("text, code", [
    pytest.param("- relu\n", "not-a-mapping", id="top level a list"),
    pytest.param("relu\n", "not-a-mapping", id="top level text"),
    pytest.param("archc: 1\n? [a, b]\n: 1\n", "yaml-key", id="complex key"),
    pytest.param("archc: 1\nnull: 1\n", "yaml-key", id="null key"),
    pytest.param(SPEC.format(name="t", description="x", layers="  - relu") + "yes: 1\n", "unknown-argument",
                 id="yes read as true at the top"),
    pytest.param(SPEC.format(name="t", description="x", layers="  - conv2d: {out_channels: 2, kernel_size: 3, 3: 1}"),
                 "unknown-argument", id="a number as an argument name"),
    pytest.param(SPEC.format(name="t", description="x", layers="  - relu") + "defaults: {on: {}}\n",
                 "unknown-argument", id="on read as true under defaults"),
    pytest.param(BLOCK_WITH_DEFAULTS.replace("- b\n", "- b: {k: 3}\n"), "bad-parameter",
                 id="a number for a list parameter"),
    pytest.param(BLOCK_WITH_DEFAULTS.replace("- b\n", "- b: {init: 3}\n"), "bad-parameter",
                 id="a number for a mapping parameter"),
])
def test_messages_name_yaml_values_not_python_classes(tmp_path, capsys, text, code):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"error[{code}]" in err
    assert not LEAKS.search(err), err


@pytest.mark.parametrize("written, value", [
    ("1e-5", 1e-5), ("1.0e5", 1e5), ("5E-1", 0.5), ("-1e-3", -0.001), (".5e-2", 0.005), ("1_0e-1", 1.0),
])
def test_numbers_with_an_exponent_are_numbers_as_in_yaml_1_2_and_json(written, value):
    import archc

    graph = archc.check("t.yaml", text=SPEC.format(name="t", description="x", layers=f"  - batch_norm2d: {{eps: {abs(value)}}}\n"
                                    f"  - leaky_relu: {{negative_slope: {written}}}"))
    assert graph.root.children()[1].args.negative_slope == value


def test_a_quoted_exponent_stays_text(tmp_path, capsys):
    assert main(["check", _spec(tmp_path, layers='  - batch_norm2d: {eps: "1e-5"}')]) == 1
    assert "error[bad-value]" in capsys.readouterr().err
