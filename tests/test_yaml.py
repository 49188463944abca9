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
