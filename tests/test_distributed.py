"""Built networks train under DistributedDataParallel and FSDP: two CPU processes (gloo), each
on its half of a fixed batch, end with the parameters one process reaches on the whole batch."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from conftest import REPO, SPECS

import archc

LENET = str(SPECS / "d2l" / "lenet.yaml")  # no batch norm: halves of a batch see the statistics of the whole
STEPS, BATCH, LR = 3, 8, 0.1
WORLD = 2

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="this torch build has no gloo backend")


def _data():
    g = torch.Generator().manual_seed(7)
    return torch.randn(STEPS, BATCH, 1, 28, 28, generator=g), torch.randint(10, (STEPS, BATCH), generator=g)


def _model():
    torch.manual_seed(0)
    return archc.build(LENET)


def _train(model, xs, ys, params=None):
    optimiser = torch.optim.SGD(params if params is not None else model.parameters(), lr=LR)
    for x, y in zip(xs, ys):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimiser.step()


def _single_process() -> dict:
    model = _model()
    xs, ys = _data()
    _train(model, xs, ys)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, port: int, how: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    done = False
    try:
        model = _model()
        xs, ys = _data()
        half = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
        if how == "ddp":
            wrapped = torch.nn.parallel.DistributedDataParallel(model)
            _train(wrapped, xs[:, half], ys[:, half])
            state = model.state_dict()
        else:
            from torch.distributed.fsdp import fully_shard

            fully_shard(model)  # FSDP2: every parameter becomes a DTensor sharded over the two ranks
            assert all(type(p).__name__ == "DTensor" for p in model.parameters())
            _train(model, xs[:, half], ys[:, half])
            state = {k: v.full_tensor() if hasattr(v, "full_tensor") else v for k, v in model.state_dict().items()}
        if rank == 0:
            torch.save({k: v.detach().clone() for k, v in state.items()}, out)
        done = True
    finally:
        if done:
            dist.barrier()  # no rank tears its connections down while the other still uses them
        dist.destroy_process_group()
    if done:
        # leave without C++ teardown: on a loaded machine gloo's threads can abort a finished
        # process in its destructors ("terminate called without an active exception")
        os._exit(0)


def _distributed(how: str, tmp_path) -> dict:
    out = str(tmp_path / f"{how}.pt")
    mp.spawn(_worker, args=(_free_port(), how, out), nprocs=WORLD, join=True)
    return torch.load(out, weights_only=True)


def _assert_same_parameters(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for key in want:
        torch.testing.assert_close(got[key], want[key], atol=1e-5, rtol=0, msg=key)


def test_ddp_on_two_processes_matches_one_process_on_the_whole_batch(tmp_path):
    want = _single_process()
    assert not torch.equal(want["0.weight"], _model().state_dict()["0.weight"])  # training moved them
    _assert_same_parameters(_distributed("ddp", tmp_path), want)


def test_fsdp2_fully_shard_on_two_processes_matches_one_process(tmp_path):
    pytest.importorskip("torch.distributed.fsdp", reason="no FSDP in this torch build")
    _assert_same_parameters(_distributed("fsdp", tmp_path), _single_process())


def test_torchrun_recipe_trains_and_saves_weights_archc_loads(tmp_path):
    saved = tmp_path / "trained.pt"
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", str(_free_port()), str(REPO / "scripts" / "train_ddp.py"), LENET,
                          "--steps", "2", "--batch", "4", "--device", "cpu", "--save", str(saved)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)})
    # A rank's own message comes before torchrun's summary: show both ends of stderr.
    assert run.returncode == 0, run.stderr[:3000] + "\n...\n" + run.stderr[-1500:]
    assert "step 1: loss" in run.stdout and f"saved {saved}" in run.stdout
    trained = archc.build(LENET, weights=saved)
    assert not torch.equal(trained.state_dict()["0.weight"], _model().state_dict()["0.weight"])
