#!/usr/bin/env python3
"""Regenerate docs/errors.md: every error code, an example that causes it, and the exact
message archc prints for it.

    python scripts/errors_doc.py

tests/test_error_catalogue.py fails when the page is stale or an example stops giving its code.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archc.cli import main  # noqa: E402
from archc.errors import CODES, WARNINGS  # noqa: E402

H = "archc: 1\nname: net\ninput: [3, 32, 32]\n"

# code -> (files, argv); files["spec.yaml"] is the spec shown. None: cannot be caused by a spec.
EXAMPLES: dict[str, tuple[dict[str, str | bytes], list[str]] | None] = {
    "file-not-found": ({"spec.yaml": H + "imports: [blocks/resnet.yaml]\nlayers: [relu]\n"}, []),
    "file-unreadable": None,
    "file-too-large": ({"spec.yaml": "# " + "x" * 2_100_000 + "\n"}, []),
    "not-a-file": ({"spec.yaml": H + "imports: [/dev/zero]\nlayers: [relu]\n"}, []),
    "not-utf8": ({"spec.yaml": b"archc: 1\nname: r\xe9seau\n"}, []),
    "empty-spec": ({"spec.yaml": "# nothing here yet\n"}, []),
    "yaml-syntax": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3\n  - relu\n"}, []),
    "yaml-tag": ({"spec.yaml": H + "description: !!python/object/apply:os.system ['rm -rf ~']\nlayers: [relu]\n"}, []),
    "yaml-merge-key": ({"spec.yaml": "conv: &conv {kernel_size: 3, padding: 1}\n" + H + "layers:\n  - conv2d: {<<: *conv, out_channels: 8}\n"}, []),
    "yaml-key": ({"spec.yaml": H + "layers:\n  - conv2d: {[out_channels]: 8, kernel_size: 3}\n"}, []),
    "duplicate-key": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3, out_channels: 16}\n"}, []),
    "yaml-too-large": ({"spec.yaml": "a: &a [relu, relu, relu, relu, relu, relu, relu, relu, relu, relu]\n"
                        + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdef", "bcdefg"))
                        + H + "layers: *g\n"}, []),
    "yaml-too-deep": ({"spec.yaml": H + "layers: [relu]\ndescription: " + "[" * 250 + "]" * 250 + "\n"}, []),
    "yaml-recursive-alias": ({"spec.yaml": H + "layers: &net [relu, sequential: {layers: *net}]\n"}, []),
    "yaml-number": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 1" + "0" * 5000 + ", kernel_size: 3}\n"}, []),
    "yaml-string": ({"spec.yaml": H + 'description: "caf\\ud800"\nlayers: [relu]\n'}, []),
    "not-a-mapping": ({"spec.yaml": "- conv2d: {out_channels: 8, kernel_size: 3}\n- relu\n"}, []),
    "unknown-argument": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3, strides: 2}\n"}, []),
    "missing-argument": ({"spec.yaml": H + "layers:\n  - conv2d: {kernel_size: 3}\n"}, []),
    "bad-value": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3, padding: half}\n"}, []),
    "bad-layers": ({"spec.yaml": H + "layers: relu\n"}, []),
    "bad-layer": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3}\n    name: stem\n"}, []),
    "unknown-kind": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3}\n  - batchnorm2d\n"}, []),
    "bad-name": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3, name: 1st-conv}\n"}, []),
    "duplicate-name": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3, name: conv}\n"
                        "  - conv2d: {out_channels: 8, kernel_size: 3, name: conv}\n"}, []),
    "bad-from": ({"spec.yaml": H + "layers:\n  - relu: {name: a}\n  - relu: {from: 3}\n"}, []),
    "bad-merge": ({"spec.yaml": H + "layers:\n  - relu: {name: a}\n  - relu: {name: b}\n  - identity: {from: [a, b], merge: sum}\n"}, []),
    "bad-when": ({"spec.yaml": H + "layers:\n  - relu: {when: 1}\n"}, []),
    "bad-branches": ({"spec.yaml": H + "layers:\n  - parallel: {branches: [relu, relu]}\n"}, []),
    "empty-repeat": ({"spec.yaml": H + "layers:\n  - repeat: {name: stage, times: 0, layers: [relu]}\n"}, []),
    "needs-concrete": ({"spec.yaml": H + "layers:\n  - repeat: {times: '${in.channels}', layers: [relu]}\n"}, []),
    "unknown-import": ({"spec.yaml": H + "imports: [std/resnets]\nlayers: [relu]\n"}, []),
    "bad-import": ({"spec.yaml": H + "imports: [net.yaml]\nlayers: [net]\n",
                    "net.yaml": "archc: 1\nname: net\ninput: [3, 8, 8]\ndefaults: {relu: {inplace: true}}\nlayers: [relu]\n"},
                   []),
    "block-shadowed": ({"spec.yaml": H + "imports: [std]\nblocks:\n  vgg_block:\n    layers: [relu]\nlayers: [relu]\n"}, []),
    "block-cycle": ({"spec.yaml": H + "blocks:\n  down: {layers: [max_pool2d: {kernel_size: 2}, up]}\n"
                     "  up: {layers: [down]}\nlayers: [down]\n"}, []),
    "unknown-parameter": ({"spec.yaml": H + "imports: [std]\nlayers:\n  - vgg_block: {num_convs: 2, channel: 64}\n"}, []),
    "missing-parameter": ({"spec.yaml": H + "imports: [std]\nlayers:\n  - vgg_block: {num_convs: 2}\n"}, []),
    "bad-parameter": ({"spec.yaml": H + "imports: [std]\nlayers:\n  - vgg_block: {num_convs: two, channels: 64}\n"}, []),
    "expr-syntax": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: '${2 *}', kernel_size: 3}\n"}, []),
    "expr-not-allowed": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: \"${__import__('os').getpid()}\", kernel_size: 3}\n"}, []),
    "expr-unknown-name": ({"spec.yaml": H + "blocks:\n  stem:\n    params: {width: int}\n    layers:\n"
                           "      - conv2d: {out_channels: '${widht * 2}', kernel_size: 3}\nlayers:\n  - stem: {width: 8}\n"}, []),
    "expr-type": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: '${[8] * 4}', kernel_size: 3}\n"}, []),
    "expr-index": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: '${[8, 16][2]}', kernel_size: 3}\n"}, []),
    "expr-division-by-zero": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: '${64 // 0}', kernel_size: 3}\n"}, []),
    "expr-overflow": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: '${2 ** 100}', kernel_size: 3}\n"}, []),
    "expr-too-long": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: '${" + " + ".join(["1"] * 130) + "}', kernel_size: 3}\n"}, []),
    "expr-too-deep": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: '${" + "-" * 50 + "8}', kernel_size: 3}\n"}, []),
    "expr-in-string": ({"spec.yaml": H + "layers:\n  - relu: {name: 'relu${in.channels}'}\n"}, []),
    "wrong-rank": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3}\n  - linear: {out_features: 10}\n"}, []),
    "wrong-length": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: [3, 3, 3]}\n"}, []),
    "kernel-too-large": ({"spec.yaml": H + "layers:\n  - max_pool2d: {kernel_size: 8}\n  - conv2d: {out_channels: 8, kernel_size: 5}\n"}, []),
    "output-too-small": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 31}\n  - max_pool2d: {kernel_size: 3}\n"}, []),
    "pool-padding-too-large": ({"spec.yaml": H + "layers:\n  - max_pool2d: {kernel_size: 2, padding: 2}\n"}, []),
    "padding-too-large": ({"spec.yaml": H.replace("32, 32", "2, 2") + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3, padding: 2, padding_mode: reflect}\n"}, []),
    "same-padding-stride": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3, stride: 2, padding: same}\n"}, []),
    "groups-mismatch": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3, groups: 2}\n"}, []),
    "bad-dim": ({"spec.yaml": H + "layers:\n  - flatten: {start_dim: 0}\n"}, []),
    "bad-index": ({"spec.yaml": H + "layers:\n  - flatten: {start_dim: 2}\n  - select: {dim: 1, index: 3}\n"}, []),
    "bad-slice": ({"spec.yaml": H + "layers:\n  - slice_channels: {start: 2, stop: 8}\n"}, []),
    "merge-mismatch": ({"spec.yaml": H + "layers:\n  - residual:\n      body:\n        - conv2d: {out_channels: 3, kernel_size: 3, stride: 2, padding: 1}\n"
                        "        - relu\n"}, []),
    "unknown-source": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3, name: stem}\n  - relu: {from: sterm}\n"}, []),
    "needs-concrete-size": ({"spec.yaml": "archc: 1\nname: net\ninput: [1, H, W]\nlayers:\n  - conv2d: {out_channels: 6, kernel_size: 5}\n"
                             "  - flatten\n  - linear: {out_features: 10}\n"}, []),
    "output-padding-too-large": ({"spec.yaml": H + "layers:\n  - conv_transpose2d: {out_channels: 8, kernel_size: 3, stride: 2, output_padding: 2}\n"}, []),
    "inplace-aliases": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 3, kernel_size: 3, padding: 1}\n  - residual:\n      body:\n"
                                      "        - relu: {inplace: true}\n        - conv2d: {out_channels: 3, kernel_size: 3, padding: 1}\n"}, []),
    "not-divisible": ({"spec.yaml": H + "layers:\n  - pixel_shuffle: {upscale_factor: 2}\n"}, []),
    "bad-reshape": ({"spec.yaml": H + "layers:\n  - reshape: {shape: [3, 16, 16]}\n"}, []),
    "too-few-values": ({"spec.yaml": H + "layers:\n  - adaptive_avg_pool2d: {output_size: 1}\n  - instance_norm2d\n"}, []),
    "too-deep": ({"spec.yaml": H + "layers:\n  - sequential:\n      layers:\n        - sequential: {layers: [relu]}\n"}, ["--max-depth", "1"]),
    "too-many-nodes": ({"spec.yaml": H + "layers:\n  - repeat: {times: 5000, layers: [relu, identity]}\n"}, ["--max-nodes", "1000"]),
    "too-much-work": ({"spec.yaml": H + "layers:\n  - repeat:\n      times: 10000\n      layers:\n        - repeat:\n"
                       "            times: 10000\n            layers: [relu: {when: false}]\n"}, []),
    "too-many-repeats": ({"spec.yaml": H + "layers:\n  - repeat: {times: 1000000, layers: [relu]}\n"}, []),
    "too-many-params": ({"spec.yaml": H + "layers:\n  - flatten\n  - linear: {out_features: 1000000}\n"}, ["--max-params", "100000000"]),
    "too-much-compute": ({"spec.yaml": "archc: 1\nname: net\ninput: [512, 512, 512]\nlayers:\n"
                          "  - conv2d: {out_channels: 8, kernel_size: 101, padding: 50}\n"}, []),
    "too-large": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 10000000, kernel_size: 3}\n"}, []),
    "bad-init": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 1, kernel_size: 2, init: {weight: [[1, 2], [3, 4]]}}\n"}, []),
    "bad-input": ({"spec.yaml": H + "layers: [relu]\n", "x.json": "[[1, 2], [3, 4]]\n"}, ["run", "spec.yaml", "--input", "x.json"]),
    "unknown-layer": ({"spec.yaml": H + "layers:\n  - conv2d: {out_channels: 8, kernel_size: 3, name: stem}\n"},
                      ["explain", "spec.yaml", "stme"]),
    "device-unavailable": ({"spec.yaml": H + "layers: [relu]\n"}, ["build", "spec.yaml", "--device", "cuda:99"]),
    "unknown-format": ({"spec.yaml": H + "layers: [relu]\n"}, ["render", "spec.yaml", "-o", "net.jpeg"]),
    "unknown-focus": ({"spec.yaml": H + "layers: [{relu: {name: act}}]\n"},
                      ["render", "spec.yaml", "--focus", "acts", "-o", "net.dot"]),
    "graphviz-missing": ({"spec.yaml": H + "layers: [relu]\n"}, ["render", "spec.yaml", "-o", "net.svg", "#nodot"]),
    "graphviz-failed": None,
    "graphviz-timeout": ({"spec.yaml": H + "layers: [relu]\n"}, ["render", "spec.yaml", "-o", "net.svg", "--diagram-timeout", "0.001"]),
    "output-failed": ({"spec.yaml": H + "layers: [relu]\n"}, ["build", "spec.yaml", "-o", "spec.yaml"]),
    "out-of-memory": None,
    "numpy-missing": None,
    "bad-weights": ({"spec.yaml": H + "layers: [relu]\n", "w.pt": b"PK\x03\x04 not really a checkpoint"},
                    ["build", "spec.yaml", "--weights", "w.pt", "--no-diagram"]),
    "missing-package": None,
    "export-failed": None,
}

# warnings: the spec compiles (exit 0), and this is printed to stderr
WARNING_EXAMPLES: dict[str, tuple[dict[str, str | bytes], list[str]]] = {
    "channels-last": ({"spec.yaml": "archc: 1\nname: net\ninput: [32, 32, 3]\nlayers:\n  - conv2d: {out_channels: 8, kernel_size: 3}\n"}, []),
}

_WHY_NOT = {
    "file-unreadable": "happens when the file exists but the operating system refuses to read it (permissions).",
    "graphviz-failed": "happens only if graphviz's `dot` itself crashes on a diagram archc wrote.",
    "missing-package": "happens when an optional package is not installed: `archc export --format onnx` without onnx, "
                       "or a .safetensors weights file without safetensors (`pip install 'archc[export]'` installs both).",
    "export-failed": "happens when torch's own exporter refuses a network that archc built and ran; the message "
                     "quotes torch's reason.",
    "out-of-memory": "happens when the machine has less free memory than a network that passed the limits needs "
                     "(the limits are checked before anything is allocated; --max-memory lowers them).",
    "numpy-missing": "happens only on a machine without NumPy (an optional dependency: `pip install numpy`).",
}


def run(code: str) -> tuple[str, str, str]:
    """(spec text shown, command shown, stderr) for one example, run in a scratch folder."""
    if code in WARNING_EXAMPLES:
        return _run(code, *WARNING_EXAMPLES[code], status_wanted=0)
    return _run(code, *EXAMPLES[code], status_wanted=1)


def _run(code: str, files: dict, argv: list[str], status_wanted: int) -> tuple[str, str, str]:
    nodot = "#nodot" in argv
    argv = [a for a in argv if a != "#nodot"]
    if not argv or argv[0].startswith("--"):
        argv = ["check", "spec.yaml", *argv]
    cwd, path = os.getcwd(), os.environ.get("PATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in files.items():
            (Path(tmp) / name).write_bytes(data if isinstance(data, bytes) else data.encode())
        os.chdir(tmp)
        if nodot:
            os.environ["PATH"] = tmp  # as on a machine without graphviz
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                status = main(argv)
        finally:
            os.chdir(cwd)
            os.environ["PATH"] = path
    assert status == status_wanted, (code, status, err.getvalue())
    spec = files["spec.yaml"]
    shown = spec.decode("utf-8", "replace") if isinstance(spec, bytes) else spec
    if len(shown) > 600:
        shown = shown[:300] + "\n# … (shortened)\n"
    return shown, "archc " + " ".join(argv), err.getvalue()


def page() -> str:
    out = [
        "# Error catalogue\n",
        "Every error archc reports has a stable code, the `file:line:col` of the YAML at fault, the layer",
        "path where there is one, what was expected and what was found, and a hint where one helps.",
        "Errors go to stderr; the exit status is 1 (2 for a wrong command line). Independent errors in",
        "one spec are reported together. Each example below is run by the tests; the message shown is",
        "exactly what archc prints. Regenerate with `python scripts/errors_doc.py`.\n",
        "| code | meaning |", "|---|---|",
        *[f"| [`{code}`](#{code}) | {meaning} |" for code, meaning in CODES.items()], "",
    ]
    for code, meaning in CODES.items():
        out.append(f"## {code}\n\n{meaning[0].upper() + meaning[1:]}.\n")
        if EXAMPLES[code] is None:
            out.append(f"No spec can cause this one: it {_WHY_NOT[code]}\n")
            continue
        spec, command, err = run(code)
        out += ["`spec.yaml`:\n", "```yaml", spec.rstrip("\n"), "```\n", f"`{command}`:\n", "```text", err.rstrip("\n"), "```\n"]
    out += ["# Warnings\n", "Likely mistakes that still compile: printed to stderr as `file:line:col: warning[code] …`; "
            "the exit status stays 0.\n"]
    for code, meaning in WARNINGS.items():
        spec, command, err = run(code)
        out += [f"## {code}\n\n{meaning[0].upper() + meaning[1:]}.\n", "`spec.yaml`:\n", "```yaml", spec.rstrip("\n"), "```\n",
                f"`{command}`:\n", "```text", err.rstrip("\n"), "```\n"]
    return "\n".join(out)


def main_() -> None:
    (REPO / "docs" / "errors.md").write_text(page())
    print("wrote docs/errors.md")


if __name__ == "__main__":
    main_()
