"""The command line under bad values, closed pipes, narrow encodings, slow graphviz and
exhausted memory: exit 2 with a usage message, or exit 1 with a coded error, never a traceback."""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time

import pytest
from conftest import REPO

import archc.emit.torch_module as torch_module
from archc.cli import main

LENET = str(REPO / "specs" / "d2l" / "lenet.yaml")
RESNET = str(REPO / "specs" / "d2l" / "resnet18.yaml")
ENV = {**os.environ, "PYTHONPATH": str(REPO)}

LIMITS = {"--max-params": ["0", "-1", "abc", "1.5", "", "9" * 5000],
          "--max-depth": ["0", "-3", "nan", "1e3"],
          "--max-nodes": ["0", "-1", "0x10", " "],
          "--max-memory": ["nan", "inf", "-inf", "-1", "0", "abc", "", "1e308", "1e-300", "9" * 5000]}
COMMANDS = {"check": ["check", LENET], "build": ["build", LENET, "-o", "unused"], "render": ["render", LENET],
            "summary": ["summary", LENET], "explain": ["explain", LENET], "run": ["run", LENET, "--input", "x.json"]}
INPUTS = ["Cx8x8", "0x8x8", "3x-1x8", "", "3x8x8x8x8", "3xx8", "x", "3x8x", "1x²x8", "1x28x28 ", "3x" + "H" * 101]


def _rows():
    rows = []
    for command, argv in COMMANDS.items():
        for option, values in LIMITS.items():
            rows += [pytest.param(argv + [option, v], id=f"{command} {option} {v[:12]!r}") for v in values]
        if command != "run":
            rows += [pytest.param(argv + ["--input", v], id=f"{command} --input {v[:12]!r}") for v in INPUTS]
        if command in ("check", "build", "render", "summary"):
            rows += [pytest.param(argv + ["--depth", v], id=f"{command} --depth {v!r}") for v in ["-1", "abc", "1.5", ""]]
        if command in ("build", "render"):
            rows += [pytest.param(argv + ["--diagram-timeout", v], id=f"{command} --diagram-timeout {v!r}")
                     for v in ["0", "-1", "nan", "inf", "1e308", "soon"]]
            rows += [pytest.param(argv + ["-o", ""], id=f"{command} -o ''")]
    rows += [pytest.param(COMMANDS["build"] + ["--device", v], id=f"build --device {v!r}")
             for v in ["", "cuda:abc", "cuda:-1", "cuda:99999999999999999999", "gpu", "cpu:x"]]
    rows += [pytest.param(COMMANDS["run"] + ["--seed", v], id=f"run --seed {v[:12]!r}")
             for v in ["-1", str(2**64), "abc", "1.5", "", "9" * 5000]]
    rows += [pytest.param(["schema", "-o", ""], id="schema -o ''"),
             pytest.param(["render", LENET, "--format", "jpeg"], id="render --format jpeg"),
             pytest.param(["render", LENET, "--rankdir", "RL"], id="render --rankdir RL"),
             pytest.param(["check", LENET, "--no-such-option"], id="check --no-such-option")]
    return rows


@pytest.mark.parametrize("argv", _rows())
def test_a_bad_command_line_value_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: archc") and "error:" in err


@pytest.mark.parametrize("argv, value", [(["check", LENET, "--max-memory", "1e-3"], None),
                                         (["check", LENET, "--input", "1×28×28"], None),
                                         (["check", LENET, "--depth", "0"], None),
                                         (["check", LENET, "--max-nodes", "12"], None)])
def test_good_values_still_pass(argv, value, capsys):
    assert main(argv) == 0


@pytest.mark.parametrize("device", ["hpu", "xla"])
def test_a_device_torch_knows_but_this_machine_lacks_is_device_unavailable(device, tmp_path, capsys):
    assert main(["build", LENET, "-o", str(tmp_path), "--device", device]) == 1
    err = capsys.readouterr().err
    assert "error[device-unavailable]" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def _closed_pipe(argv) -> subprocess.CompletedProcess:
    """Run archc with a stdout whose reader has already gone (`archc … | head -0`)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "archc.cli", *argv], stdout=write, stderr=subprocess.PIPE,
                              env=ENV, cwd=REPO, timeout=120)
    finally:
        os.close(write)


@pytest.mark.parametrize("argv", [["summary", RESNET], ["check", LENET], ["kinds"], ["schema"],
                                  ["render", LENET, "-o", "-", "--format", "dot"], ["--help"]],
                         ids=lambda a: " ".join(a[:1] + a[2:]))
def test_a_reader_that_stops_early_ends_archc_quietly(argv):
    done = _closed_pipe(argv)
    assert done.returncode in (0, 141), done.stderr.decode()
    assert done.stderr == b"", "no traceback, no 'Exception ignored'"


def test_a_reader_that_stops_after_one_line_ends_archc_quietly():
    shell = f"{sys.executable} -m archc.cli summary {RESNET} | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], capture_output=True, text=True, env=ENV, cwd=REPO)
    assert done.stdout.count("\n") == 1 and done.stderr == ""
    assert done.returncode in (0, 141)


@pytest.mark.parametrize("encoding", ["cp1252", "ascii", "latin-1"])
@pytest.mark.parametrize("command", [["summary", LENET], ["explain", LENET], ["check", LENET]], ids=lambda c: c[0])
def test_a_narrow_stdout_encoding_gets_ascii_stand_ins(encoding, command):
    done = subprocess.run([sys.executable, "-m", "archc.cli", *command], capture_output=True, cwd=REPO,
                          env={**ENV, "PYTHONIOENCODING": encoding})
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    text = done.stdout.decode(encoding)
    assert "1x28x28" in text or "1×28×28" in text
    assert "→" not in text and ("->" in text or command[0] != "explain")


def test_an_undecodable_file_name_is_printed_not_a_crash(tmp_path):
    target = os.fsencode(tmp_path) + b"/schema-\xff.json"
    done = subprocess.run([sys.executable, "-m", "archc.cli", "schema", "-o", target], capture_output=True,
                          env={**ENV, "PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.startswith(b"wrote ") and os.path.exists(target)


def test_running_out_of_memory_while_building_is_a_coded_error(tmp_path, monkeypatch, capsys):
    def no_memory(*args, **kw):
        raise MemoryError()

    monkeypatch.setattr(torch_module, "build_module", no_memory)
    assert main(["build", LENET, "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert re.match(r"\S*lenet\.yaml:\d+:\d+: error\[out-of-memory\]", err) and "--max-memory" in err
    assert list(tmp_path.iterdir()) == []


def test_torchs_cpu_allocator_failure_is_out_of_memory(tmp_path, monkeypatch, capsys):
    def allocator_fails(*args, **kw):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 819200000000 bytes. Error code 12 (Cannot allocate memory)")

    monkeypatch.setattr(torch_module, "build_module", allocator_fails)
    assert main(["build", LENET, "-o", str(tmp_path)]) == 1
    assert "error[out-of-memory]" in capsys.readouterr().err


def test_other_internal_errors_stay_visible(tmp_path, monkeypatch):
    def bug(*args, **kw):
        raise RuntimeError("an archc bug")

    monkeypatch.setattr(torch_module, "build_module", bug)
    with pytest.raises(RuntimeError, match="an archc bug"):
        main(["build", LENET, "-o", str(tmp_path)])


def test_build_no_diagram_skips_graphviz(tmp_path, monkeypatch, capsys):
    import archc.emit.diagram as diagram

    def never(*args, **kw):
        raise AssertionError("dot was run")

    monkeypatch.setattr(diagram, "run_dot", never)
    assert main(["build", LENET, "-o", str(tmp_path), "--no-diagram"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet.json", "lenet.py"]
    assert "note:" not in capsys.readouterr().err


@pytest.fixture
def slow_dot(tmp_path, monkeypatch):
    """A graphviz 'dot' on PATH that never finishes."""
    folder = tmp_path / "slowbin"
    folder.mkdir()
    dot = folder / "dot"
    dot.write_text("#!/bin/sh\nexec sleep 60\n")
    dot.chmod(dot.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for dot")
def test_render_gives_up_on_a_slow_dot_with_a_coded_error(tmp_path, slow_dot, capsys):
    start = time.monotonic()
    assert main(["render", LENET, "-o", str(tmp_path / "lenet.svg"), "--diagram-timeout", "0.5"]) == 1
    assert time.monotonic() - start < 20
    err = capsys.readouterr().err
    assert "error[graphviz-timeout]" in err and "--diagram-timeout" in err
    assert not (tmp_path / "lenet.svg").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for dot")
def test_build_writes_everything_but_the_diagram_when_dot_is_too_slow(tmp_path, slow_dot, capsys):
    out = tmp_path / "out"
    start = time.monotonic()
    assert main(["build", LENET, "-o", str(out), "--diagram-timeout", "0.5"]) == 0
    assert time.monotonic() - start < 30
    assert sorted(p.name for p in out.iterdir()) == ["lenet.json", "lenet.py"]
    assert "note: no diagram written (graphviz's dot took longer than 0.5 s" in capsys.readouterr().err
