"""Trained weights in: torch.save and safetensors files load into the built module, checked
against the spec's keys and shapes first; anything else is a coded error, never a traceback."""
from __future__ import annotations

import argparse

import pytest
import torch
from conftest import SPECS

import archc
from archc.cli import main
from archc.weights import load_weights

LENET = SPECS / "d2l" / "lenet.yaml"


def _trained(seed: int = 1):
    """LeNet with parameters no fresh build has (a stand-in for training)."""
    torch.manual_seed(seed)
    model = archc.build(LENET)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    return model.eval()


def _same_outputs(a, b) -> bool:
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


def test_torch_save_state_dict_gives_the_trained_outputs(tmp_path):
    trained = _trained()
    torch.save(trained.state_dict(), tmp_path / "w.pt")
    loaded = archc.build(LENET, weights=tmp_path / "w.pt")
    assert _same_outputs(loaded, trained)
    assert not _same_outputs(archc.build(LENET), trained)  # the file, not the init, made them equal


def test_safetensors_file_gives_the_trained_outputs(tmp_path):
    from safetensors.torch import save_file

    trained = _trained()
    save_file(trained.state_dict(), str(tmp_path / "w.safetensors"))
    assert _same_outputs(archc.build(LENET, weights=tmp_path / "w.safetensors"), trained)


@pytest.mark.parametrize("wrap", [lambda sd: {"state_dict": sd, "epoch": 3}, lambda sd: {"model": sd},
                                  lambda sd: {f"module.{k}": v for k, v in sd.items()}],
                         ids=["lightning-checkpoint", "model-key", "ddp-prefix"])
def test_checkpoints_and_wrapper_prefixes_are_unwrapped(tmp_path, wrap):
    trained = _trained()
    torch.save(wrap(trained.state_dict()), tmp_path / "w.pt")
    assert _same_outputs(archc.build(LENET, weights=tmp_path / "w.pt"), trained)


def _error(capsys, tmp_path, weights: str, command: str = "build") -> str:
    argv = [command, str(LENET), "--weights", weights]
    argv += ["-o", str(tmp_path / "out"), "--no-diagram"] if command == "build" else ["--input", str(tmp_path / "x.json")]
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written when the weights are refused
    return err


def test_missing_unexpected_and_misshaped_keys_are_listed_with_counts(tmp_path, capsys):
    state = archc.build(LENET).state_dict()
    del state["0.weight"], state["0.bias"]
    state["head.weight"] = torch.zeros(3)
    state["3.weight"] = torch.zeros(16, 6, 3, 3)
    torch.save(state, tmp_path / "w.pt")
    err = _error(capsys, tmp_path, str(tmp_path / "w.pt"))
    assert err.startswith(f"{tmp_path / 'w.pt'}:1:1: error[bad-weights]")
    assert "missing (2): 0.weight, 0.bias" in err
    assert "unexpected (1): head.weight" in err
    assert "mis-shaped (1): 3.weight is 16×6×3×3 in the file, 16×6×5×5 in the network" in err


def test_many_missing_keys_show_a_few_and_the_count(tmp_path):
    torch.save({}, tmp_path / "w.pt")
    with pytest.raises(archc.ArchcError) as caught:
        archc.build(LENET, weights=tmp_path / "w.pt")
    assert caught.value.code == "bad-weights"
    assert caught.value.notes == ["missing (10): 0.weight, 0.bias, 3.weight, … and 7 more"]


def test_pickle_of_arbitrary_objects_is_refused_without_running_it(tmp_path, capsys):
    torch.save({"0.weight": torch.zeros(1), "opts": argparse.Namespace(lr=0.1)}, tmp_path / "w.pt")
    err = _error(capsys, tmp_path, str(tmp_path / "w.pt"))
    assert "error[bad-weights]" in err and "never unpickles" in err and "argparse.Namespace" in err


def test_a_whole_pickled_module_is_refused(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "w.pt")
    with pytest.raises(archc.ArchcError) as caught:
        archc.build(LENET, weights=tmp_path / "w.pt")
    assert caught.value.code == "bad-weights" and "never unpickles" in caught.value.message


@pytest.mark.parametrize("name, data", [("w.pt", b"garbage, not a checkpoint" * 4), ("w.safetensors", b"\xff" * 64),
                                        ("w.bin", b"")])
def test_garbage_bytes_are_not_a_weights_file(tmp_path, capsys, name, data):
    (tmp_path / name).write_bytes(data)
    assert "error[bad-weights]" in _error(capsys, tmp_path, str(tmp_path / name))


def test_a_directory_is_refused(tmp_path, capsys):
    (tmp_path / "weights").mkdir()
    assert "error[not-a-file]" in _error(capsys, tmp_path, str(tmp_path / "weights"))


def test_a_file_larger_than_the_network_could_need_is_refused_before_reading(tmp_path):
    model = archc.build(LENET)
    path = tmp_path / "w.pt"
    with open(path, "wb") as handle:  # sparse: the size is what is checked, before any byte is read
        handle.truncate(3 * 61_706 * 8 + 64 * 2**20)
    with pytest.raises(archc.ArchcError) as caught:
        load_weights(model, path)
    assert caught.value.code == "file-too-large"


def test_tensors_that_are_not_a_mapping_are_refused(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "w.pt")
    with pytest.raises(archc.ArchcError) as caught:
        archc.build(LENET, weights=tmp_path / "w.pt")
    assert caught.value.code == "bad-weights" and "does not hold a state_dict" in caught.value.message


def test_run_uses_the_weights(tmp_path, capsys):
    trained = _trained()
    torch.save(trained.state_dict(), tmp_path / "w.pt")
    x = torch.randn(1, 28, 28, generator=torch.Generator().manual_seed(0))
    (tmp_path / "x.json").write_text(str(x.tolist()))
    assert main(["run", str(LENET), "--input", str(tmp_path / "x.json"), "--weights", str(tmp_path / "w.pt")]) == 0
    out = capsys.readouterr().out
    with torch.no_grad():
        want = trained(x.unsqueeze(0))[0]
    printed = [float(v) for v in out.splitlines()[1].strip("[]").split()]
    assert printed == pytest.approx(want.tolist(), rel=1e-5, abs=1e-6)


def test_build_with_weights_writes_its_outputs(tmp_path, capsys):
    torch.save(_trained().state_dict(), tmp_path / "w.pt")
    assert main(["build", str(LENET), "--weights", str(tmp_path / "w.pt"), "-o", str(tmp_path / "out"),
                 "--no-diagram"]) == 0
    assert (tmp_path / "out" / "lenet.py").exists()
