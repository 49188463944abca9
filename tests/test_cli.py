"""The command line: check without torch, reports, build outputs, help."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from archc.cli import main
from conftest import REPO, reference

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
    with pytest.raises(Exception):
        main(["--debug", "check", str(bad)])
