"""Time an epoch of a DataLoader over a dataset whose __getitem__ is slow, with 0 worker
processes and with --workers of them. A script, not a page block: worker processes need the
dataset class importable from a file and the loop under the __main__ guard (spawn/forkserver).

    python snippets/debugging/loader_workers.py [--workers 2] [--items 48] [--delay 0.01]
"""

import argparse
import time

import torch
from torch.utils.data import DataLoader, Dataset


class SlowDataset(Dataset):
    def __init__(self, items, delay):
        self.items, self.delay = items, delay

    def __len__(self):
        return self.items

    def __getitem__(self, i):
        time.sleep(self.delay)  # stands in for reading and decoding a file
        return torch.tensor([float(i)])


def epoch_time(dataset, num_workers, epochs=3):
    """The fastest epoch after the first. Persistent workers are started in the first, so
    starting them is not what is compared; and a moment of load on a busy machine, which only
    ever adds time, slows one epoch, not all of them (timeit takes the fastest run too)."""
    loader = DataLoader(dataset, batch_size=8, num_workers=num_workers, persistent_workers=num_workers > 0)
    times, totals = [], set()
    for epoch in range(epochs):
        start = time.perf_counter()
        totals.add(sum(batch.sum().item() for batch in loader))
        times.append(time.perf_counter() - start)
    return min(times[1:]), totals


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=positive, default=2, help="worker processes to compare with 0")
    parser.add_argument("--items", type=positive, default=48, help="dataset length")
    parser.add_argument("--delay", type=float, default=0.01, help="seconds each __getitem__ sleeps")
    args = parser.parse_args(argv)
    if not 0 <= args.delay <= 1:
        parser.error(f"argument --delay: must be between 0 and 1 seconds, got {args.delay}")

    dataset = SlowDataset(args.items, args.delay)
    t0, total0 = epoch_time(dataset, 0)
    tn, totaln = epoch_time(dataset, args.workers)
    print("same data:", total0 == totaln)
    print(f"{args.workers} workers faster than 0:", tn < t0)


if __name__ == "__main__":
    main()
