"""Loading is safe: data only, duplicate keys refused, alias expansion bounded."""
from __future__ import annotations

import time

import pytest

import archc

HEAD = "archc: 1\nname: t\ninput: [1, 8, 8]\n"


def _error(text: str | bytes) -> archc.ArchcError:
    with pytest.raises((archc.ArchcError, archc.ArchcErrors)) as info:
        archc.check("s.yaml", text=text)
    err = info.value
    return err.errors[0] if isinstance(err, archc.ArchcErrors) else err


@pytest.mark.parametrize("tag", ["!!python/object/apply:os.system ['echo hi']", "!!python/name:os.system", "!custom 3"])
def test_object_tags_are_refused(tag):
    err = _error(HEAD + f"layers:\n  - relu\ndescription: {tag}\n")
    assert err.code == "yaml-tag"


def test_duplicate_keys_are_an_error_with_both_lines():
    err = _error(HEAD + "layers:\n  - conv2d: {out_channels: 4, kernel_size: 3, out_channels: 8}\n")
    assert err.code == "duplicate-key" and err.loc.line == 5
    assert "first at line 5" in err.found


def test_anchors_and_aliases_work():
    text = HEAD + "layers:\n  - conv2d: &c {out_channels: 4, kernel_size: 3}\n  - conv2d: *c\n"
    assert archc.check("s.yaml", text=text).root.out_shape == (4, 4, 4)


def test_alias_bomb_fails_fast_in_little_memory():
    import tracemalloc

    lines = ["a0: &a0 [relu, relu, relu, relu, relu, relu, relu, relu, relu]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    text = "\n".join(lines) + "\n" + HEAD + "layers: *a9\n"
    start = time.perf_counter()
    err = _error(text)
    elapsed = time.perf_counter() - start
    tracemalloc.start()  # measured separately: tracing slows Python down several times
    _error(text)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert err.code == "yaml-too-large"
    assert elapsed < 1.0
    assert peak < 100 * 2**20


def test_merge_keys_are_refused_with_a_hint():
    err = _error("base: &b {kernel_size: 3}\n" + HEAD + "layers:\n  - conv2d: {<<: *b, out_channels: 4}\n")
    assert err.code == "yaml-merge-key" and "defaults" in err.hint


@pytest.mark.parametrize("text,code", [
    ("", "empty-spec"),
    ("# only a comment\n", "empty-spec"),
    ("- relu\n- relu\n", "not-a-mapping"),
    ("just a string", "not-a-mapping"),
    (b"archc: 1\nname: \xff\xfe\n", "not-utf8"),
    ("archc: 1\n  name: [unclosed\n", "yaml-syntax"),
    ("a: 1\n\tb: 2\n", "yaml-syntax"),
    (HEAD + "layers: relu\n", "bad-layers"),
    (HEAD + "layers: []\n", "bad-layers"),
], ids=["empty", "comment-only", "list-root", "scalar-root", "non-utf8", "syntax", "tab", "layers-not-list", "layers-empty"])
def test_malformed_files_get_clear_errors(text, code):
    err = _error(text)
    assert err.code == code
    assert err.loc is not None


def test_absurd_file_size_is_refused_before_parsing():
    err = _error(b"#" * 3_000_000)
    assert err.code == "file-too-large"


def test_non_utf8_error_points_at_the_byte():
    err = _error(b"archc: 1\nname: ab\xffc\n")
    assert (err.loc.line, err.loc.col) == (2, 9)


@pytest.mark.parametrize("text", [
    HEAD + "layers: [relu]\ndescription: " + "[" * 330 + "]" * 330 + "\n",
    HEAD + "layers: [relu]\nx: " + "{a: " * 330 + "1" + "}" * 330 + "\n",
    HEAD + "layers: [relu]\nx:\n" + "".join(" " * (i + 1) + "-\n" for i in range(400)),
    # aliases can nest what the composer saw as shallow
    "".join(f"a{i}: &a{i} " + "[" * 100 + (f"*a{i - 1}" if i else "1") + "]" * 100 + "\n" for i in range(5)) + HEAD + "layers: [relu]\n",
], ids=["brackets", "braces", "block-lists", "nested-aliases"])
def test_deep_nesting_is_a_located_error_not_a_recursion_error(text):
    err = _error(text)
    assert err.code == "yaml-too-deep" and err.loc is not None


@pytest.mark.parametrize("text", [
    HEAD + "layers: &a [*a]\n",
    HEAD + "layers: &net [relu, sequential: {layers: *net}]\n",
    HEAD + "x: &m {k: *m}\nlayers: [relu]\n",
], ids=["list", "inside-a-layer", "mapping"])
def test_self_referencing_alias_is_a_located_error(text):
    err = _error(text)
    assert err.code == "yaml-recursive-alias" and err.loc.line == 4


@pytest.mark.parametrize("number", ["9" * 5000, "0x" + "f" * 4000, "1" + ":1" * 3000, "-" + "1" * 4400],
                         ids=["decimal", "hex", "sexagesimal", "negative"])
def test_integers_too_long_to_convert_are_located_errors(number):
    err = _error(HEAD + f"layers:\n  - conv2d: {{out_channels: {number}, kernel_size: 3}}\n")
    assert err.code == "yaml-number" and (err.loc.line, err.loc.col) == (5, 28)


def test_an_integer_of_many_thousand_sexagesimal_digits_is_refused_quickly():
    start = time.perf_counter()
    err = _error(HEAD + "layers: [relu]\nx: 1" + ":1" * 200_000 + "\n")
    assert err.code == "yaml-number" and time.perf_counter() - start < 1.0


@pytest.mark.parametrize("text", [
    HEAD + 'description: "caf\\ud800"\nlayers: [relu]\n',
    HEAD + 'layers: [relu: {"\\udfff": 1}]\n',
    HEAD + 'layers: [relu: {name: "a\\udc80b"}]\n',
], ids=["description", "key", "name"])
def test_lone_surrogates_are_located_errors(text):
    err = _error(text)
    assert err.code == "yaml-string" and err.loc.line == 4


def test_the_alias_budget_counts_only_aliased_values():
    # 60,000 values written out plainly: honest, bounded by the file size only
    text = HEAD + "layers:\n" + "  - conv2d: {out_channels: 4, kernel_size: 1, stride: 1, padding: 0, bias: true}\n" * 10000
    assert len(archc.check("s.yaml", text=text).root.items) == 10000


def test_a_control_character_is_located_where_it_is():
    err = _error(HEAD + "layers: [relu]\ndescription: ab\x01c\n")
    assert err.code == "yaml-syntax" and (err.loc.line, err.loc.col) == (5, 16)
