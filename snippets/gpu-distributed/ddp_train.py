"""Train a small classifier with DistributedDataParallel (DDP).

    python -m torch.distributed.run --nproc-per-node 2 --master-addr 127.0.0.1 \
        --master-port 29500 ddp_train.py --epochs 3 --save-dir checkpoints
    python ddp_train.py            # no launcher: one process, world size 1

Without torchrun the script uses MASTER_ADDR and MASTER_PORT from the environment if they
are set, else 127.0.0.1 and a free port.

Each process (rank) trains a copy of the model on its own shard of the data
(DistributedSampler); DDP averages the gradients, so every copy takes the same step.
CPU processes talk through the gloo backend; with CUDA, each rank uses the GPU named by
LOCAL_RANK and the nccl backend. At the end every rank's parameters are compared, and
rank 0 alone writes the checkpoint.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32, help="per process")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=2048)
    p.add_argument("--save-dir", type=Path, default=Path("checkpoints"))
    p.add_argument("--expect-world-size", type=int, default=None,
                   help="stop with an error unless exactly this many processes run")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for the other processes")
    return p.parse_args(argv)


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def setup(args) -> tuple[int, int, torch.device]:
    """Join the process group; returns (rank, world size, device)."""
    if "RANK" not in os.environ:  # started as plain `python ddp_train.py`
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1")
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(free_port()))
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    if args.expect_world_size is not None and world_size != args.expect_world_size:
        fail(f"--expect-world-size {args.expect_world_size}, but {world_size} process(es) "
             "were started; match --nproc-per-node to it")

    addr, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if not addr or not port:
        fail("RANK is set but MASTER_ADDR or MASTER_PORT is not; start the script with torchrun")
    if is_loopback(addr):  # all ranks on this machine: keep their traffic on loopback
        lo = next((n for _, n in socket.if_nameindex() if n in ("lo", "lo0")), None)
        if lo:
            os.environ.setdefault("GLOO_SOCKET_IFNAME", lo)
            os.environ.setdefault("NCCL_SOCKET_IFNAME", lo)

    if torch.cuda.is_available() and torch.cuda.device_count() >= local_world_size:
        device = torch.device("cuda", local_rank)  # one GPU per process
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        if torch.cuda.is_available() and rank == 0:
            print(f"{local_world_size} processes but {torch.cuda.device_count()} GPU(s): using the CPU")
        device, backend = torch.device("cpu"), "gloo"
    try:
        dist.init_process_group(backend, rank=rank, world_size=world_size,
                                timeout=timedelta(seconds=args.timeout),
                                device_id=device if device.type == "cuda" else None)
    except Exception as e:  # DistNetworkError, DistStoreError, ...
        fail(f"rank {rank} could not join the process group at {addr}:{port} "
             f"({type(e).__name__}: {str(e).splitlines()[0]})")
    return rank, world_size, device


def make_data(n: int, seed: int) -> TensorDataset:
    """The same data on every rank: 4 classes of points in 16 dimensions."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=g)
    w = torch.randn(16, 4, generator=g)
    y = (x @ w).argmax(dim=1)
    return TensorDataset(x, y)


def save_checkpoint(state: dict, path: Path) -> None:
    """Write to a temporary file, then rename: a crash never leaves half a checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pt")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv=None) -> int:
    args = parse_args(argv)
    rank, world_size, device = setup(args)
    try:
        torch.manual_seed(args.seed)  # same initial weights everywhere (DDP also broadcasts rank 0's)
        dataset = make_data(args.samples, args.seed)
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                     shuffle=True, seed=args.seed)
        loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler,
                            pin_memory=device.type == "cuda")

        model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 4)).to(device)
        ddp_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
        optimizer = torch.optim.SGD(ddp_model.parameters(), lr=args.lr)
        loss_fn = nn.CrossEntropyLoss()
        if rank == 0:
            print(f"world size {world_size}, backend {dist.get_backend()}, "
                  f"{len(sampler)} of {len(dataset)} samples per rank per epoch")

        for epoch in range(args.epochs):
            sampler.set_epoch(epoch)  # a different shuffle each epoch, the same on all ranks
            ddp_model.train()
            stats = torch.zeros(3, device=device)  # loss sum, correct, count
            for x, y in loader:
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                optimizer.zero_grad()
                logits = ddp_model(x)
                loss = loss_fn(logits, y)
                loss.backward()  # DDP all-reduces (averages) the gradients here
                optimizer.step()
                correct = (logits.argmax(dim=1) == y).sum().float()
                stats += torch.stack([loss.detach() * len(y), correct, stats.new_tensor(len(y))])
            dist.all_reduce(stats)  # sum over ranks
            if rank == 0:
                print(f"epoch {epoch + 1}: loss {stats[0] / stats[2]:.4f}, "
                      f"accuracy {stats[1] / stats[2]:.3f}")

        flat = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
        gathered = [torch.empty_like(flat) for _ in range(world_size)]
        dist.all_gather(gathered, flat)
        same = all(torch.equal(gathered[0], t) for t in gathered)
        if rank == 0:
            print(f"parameters identical on all {world_size} ranks: {same}")
            path = args.save_dir / "ddp_checkpoint.pt"
            save_checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                             "epochs": args.epochs}, path)
            print(f"rank 0 saved {path.name}")
        dist.barrier()
        return 0 if same else 1
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    code = main()
    # Leave without running C++ destructors: a gloo thread still being torn down there can
    # abort a rank that finished cleanly ("terminate called without an active exception",
    # under CPU load; see pytorch/pytorch#179291). Everything is saved and flushed by now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
