"""The JSON Schema of specs: valid itself, accepts every spec, refuses typos editors should flag."""
from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from conftest import REPO, SPECS

from archc.cli import main
from archc.emit.schema import spec_schema

ALL_SPECS = sorted(SPECS.rglob("*.yaml"))
VALIDATOR = jsonschema.Draft202012Validator(spec_schema())


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(spec_schema())


@pytest.mark.parametrize("path", ALL_SPECS, ids=[str(p.relative_to(SPECS)) for p in ALL_SPECS])
def test_every_spec_validates(path):
    errors = [e.message for e in VALIDATOR.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


@pytest.mark.parametrize("layers", [
    [{"conv2d": {"out_channels": 4, "kernel_size": 3, "strid": 2}}],
    [{"conv2d": {"out_channels": "four"}}],
    [{"max_pool2d": {"kernel_size": 2, "ceil_mode": "yes"}}],
    [{"parallel": {"branches": {"a": ["relu"]}, "merge": "sum"}}],
    [{"dropout": {"p": 0.5}, "name": "d"}],
], ids=["typo", "string-channels", "string-bool", "bad-merge", "two-keys"])
def test_schema_flags_mistakes(layers):
    doc = {"archc": 1, "name": "t", "input": [3, 8, 8], "layers": layers}
    assert list(VALIDATOR.iter_errors(doc))


def test_schema_accepts_expressions_and_block_uses():
    doc = {"archc": 1, "name": "t", "input": [3, 8, 8], "layers": [
        {"conv2d": {"out_channels": "${in.channels * 2}", "kernel_size": "$k"}}, {"my_block": {"width": 3}}, "relu"]}
    assert list(VALIDATOR.iter_errors(doc)) == []


def test_committed_schema_file_is_current(capsys):
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads((REPO / "docs" / "archc-spec.schema.json").read_text())
