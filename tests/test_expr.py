"""archc's expression evaluator: what it computes and what it must refuse."""
from __future__ import annotations

import pytest

from archc.spec.expr import Deferred, ExprError, InShape, NeedsInput, evaluate, substitute


@pytest.mark.parametrize("source,names,expected", [
    ("1 + 2 * 3", {}, 7),
    ("(1 + 2) * 3", {}, 9),
    ("7 // 2", {}, 3),
    ("-7 // 2", {}, -4),
    ("7 / 2", {}, 3.5),
    ("7 % 4", {}, 3),
    ("2 ** 10", {}, 1024),
    ("c * 2", {"c": 32}, 64),
    ("1 < 2 <= 2", {}, True),
    ("i == 0 and c > 1", {"i": 0, "c": 2}, True),
    ("not flag or False", {"flag": True}, False),
    ("2 if i == 0 else 1", {"i": 0}, 2),
    ("2 if i == 0 else 1", {"i": 3}, 1),
    ("min(3, c) + max(1, 2) + abs(-4)", {"c": 1}, 7),
    ("pair[1]", {"pair": [16, 32]}, 32),
    ("[64, 128, 256][i]", {"i": 2}, 256),
    ("c * base // 64 * g", {"c": 128, "base": 4, "g": 32}, 256),
    ("True", {}, True),
], ids=lambda v: str(v) if isinstance(v, str) else None)
def test_evaluates_like_python(source, names, expected):
    assert evaluate(source, names) == expected


def test_in_reads_the_incoming_shape():
    incoming = InShape((64, 12, 10))
    assert evaluate("in.channels // 2", {}, incoming) == 32
    assert evaluate("in.shape[2] * in.channels", {}, incoming) == 640


def test_in_without_a_shape_defers():
    with pytest.raises(NeedsInput):
        evaluate("in.channels", {})
    deferred = substitute("${in.channels // 2}", {"x": 1})
    assert isinstance(deferred, Deferred)
    assert deferred.evaluate(InShape((10, 3, 3))) == 5


@pytest.mark.parametrize("value,names,expected", [
    ("$c", {"c": [1, 2]}, [1, 2]),
    ("${c + 1}", {"c": 1}, 2),
    ("conv${i + 1}", {"i": 0}, "conv1"),
    ("plain text", {}, "plain text"),
    (5, {}, 5),
])
def test_substitute(value, names, expected):
    assert substitute(value, names) == expected


@pytest.mark.parametrize("source,code", [
    ("__import__('os')", "expr-not-allowed"),
    ("open('x')", "expr-not-allowed"),
    ("().__class__", "expr-not-allowed"),
    ("in.__class__", "expr-not-allowed"),
    ("c.real", "expr-not-allowed"),
    ("lambda: 1", "expr-not-allowed"),
    ("[x for x in y]", "expr-not-allowed"),
    ("{1: 2}", "expr-not-allowed"),
    ("a := 1", "expr-syntax"),
    ("1 +", "expr-syntax"),
    ("c << 2", "expr-not-allowed"),
    ("2 ** 1000", "expr-overflow"),
    ("10 ** 19 * 10 ** 19", "expr-overflow"),
    ("9 ** 9 ** 9", "expr-overflow"),
    ("1 // 0", "expr-division-by-zero"),
    ("1 % 0", "expr-division-by-zero"),
    ("unknown + 1", "expr-unknown-name"),
    ("'a' * 100000000", "expr-type"),
    ("[1] * 100000000", "expr-type"),
    ("max()", "expr-type"),
    ("pair[5]", "expr-index"),
    ("-" * 60 + "1", "expr-too-deep"),
    ("x" * 600, "expr-too-long"),
    ("10.0 ** 400", "expr-overflow"),
    ("2.0 ** 1e6", "expr-overflow"),
    ("10 ** 10 ** 10", "expr-overflow"),
    ("0.1 ** -1000", "expr-overflow"),
    ("1.5 ** 200", "expr-overflow"),
    ("2 ** 62.5", "expr-overflow"),
    ("0 ** -1", "expr-division-by-zero"),
    ("0.0 ** -0.5", "expr-division-by-zero"),
    ("(-8) ** 0.5", "expr-type"),
    ("1e308 * 10", "expr-overflow"),
    ("1e400", "expr-overflow"),
    ("7 // 1e-300", "expr-overflow"),
    ("1 << 10 ** 9", "expr-not-allowed"),
    ("'a' * 10 ** 9", "expr-type"),
], ids=lambda v: v[:30] if isinstance(v, str) else None)
def test_refuses(source, code):
    with pytest.raises(ExprError) as info:
        evaluate(source, {"c": 3, "pair": [1, 2]}, InShape((3, 4, 4)))
    assert info.value.code == code


def test_unknown_name_suggests_a_close_one():
    with pytest.raises(ExprError) as info:
        evaluate("chanels * 2", {"channels": 3})
    assert "did you mean 'channels'?" in info.value.hint


@pytest.mark.parametrize("source,expected", [
    ("1.5 ** 64", 1.5 ** 64), ("2 ** 62", 2 ** 62), ("(-1) ** (10 ** 18 + 1)", -1), ("1 ** 10 ** 18", 1),
    ("2 ** -2", 0.25), ("4 ** 0.5", 2.0), ("0.1 ** 1000", 0.0),
], ids=lambda v: v if isinstance(v, str) else None)
def test_powers_within_range_still_evaluate(source, expected):
    assert evaluate(source, {}) == expected


def test_a_huge_bound_integer_is_refused_without_converting_it():
    # a YAML integer of 400 digits bound to a parameter: describing it must not convert it
    with pytest.raises(ExprError) as info:
        evaluate("n + 1", {"n": 10 ** 400})
    assert info.value.code == "expr-overflow" and "2**" in info.value.message


def test_nan_is_refused():
    with pytest.raises(ExprError) as info:
        evaluate("x * 0", {"x": float("nan")})
    assert info.value.code == "expr-overflow"


def test_a_spec_with_a_float_power_gets_a_located_error():
    import archc

    with pytest.raises(archc.ArchcError) as info:
        archc.check("s.yaml", text="archc: 1\nname: t\ninput: [1, 8, 8]\n"
                    "layers:\n  - conv2d: {out_channels: '${10.0 ** 400}', kernel_size: 3}\n")
    assert info.value.code == "expr-overflow" and info.value.loc.line == 5
