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
