"""Work and memory are bounded before they are spent: expansion counts all its work, a
repeat that cannot fit is refused before it runs, and only regular files are read."""
from __future__ import annotations

import os
import time

import pytest

import archc
from archc.passes.limits import Limits

HEAD = "archc: 1\nname: t\ninput: [1, 8, 8]\n"


def _error(text: str, limits: Limits = Limits()) -> archc.ArchcError:
    with pytest.raises((archc.ArchcError, archc.ArchcErrors)) as info:
        archc.check("s.yaml", text=text, limits=limits)
    err = info.value
    return err.errors[0] if isinstance(err, archc.ArchcErrors) else err


def _nested(inner: str, outer_times: int = 10000, inner_times: str = "10000") -> str:
    return (HEAD + "layers:\n  - repeat:\n      times: %d\n      layers:\n        - repeat:\n"
            "            times: %s\n            layers: [%s]\n" % (outer_times, inner_times, inner))


BLOCK_N = "blocks:\n  b:\n    params: {n: int}\n    layers:\n      - repeat: {times: $n, layers: [relu: {when: false}]}\n"

HOSTILE = {
    # a dropped layer was still visited: 10^8 visits for nothing
    "when-false-inside-nested-repeats": _nested("relu: {when: false}"),
    "when-expression-inside-nested-repeats": _nested("relu: {when: '${i < 0}'}"),
    "dense-inside-repeat": HEAD + "layers:\n  - repeat: {times: 10000, layers: [dense: {units: 10000, layers: [identity]}]}\n",
    "block-count-from-a-parameter": HEAD + BLOCK_N + "layers:\n  - repeat: {times: 10000, layers: [b: {n: 10000}]}\n",
    "block-count-from-an-expression": HEAD + BLOCK_N.replace("$n", "'${n * 1}'")
    + "layers:\n  - repeat: {times: 10000, layers: [b: {n: 10000}]}\n",
    "block-default-count": HEAD + BLOCK_N.replace("{n: int}", "{n: 10000}") + "layers:\n  - repeat: {times: 10000, layers: [b]}\n",
    "alias-feeding-nested-repeats": HEAD + "layers:\n  - sequential: {layers: &x [relu, relu, relu, relu, relu]}\n"
    "  - repeat: {times: 10000, layers: [repeat: {times: 10000, layers: *x}]}\n",
    "parallel-branches-in-nested-repeats": _nested("parallel: {branches: {a: [relu], b: [relu]}, when: false}"),
    "repeat-of-repeat-of-block": HEAD + "blocks:\n  c: {layers: [relu, relu]}\n  b: {layers: [repeat: {times: 1000, layers: [c]}]}\n"
    "layers:\n  - repeat: {times: 1000, layers: [b]}\n",
    "big-default-copied-into-each-layer": HEAD + "defaults: {conv2d: {kernel_size: [" + ", ".join(["3"] * 5000) + "]}}\n"
    "layers:\n  - repeat: {times: 10000, layers: [conv2d: {out_channels: 1}]}\n",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_nested_spec_beyond_the_limits_fails_at_once(text):
    start = time.perf_counter()
    err = _error(text)
    elapsed = time.perf_counter() - start
    assert err.code in ("too-much-work", "too-many-nodes"), err.format()
    assert err.loc is not None
    assert elapsed < 1.0, elapsed  # about 0.01 s: refused before the first iteration runs


def test_a_nested_repeat_over_the_node_limit_is_refused_before_it_runs():
    start = time.perf_counter()
    err = _error(HEAD + "layers:\n  - repeat: {times: 11, layers: [repeat: {times: 10000, layers: [relu]}]}\n")
    assert err.code == "too-many-nodes" and time.perf_counter() - start < 1.0
    assert "110,000" in err.found or "more than 100,000" in err.found


def test_a_limit_error_stops_the_whole_expansion_and_is_reported_once():
    # the inner count is only known per iteration (it reads i): each iteration would fail anew
    text = _nested("relu", outer_times=50, inner_times="'${i * 0 + 1000}'")
    with pytest.raises((archc.ArchcError, archc.ArchcErrors)) as info:
        archc.check("s.yaml", text=text, limits=Limits(max_nodes=500))
    errors = info.value.errors if isinstance(info.value, archc.ArchcErrors) else [info.value]
    assert [e.code for e in errors] == ["too-many-nodes"]


def test_dropped_layers_count_as_work_when_counts_are_only_known_late():
    # counts that read i cannot be estimated ahead: the running count still stops it
    start = time.perf_counter()
    err = _error(_nested("relu: {when: '${i < 0}'}", inner_times="'${i * 0 + 10000}'"),
                 limits=Limits(max_work=200_000))
    assert err.code == "too-much-work"
    assert time.perf_counter() - start < 1.0


def test_dense_units_count_as_nodes():
    text = HEAD + "layers:\n  - dense: {units: 60, layers: [conv2d: {out_channels: 1, kernel_size: 1}, relu]}\n"
    archc.check("s.yaml", text=text, limits=Limits(max_nodes=181))  # 120 layers + 60 unit containers + the dense
    assert _error(text, limits=Limits(max_nodes=180)).code == "too-many-nodes"


def test_specs_within_the_limits_still_expand():
    text = HEAD + BLOCK_N.replace("when: false", "when: '${i % 2 == 0}'") + \
        "layers:\n  - repeat: {times: 10, layers: [b: {n: 100}]}\n"
    graph = archc.check("s.yaml", text=text)
    assert sum(1 for n in graph.root.walk() if n.kind == "relu") == 500


def test_a_plain_ten_thousand_layer_spec_checks_quickly():
    lines = [HEAD.replace("[1, 8, 8]", "[4, 8, 8]") + "layers:"]
    for _ in range(5000):
        lines += ["  - conv2d: {out_channels: 4, kernel_size: 3, padding: 1}", "  - relu"]
    start = time.process_time()
    graph = archc.check("s.yaml", text="\n".join(lines) + "\n")
    elapsed = time.process_time() - start
    assert len(graph.root.items) == 10000
    assert elapsed < 5.0, elapsed  # about 1 s of CPU; refused outright as an "alias bomb" before


# -- files ---------------------------------------------------------------------------------

def _spec_importing(tmp_path, target: str) -> str:
    spec = tmp_path / "s.yaml"
    spec.write_text(HEAD + f"imports: ['{target}']\nlayers: [relu]\n")
    return str(spec)


def _special_files(tmp_path) -> dict[str, str]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "adir").mkdir()
    (tmp_path / "zero-link").symlink_to("/dev/zero")
    (tmp_path / "fifo-link").symlink_to(fifo)
    return {"dev-zero": "/dev/zero", "dev-urandom": "/dev/urandom", "fifo": str(fifo), "directory": str(tmp_path / "adir"),
            "symlink-to-dev-zero": str(tmp_path / "zero-link"), "symlink-to-fifo": str(tmp_path / "fifo-link")}


@pytest.mark.parametrize("which", ["dev-zero", "dev-urandom", "fifo", "directory", "symlink-to-dev-zero", "symlink-to-fifo"])
def test_importing_a_special_file_is_a_located_error_at_once(tmp_path, which):
    target = _special_files(tmp_path)[which]
    start = time.perf_counter()
    with pytest.raises(archc.ArchcError) as info:
        archc.check(_spec_importing(tmp_path, target))
    assert time.perf_counter() - start < 1.0  # never a hang on a FIFO, never reading /dev/zero
    assert info.value.code == "not-a-file"
    assert (info.value.loc.line, info.value.loc.col) == (4, 11)  # the imports: entry


@pytest.mark.parametrize("which", ["dev-zero", "fifo", "directory", "symlink-to-dev-zero"])
def test_a_special_file_as_the_spec_is_a_located_error(tmp_path, which):
    target = _special_files(tmp_path)[which]
    with pytest.raises(archc.ArchcError) as info:
        archc.check(target)
    assert info.value.code == "not-a-file" and info.value.loc is not None


def test_an_oversized_import_is_refused_before_it_is_read(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(10**10)  # sparse: reading it would take 10 GB
    with pytest.raises(archc.ArchcError) as info:
        archc.check(_spec_importing(tmp_path, "big.yaml"))
    assert info.value.code == "file-too-large" and info.value.loc.line == 4


@pytest.mark.parametrize("entry", ["''", "'  '"])
def test_an_empty_import_is_located(tmp_path, entry):
    spec = tmp_path / "s.yaml"
    spec.write_text(HEAD + f"imports: [{entry}]\nlayers: [relu]\n")
    with pytest.raises(archc.ArchcError) as info:
        archc.check(str(spec))
    assert info.value.loc is not None and info.value.loc.line == 4


@pytest.mark.parametrize("name", ["stdblocks.yaml", "standard.yaml", "std_extra.yaml"])
def test_local_files_whose_names_start_with_std_are_imported(tmp_path, name):
    (tmp_path / name).write_text("archc: 1\nblocks:\n  mine: {layers: [relu]}\n")
    spec = tmp_path / "s.yaml"
    spec.write_text(HEAD + f"imports: [{name}]\nlayers: [mine]\n")
    assert archc.check(str(spec)).root.out_shape == (1, 8, 8)


def test_std_families_are_still_the_library():
    with pytest.raises(archc.ArchcError) as info:
        archc.check("s.yaml", text=HEAD + "imports: [std/resnets]\nlayers: [relu]\n")
    assert info.value.code == "unknown-import" and "std/resnet" in info.value.hint


# -- defaults ------------------------------------------------------------------------------

@pytest.mark.parametrize("defaults,code,hint", [
    ("{conv2: {bias: false}}", "unknown-kind", "conv2d"),
    ("{Conv2d: {bias: false}}", "unknown-kind", "conv2d"),
    ("{conv2d: {bais: false}}", "unknown-argument", "bias"),
    ("{conv2d: {trainable: false}}", "unknown-argument", "each layer"),
    ("{repeat: {times: 2}}", "unknown-kind", ""),
])
def test_misspelt_defaults_are_located_errors(defaults, code, hint):
    err = _error(HEAD + f"defaults: {defaults}\nlayers: [conv2d: {{out_channels: 2, kernel_size: 3}}]\n")
    assert err.code == code and err.loc.line == 4
    assert hint in err.hint


def test_valid_defaults_still_apply():
    graph = archc.check("s.yaml", text=HEAD + "defaults: {conv2d: {kernel_size: 3, padding: 1}}\n"
                        "layers: [conv2d: {out_channels: 2}]\n")
    assert graph.root.out_shape == (2, 8, 8)
