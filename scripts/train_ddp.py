#!/usr/bin/env python3
"""Train a spec's network with DistributedDataParallel, one process per GPU (or per CPU process):

    torchrun --nproc_per_node 4 scripts/train_ddp.py specs/d2l/resnet18.yaml --steps 100
    torchrun --nproc_per_node 2 scripts/train_ddp.py specs/d2l/lenet.yaml --steps 2 --device cpu

The data is random (a stand-in for a DistributedSampler over a real dataset); rank 0 saves the
trained state_dict, which `archc build/run/export --weights` load. docs/deploy.md walks through it.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import archc  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("spec")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch", type=int, default=32, help="samples per process and step")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--save", default="build/trained.pt")
    args = p.parse_args()

    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])  # set by torchrun
    cuda = args.device == "cuda"
    dist.init_process_group("nccl" if cuda else "gloo")
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)

    graph = archc.check(args.spec)
    torch.manual_seed(0)  # every rank starts from the same parameters (DDP also broadcasts rank 0's)
    model = archc.build(graph, device=device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if cuda else None)
    optimiser = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    classes = graph.root.out_shape[0]
    generator = torch.Generator().manual_seed(1000 + rank)  # each rank its own share of the data

    for step in range(args.steps):
        x = torch.randn((args.batch, *graph.input_shape), generator=generator).to(device)
        y = torch.randint(classes, (args.batch,), generator=generator).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = nn.functional.cross_entropy(ddp(x), y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()  # DDP averages the gradients over the ranks here
        optimiser.step()
        if rank == 0 and (step % 10 == 0 or step == args.steps - 1):
            print(f"step {step}: loss {loss.item():.4f}", flush=True)

    if rank == 0:
        Path(args.save).parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), args.save)  # the inner module's keys, as the spec names them
        print(f"saved {args.save}")
    # Every rank waits here so none tears its connections down while another still uses them:
    # gloo aborts a process whose peer closed a socket mid-conversation.
    dist.barrier()
    del ddp
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
    # Leave without running C++ destructors at interpreter exit: on a loaded machine a rank
    # whose gloo/store threads are still winding down there aborts with "terminate called
    # without an active exception" (SIGABRT) after its work is done and saved.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
