"""The command line: check without torch, reports, build outputs, help."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO, reference

import archc
from archc.cli import main

LENET = str(REPO / "specs" / "d2l" / "lenet.yaml")


def test_check_runs_where_torch_cannot_be_imported():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from archc.cli import main\n"
            f"rc = main(['check', {LENET!r}])\n"
            "assert 'torch' not in [m.split('.')[0] for m in sys.modules if sys.modules[m] is not None]\n"
            "sys.exit(rc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "total: 61,706 parameters, 416,520 MACs" in result.stdout


def test_check_prints_each_layer_shape_and_params(capsys):
    assert main(["check", LENET]) == 0
    out = capsys.readouterr().out
    assert "conv2d 5×5, p2 → 6" in out and "6×28×28" in out and "156" in out
    assert "linear → 10" in out


def test_check_json_report_has_every_node_and_totals(capsys):
    assert main(["check", "--json", LENET]) == 0
    report = json.loads(capsys.readouterr().out)
    facts = reference("seed_models.json")["lenet"]
    assert report["params"] == facts["params"] and report["macs"] == facts["macs_conv_linear"]
    assert report["output"] == [10]
    assert len(report["nodes"]) == 12
    first = report["nodes"][0]
    assert first == {"path": "0", "kind": "conv2d", "label": "conv2d 5×5, p2 → 6", "depth": 0, "leaf": True,
                     "output": [6, 28, 28], "params": 156, "macs": 117600}


def test_check_several_specs_in_json_gives_a_list(capsys):
    assert main(["check", "--json", LENET, str(REPO / "specs" / "d2l" / "nin.yaml")]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["lenet", "nin"]


def test_build_writes_report_source_and_diagram(tmp_path, capsys):
    assert main(["build", str(REPO / "specs" / "d2l" / "alexnet.yaml"), "-o", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["alexnet.json", "alexnet.py", "alexnet.svg"]
    assert json.loads((tmp_path / "alexnet.json").read_text())["params"] == 46764746
    # the generated file runs on its own
    result = subprocess.run([sys.executable, str(tmp_path / "alexnet.py")], capture_output=True, text=True)
    assert result.returncode == 0 and "torch.Size([1, 10])" in result.stdout


def test_failed_build_leaves_earlier_outputs_untouched(tmp_path):
    assert main(["build", LENET, "-o", str(tmp_path)]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    bad = tmp_path / "lenet_bad.yaml"
    bad.write_text((REPO / "specs" / "d2l" / "lenet.yaml").read_text().replace("kernel_size: 5}", "kernel_size: 50}"))
    assert main(["build", str(bad), "-o", str(tmp_path)]) == 1
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "lenet_bad.yaml"}
    assert after == before


def test_python_api_builds_the_lecture_alexnet():
    result = subprocess.run([sys.executable, "-c",
                             "import archc, torch; m = archc.build('specs/d2l/alexnet.yaml');"
                             "print(sum(p.numel() for p in m.parameters()), tuple(m(torch.zeros(1, 1, 224, 224)).shape))"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.stdout.split() == ["46764746", "(1,", "10)"], result.stderr


@pytest.mark.parametrize("command", [[], ["check"], ["build"]])
def test_help_is_helpful(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: archc" in capsys.readouterr().out


def test_debug_shows_the_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("archc: 1\nname: t\ninput: [1]\nlayers: [rleu]\n")
    with pytest.raises(archc.ArchcError):  # the exception itself, with its traceback, not a message
        main(["--debug", "check", str(bad)])


def test_relative_block_files_import_other_files(tmp_path):
    (tmp_path / "blocks").mkdir()
    (tmp_path / "blocks" / "stem.yaml").write_text(
        "archc: 1\nimports: [more.yaml, std/vgg]\nblocks:\n  stem:\n    params: {c: int}\n"
        "    layers: [conv2d: {out_channels: $c, kernel_size: 3, padding: 1}, act]\n")
    (tmp_path / "blocks" / "more.yaml").write_text("archc: 1\nblocks:\n  act: {layers: [relu]}\n")
    spec = tmp_path / "net.yaml"
    spec.write_text("archc: 1\nname: net\ninput: [3, 8, 8]\nimports: [blocks/stem.yaml]\n"
                    "layers:\n  - stem: {c: 4}\n  - vgg_block: {num_convs: 1, channels: 4}\n")
    graph = archc.check(spec)
    assert [n.kind for n in graph.root.items] == ["stem", "vgg_block"]
    assert graph.root.out_shape == (4, 4, 4)


def test_huge_channel_count_fails_before_allocating(tmp_path):
    import time
    import tracemalloc

    text = "archc: 1\nname: huge\ninput: [3, 224, 224]\nlayers:\n  - conv2d: {out_channels: 10000000, kernel_size: 3}\n"
    start = time.perf_counter()
    with pytest.raises(archc.ArchcError) as info:
        archc.check("huge.yaml", text=text)
    assert time.perf_counter() - start < 1.0
    assert info.value.code == "too-large"
    tracemalloc.start()
    with pytest.raises(archc.ArchcError):
        archc.build(archc.load("huge.yaml", text=text))
    assert tracemalloc.get_traced_memory()[1] < 50 * 2**20
    tracemalloc.stop()


def test_a_failed_write_leaves_no_partial_files(tmp_path):
    from archc.outputs import write_all

    (tmp_path / "old.json").write_text("earlier output")
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where a folder is needed")
    with pytest.raises(archc.ArchcError) as info:
        write_all({tmp_path / "old.json": b"new", blocker / "x.py": b"never"})
    assert info.value.code == "output-failed"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked", "old.json"]
    assert (tmp_path / "old.json").read_text() == "earlier output"


def test_render_api_returns_the_diagram():
    graph = archc.check(REPO / "specs" / "d2l" / "lenet.yaml")
    assert archc.render(graph, "dot").startswith(b"digraph lenet")
    assert archc.render(graph, "mermaid").startswith(b"---\ntitle: ")  # the title, then the chart
    assert archc.render(graph, "mermaid", title=False).startswith(b"flowchart TD")
    assert archc.render(graph).startswith(b"<?xml")


def test_unavailable_device_is_a_clean_error(capsys):
    assert main(["build", LENET, "--device", "cuda:99"]) == 1
    assert "error[device-unavailable]" in capsys.readouterr().err


def test_check_of_several_specs_reports_every_bad_one_and_checks_the_rest(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("archc: 1\nname: bad\ninput: [1, 4, 4]\nlayers: [rleu]\n")
    assert main(["check", str(bad), LENET, str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("error[unknown-kind]") == 2
    assert "total: 61,706 parameters" in captured.out


def test_build_without_graphviz_writes_everything_but_the_diagram(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert main(["build", LENET, "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["lenet.json", "lenet.py"]
    assert "note: no diagram written" in capsys.readouterr().err


def test_build_api_takes_dtype_and_device():
    import torch

    model = archc.build(REPO / "specs" / "d2l" / "lenet.yaml", device="cpu", dtype=torch.float64)
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    assert model(torch.zeros(2, 1, 28, 28, dtype=torch.float64)).shape == (2, 10)
