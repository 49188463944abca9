"""Output files: whole or not at all, never replacing what is not a regular file archc owns,
cleaned up on SIGTERM/SIGHUP, with the user's umask."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

import archc
import archc.outputs as outputs
from archc.cli import main
from archc.outputs import write_all

LENET = str(REPO / "specs" / "d2l" / "lenet.yaml")
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def _archc(*argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "archc.cli", *argv], capture_output=True, env=ENV, cwd=REPO, **kw)


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_symlink_to_stdout_writes_to_standard_output_and_stays_a_link(tmp_path):
    # as `-o /dev/stdout` (itself a symlink), without risking the real one if this ever regressed
    link = tmp_path / "out.json"
    link.symlink_to("/dev/stdout")
    done = _archc("schema", "-o", str(link))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["title"] == "SpecDoc"  # the schema alone: no "wrote …" line mixed in
    assert link.is_symlink() and os.readlink(link) == "/dev/stdout"


def test_a_symlink_stays_a_symlink_and_its_target_is_written(tmp_path, capsys):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "schema.json"
    target.write_text("old")
    link = tmp_path / "schema.json"
    link.symlink_to(target)
    assert main(["schema", "-o", str(link)]) == 0
    assert link.is_symlink() and link.resolve() == target
    assert json.loads(target.read_text())["title"] == "SpecDoc"
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["schema.json"], "temporary files beside the target are gone"


def test_a_dangling_symlink_gets_its_target_created(tmp_path):
    link = tmp_path / "net.dot"
    link.symlink_to(tmp_path / "drawings" / "lenet.dot")
    assert main(["render", LENET, "-o", str(link)]) == 0
    assert link.is_symlink() and (tmp_path / "drawings" / "lenet.dot").read_bytes().startswith(b"digraph lenet")


def test_build_writes_through_symlinked_outputs(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "lenet.py").symlink_to(elsewhere / "model.py")
    assert main(["build", LENET, "-o", str(out), "--no-diagram"]) == 0
    assert (out / "lenet.py").is_symlink()
    assert "import torch" in (elsewhere / "model.py").read_text()


def test_a_directory_where_a_file_is_expected_is_a_clean_error(tmp_path, capsys):
    (tmp_path / "lenet.svg").mkdir()
    assert main(["render", LENET, "-o", str(tmp_path / "lenet.svg"), "--format", "dot"]) == 1
    err = capsys.readouterr().err
    assert "error[output-failed]" in err and "Traceback" not in err
    assert (tmp_path / "lenet.svg").is_dir() and list((tmp_path / "lenet.svg").iterdir()) == []


def test_a_file_where_a_folder_is_needed_is_a_clean_error(tmp_path, capsys):
    (tmp_path / "build").write_text("a file")
    assert main(["build", LENET, "-o", str(tmp_path / "build" / "sub"), "--no-diagram"]) == 1
    assert "error[output-failed]" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's read-only /sys")
def test_a_read_only_place_is_a_clean_error(capsys):
    assert main(["schema", "-o", "/sys/kernel/archc-schema.json"]) == 1
    err = capsys.readouterr().err
    assert "error[output-failed] cannot write /sys/kernel/archc-schema.json" in err and "hint:" in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_device_is_a_clean_error(tmp_path, capsys):
    link = tmp_path / "full.json"  # as `-o /dev/full`, but a regression could only replace this link
    link.symlink_to("/dev/full")
    assert main(["schema", "-o", str(link)]) == 1
    err = capsys.readouterr().err
    assert "error[output-failed]" in err and "No space left" in err and "free some space" in err
    assert link.is_symlink() and Path("/dev/full").is_char_device()


def test_a_full_disk_leaves_every_output_as_it_was(tmp_path, monkeypatch, capsys):
    assert main(["build", LENET, "-o", str(tmp_path), "--no-diagram"]) == 0
    before = _listing(tmp_path)
    written = []

    def disk_fills_up(fd, data):
        if written:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(fd)
        os.write(fd, data)

    monkeypatch.setattr(outputs, "_write_whole", disk_fills_up)
    spec = tmp_path / "lenet.yaml"
    spec.write_text(Path(LENET).read_text().replace("out_features: 10", "out_features: 12"))
    capsys.readouterr()
    assert main(["build", str(spec), "-o", str(tmp_path), "--no-diagram"]) == 1
    assert "error[output-failed]" in capsys.readouterr().err
    assert _listing(tmp_path) == {**before, "lenet.yaml": spec.read_bytes()}, "no temporary files, old outputs intact"


def test_folders_created_for_a_failed_write_are_removed(tmp_path, monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(outputs, "_write_whole", full)
    with pytest.raises(archc.ArchcError):
        write_all({tmp_path / "new" / "deep" / "a.json": b"{}"})
    assert list(tmp_path.iterdir()) == []


def _fail_the_second_rename(monkeypatch) -> None:
    real_replace, calls = os.replace, []

    def second_rename_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", second_rename_fails)


def test_a_failed_second_rename_restores_the_first_output(tmp_path, monkeypatch):
    old, new = tmp_path / "net.json", tmp_path / "net.py"
    old.write_bytes(b"the earlier report")
    _fail_the_second_rename(monkeypatch)
    with pytest.raises(archc.ArchcError) as info:
        write_all({old: b"the new report", new: b"print('new')\n", tmp_path / "net.svg": b"<svg/>"})
    assert info.value.code == "output-failed"
    assert _listing(tmp_path) == {"net.json": b"the earlier report"}, "old contents back, nothing new, no temporaries"


def test_a_failed_second_rename_removes_a_first_output_that_is_new(tmp_path, monkeypatch):
    _fail_the_second_rename(monkeypatch)
    with pytest.raises(archc.ArchcError):
        write_all({tmp_path / "a.json": b"a", tmp_path / "b.py": b"b"})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_outputs_get_the_users_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_all({tmp_path / "a.json": b"{}"})
    finally:
        os.umask(previous)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == mode


def test_a_replaced_output_keeps_its_mode(tmp_path):
    target = tmp_path / "a.json"
    target.write_bytes(b"old")
    target.chmod(0o640)
    write_all({target: b"new"})
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o640


_SIGNAL_SCRIPT = """
import os, signal, sys
import archc.outputs as outputs
from archc.cli import main

real = outputs._write_whole
def write_then_signal(fd, data):  # the signal arrives while the write is under way
    real(fd, data)
    os.kill(os.getpid(), getattr(signal, sys.argv[2]))
outputs._write_whole = write_then_signal
if sys.argv[3] == "nohup":
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
sys.exit(main(["schema", "-o", sys.argv[1]]))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_termination_signal_while_writing_cleans_up_like_ctrl_c(tmp_path, name):
    target = tmp_path / "schema.json"
    target.write_text("earlier")
    done = subprocess.run([sys.executable, "-c", _SIGNAL_SCRIPT, str(target), name, "-"],
                          capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 128 + getattr(signal, name), done.stderr
    assert "Traceback" not in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["schema.json"] and target.read_text() == "earlier"


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")
def test_an_ignored_sighup_stays_ignored_nohup(tmp_path):
    target = tmp_path / "schema.json"
    done = subprocess.run([sys.executable, "-c", _SIGNAL_SCRIPT, str(target), "SIGHUP", "nohup"],
                          capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(target.read_text())["title"] == "SpecDoc"


def test_signal_handlers_are_restored_after_writing(tmp_path):
    before = signal.getsignal(signal.SIGTERM)
    write_all({tmp_path / "a": b"a"})
    assert signal.getsignal(signal.SIGTERM) is before
