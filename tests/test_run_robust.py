"""`archc run` on every kind of bad input file: a located bad-input error and exit 1, never a
traceback, a hang or a huge read; odd but valid inputs (1e20, big-endian, NaN) just work."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import archc.run as run_module
from archc.cli import main

SPEC = "archc: 1\nname: t\ninput: [1, 2, 2]\nlayers: [identity]\n"


def _npy(array) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _sample(dtype="<f4"):
    return np.arange(4, dtype=dtype).reshape(1, 2, 2)


# (id, file name, content: bytes, str, or a function of the folder that makes the file)
def _npy_with_header(header: str, payload: bytes = b"\0" * 36) -> bytes:
    """A .npy file (format 1.0) with this header, padded as numpy.save pads it, then `payload`."""
    text = header.encode("latin1")
    text += b" " * (127 - (10 + len(text)) % 64) + b"\n"  # magic + version + length + header: a multiple of 64
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


BAD = [
    ("object-array", "x.npy", _npy(np.array([{"a": 1}, None], dtype=object))),
    ("pickle", "x.npy", pickle.dumps([[[0.0, 1.0], [2.0, 3.0]]])),
    ("truncated", "x.npy", _npy(_sample())[:-7]),
    ("header-only", "x.npy", _npy(_sample())[:60]),
    ("empty-npy", "x.npy", b""),
    ("not-npy-at-all", "x.npy", b"hello world\n"),
    ("npz-archive", "x.npy", None),  # made below
    ("empty-batch", "x.npy", _npy(np.zeros((0, 1, 2, 2), dtype=np.float32))),
    ("bool-dtype", "x.npy", _npy(np.ones((1, 2, 2), dtype=bool))),
    ("complex-dtype", "x.npy", _npy(np.ones((1, 2, 2), dtype=np.complex64))),
    ("string-dtype", "x.npy", _npy(np.array([[["a", "b"], ["c", "d"]]]))),
    ("record-dtype", "x.npy", _npy(np.zeros((1, 2, 2), dtype=[("a", "<f4"), ("b", "<i4")]))),
    ("too-large-for-float32", "x.npy", _npy(np.full((1, 2, 2), 1e300))),
    ("six-dims", "x.npy", _npy(np.zeros((1, 1, 1, 1, 2, 2)))),
    ("ragged", "x.json", "[[[0, 1], [2]]]"),
    ("strings", "x.json", '[[[0, 1], [2, "three"]]]'),
    ("booleans", "x.yaml", "[[[0, 1], [true, 3]]]"),
    ("empty-list", "x.json", "[]"),
    ("empty-inner-list", "x.yaml", "input: [[[], []]]"),
    ("null", "x.json", "null"),
    ("a-mapping-without-input", "x.yaml", "inputs: [[[0, 1], [2, 3]]]"),
    ("extra-keys", "x.yaml", "input: [[[0, 1], [2, 3]]]\nlabel: 3\n"),
    ("huge-int", "x.json", "[[[0, 1], [2, " + "9" * 40 + "]]]"),
    ("five-thousand-digits", "x.json", "[[[0, 1], [2, " + "9" * 5000 + "]]]"),
    ("huge-float-yaml", "x.yaml", "[[[0, 1], [2, 1e39]]]"),
    ("deeply-nested-json", "x.json", "[" * 5000 + "]" * 5000),
    ("deeply-nested-yaml", "x.yaml", "[" * 40 + "1" + "]" * 40),
    ("invalid-json", "x.json", "[[[0, 1], [2, 3]]"),
    ("not-utf8", "x.yaml", b"\xff\xfe[1]"),
    ("empty-yaml", "x.yaml", ""),
    ("wrong-shape", "x.json", "[[0, 1, 2]]"),
    ("directory", "dir.npy", "mkdir"),
    ("fifo", "pipe.json", "mkfifo"),
    ("dev-zero-link", "zero.npy", "link:/dev/zero"),
    ("dev-urandom-link", "rand.yaml", "link:/dev/urandom"),
    ("npy-header-declaring-10^22-elements", "huge.npy", _npy_with_header("{'descr': '<f4', 'fortran_order': False, "
                                                                         "'shape': (99999999999, 99999999999), }")),
]


def _make(tmp_path, name, content):
    path = tmp_path / name
    if content == "mkdir":
        path.mkdir()
    elif content == "mkfifo":
        os.mkfifo(path)
    elif isinstance(content, str) and content.startswith("link:"):
        path.symlink_to(content[5:])
    elif content is None:
        np.savez(tmp_path / "archive.npz", a=_sample())
        (tmp_path / "archive.npz").rename(path)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _run(tmp_path, capsys, name, content, *extra):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    path = _make(tmp_path, name, content)
    status = main(["run", str(spec), "--input", str(path), *extra])
    return status, capsys.readouterr(), path


@pytest.mark.parametrize("name,content", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_file_is_a_located_error(tmp_path, capsys, name, content):
    status, out, path = _run(tmp_path, capsys, name, content)
    assert status == 1, out.out
    first = out.err.splitlines()[0]
    assert first.startswith(f"{path}:") and ": error[" in first, out.err
    assert any(f"error[{code}]" in first for code in ("bad-input", "yaml-syntax", "not-a-file")), out.err
    assert "Traceback" not in out.err and out.out == ""


def test_an_over_large_input_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(run_module, "MAX_NPY_BYTES", 100)
    status, out, _ = _run(tmp_path, capsys, "x.npy", _npy(np.zeros((1, 1, 2, 2))) + b"\0" * 200)
    assert status == 1 and "error[file-too-large]" in out.err and "too large to be a input file" not in out.err


def test_a_device_is_refused_without_reading_it(tmp_path, capsys):
    status, out, _ = _run(tmp_path, capsys, "zero.npy", "link:/dev/zero")
    assert status == 1 and "error[not-a-file]" in out.err and "is a device, not a input file" not in out.err


@pytest.mark.parametrize("name,content", [
    ("x.json", "[[[1e20, 1], [2, 3]]]"),  # JSON's 1e20 is a float
    ("x.yaml", "[[[1e20, 1], [2, 3]]]"),  # PyYAML would read it as text; YAML 1.2 says number
    ("x.yaml", "input: [[[1.0e+20, 1], [2, 3]]]"),
    ("x.json", "[[[100000000000000000000, 1], [2, 3]]]"),  # beyond int64, within float32
])
def test_large_numbers_written_any_valid_way_are_read(tmp_path, capsys, name, content):
    status, out, _ = _run(tmp_path, capsys, name, content)
    assert status == 0, out.err
    assert out.out.startswith("output 1×2×2:") and "1e+20" in out.out


@pytest.mark.parametrize("name,content", [
    ("x.json", "[[[NaN, Infinity], [-Infinity, 3]]]"),
    ("x.yaml", "[[[.nan, .inf], [-.inf, 3]]]"),
])
def test_nan_and_inf_in_the_output_are_printed(tmp_path, capsys, name, content):
    status, out, _ = _run(tmp_path, capsys, name, content)
    assert status == 0, out.err
    assert "nan" in out.out and "inf" in out.out and "-inf" in out.out


@pytest.mark.parametrize("dtype", [">f4", ">f8", ">i4", "<i2", "u1", "<f2"])
def test_npy_of_any_real_dtype_and_byte_order_gives_its_values(tmp_path, capsys, dtype):
    status, out, _ = _run(tmp_path, capsys, "x.npy", _npy(_sample(dtype)))
    assert status == 0, out.err
    assert out.out == "output 1×2×2:\n[0]\n  [0 1]\n  [2 3]\n"


def test_a_batch_too_large_for_the_memory_limit_is_refused_before_running(tmp_path, capsys):
    status, out, _ = _run(tmp_path, capsys, "x.npy", _npy(np.zeros((5000, 1, 2, 2), dtype=np.float32)),
                          "--max-memory", "0.00001")
    assert status == 1 and "error[bad-input] running a batch of 5,000 would need too much memory" in out.err


def test_json_errors_point_at_the_line(tmp_path, capsys):
    status, out, path = _run(tmp_path, capsys, "x.json", "[\n [[0, 1],\n  [2, 3]],\n]\n")
    assert status == 1 and f"{path}:4:1: error[bad-input] not valid JSON" in out.err


def test_yaml_errors_point_at_the_offending_value(tmp_path, capsys):
    status, out, path = _run(tmp_path, capsys, "x.yaml", "input:\n  - [[0, 1],\n     [2, three]]\n")
    assert status == 1 and f"{path}:3:10: error[bad-input]" in out.err and "input[0][1][1]" in out.err
