"""bench/run.py's static-inference benchmark runs, and refuses to compare different networks."""
from __future__ import annotations

import importlib.util

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_static_inference_benchmark_times_archc_check_against_a_meta_forward(bench):
    [(label, ours, base)] = bench.bench_static_inference(["specs/d2l/lenet.yaml"], repeats=1, warmup=0)
    assert label == "static inference specs/d2l/lenet.yaml vs meta-device forward (archc's module)"
    assert ours > 0 and base > 0


def test_static_inference_benchmark_refuses_a_meta_module_of_another_shape(bench, monkeypatch):
    import torch

    def other_network(graph, spec_path):
        with torch.device("meta"):
            return torch.nn.Flatten(), "another network"
    monkeypatch.setattr(bench, "_meta_model", other_network)
    with pytest.raises(AssertionError, match=r"meta forward gives \(784,\), archc infers \(10,\)"):
        bench.bench_static_inference(["specs/d2l/lenet.yaml"], repeats=1, warmup=0)
