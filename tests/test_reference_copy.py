"""The reference facts in tests/reference are a current copy, and tests/fingerprint.py
implements the probe rule exactly as ../shared/reference/probe.py does.

Both checks need ../shared beside the checkout (CI has it); a plain clone runs the rest of
the suite on the copy."""
from __future__ import annotations

import importlib.util

import pytest
import torch
from conftest import REPO, load_script

import fingerprint

SHARED = REPO.parent / "shared" / "reference"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/reference is not beside this checkout")


@needs_shared
def test_reference_copy_is_current():
    stale = load_script("sync_reference").stale_files()
    assert not stale, f"tests/reference is stale ({', '.join(stale)}): run scripts/sync_reference.py"


def _shared_probe():
    spec = importlib.util.spec_from_file_location("shared_probe", SHARED / "probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _small_network() -> torch.nn.Module:
    # every kind of tensor the rule distinguishes: 4-d and 2-d weights, 1-d weights and
    # biases, running statistics, an integer counter and a 0-d parameter
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.PReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5))
    net.register_parameter("scale", torch.nn.Parameter(torch.tensor(2.0)))
    return net


@needs_shared
def test_probe_rule_matches_the_reference_implementation():
    probe = _shared_probe()
    ours, theirs = _small_network(), _small_network()
    fingerprint.set_probe_weights(ours)
    probe.probe_weights(theirs)
    for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), key
    assert torch.equal(fingerprint.probe_input([3, 8, 8]), probe.probe_input([3, 8, 8]))
    outputs = {"a": ours.eval()(fingerprint.probe_input([3, 8, 8])), "b": (torch.arange(5.0), torch.zeros(0))}
    assert fingerprint.fingerprint(outputs) == probe.fingerprint(outputs)


@pytest.mark.parametrize("scale", [1.0, 1e-3, 1e4])
def test_fingerprints_differ_when_outputs_differ_beyond_tolerance(scale):
    out = torch.linspace(-1, 1, 100) * scale
    ref = fingerprint.fingerprint(out)
    assert fingerprint.fingerprint_differences(fingerprint.fingerprint(out * (1 + 1e-6)), ref) == []
    assert fingerprint.fingerprint_differences(fingerprint.fingerprint(out + 1e-2 * scale), ref)
    assert fingerprint.fingerprint_differences(fingerprint.fingerprint(out[:50]), ref)
