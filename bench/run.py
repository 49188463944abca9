#!/usr/bin/env python3
"""archc's benchmarks: every figure is a ratio against a baseline measured in the same run.

    python bench/run.py            # all benchmarks, a markdown table on stdout
    python bench/run.py --quick    # fewer repeats

1. `archc check` (a whole process) against `python -c "import torch"`: the editor loop.
2. Forward passes of archc-built modules against the lecture's hand-written PyTorch
   (tests/lecture_nets.py), same weights, same input, interleaved repeats on this device.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))


def _process_seconds(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_check(repeats: int) -> list[tuple[str, float, float]]:
    py = sys.executable
    rows = []
    torch_import = _process_seconds([py, "-c", "import torch"], repeats)
    for spec in ["specs/d2l/lenet.yaml", "specs/d2l/densenet.yaml", "specs/torchvision/resnet50.yaml"]:
        check = _process_seconds([py, "-m", "archc", "check", spec], repeats)
        rows.append((f"archc check {spec}", check, torch_import))
    return rows


def bench_forward(name: str, batch: int, repeats: int, device: str = "cpu") -> tuple[str, float, float]:
    import torch
    from lecture_nets import NETWORKS
    from test_specs import _copy_weights_by_position

    import archc

    torch.manual_seed(0)
    graph = archc.check(REPO / "specs" / "d2l" / f"{name}.yaml")
    ours = archc.build(graph, device=device).eval()
    theirs = NETWORKS[name]().to(device).eval()
    _copy_weights_by_position(ours, theirs)
    x = torch.randn(batch, *graph.input_shape, device=device)

    def once(model) -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model(x)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    with torch.no_grad():
        for _ in range(3):  # warm-up
            once(ours), once(theirs)
        ours_t, theirs_t = [], []
        for _ in range(repeats):  # interleaved, so machine noise hits both alike
            ours_t.append(once(ours))
            theirs_t.append(once(theirs))
    return (f"forward {name} (batch {batch}, {device})", statistics.median(ours_t), statistics.median(theirs_t))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    repeats = 5 if args.quick else 15
    rows = bench_check(repeats)
    for name, batch in [("alexnet", 8), ("resnet18", 16), ("googlenet", 16), ("densenet", 16), ("lenet", 256)]:
        rows.append(bench_forward(name, batch, repeats * 2, args.device))
    print("| measurement | archc (s) | baseline (s) | ratio |")
    print("|---|---:|---:|---:|")
    for label, ours, base in rows:
        baseline = "python -c 'import torch'" if label.startswith("archc check") else "hand-written"
        print(f"| {label} vs {baseline} | {ours:.4f} | {base:.4f} | {ours / base:.2f} |")


if __name__ == "__main__":
    main()
