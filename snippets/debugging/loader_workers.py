"""Read a dataset whose __getitem__ is slow with 0 worker processes and with --workers of them:
which processes read the items, whether their reads overlapped in time, and (--times) how long
an epoch took. A script, not a page block: worker processes need the dataset class importable
from a file and the loop under the __main__ guard (spawn/forkserver).

    python snippets/debugging/loader_workers.py [--workers 2] [--items 48] [--delay 0.01] [--times]
"""

import argparse
import os
import time

import torch
from torch.utils.data import DataLoader, Dataset


class SlowDataset(Dataset):
    def __init__(self, items, delay):
        self.items, self.delay = items, delay

    def __len__(self):
        return self.items

    def __getitem__(self, i):
        start = time.perf_counter()  # one clock for every process on the machine
        time.sleep(self.delay)  # stands in for reading and decoding a file
        # the item, and who read it when: a reader's dataset returns only the first value
        return torch.tensor([float(i), os.getpid(), start, time.perf_counter()], dtype=torch.float64)


def read_epochs(dataset, num_workers, epochs=3):
    """Each epoch's items as rows of (value, pid, start, end), and the fastest epoch after the
    first (persistent workers start in the first; load only ever adds time)."""
    loader = DataLoader(dataset, batch_size=8, num_workers=num_workers, persistent_workers=num_workers > 0)
    read, times = [], []
    for epoch in range(epochs):
        start = time.perf_counter()
        read.append(torch.cat(list(loader)))
        times.append(time.perf_counter() - start)
    return read, min(times[1:])


def overlapped(read):
    """Did two different processes sleep in __getitem__ at the same moment, in some epoch?"""
    return any(a[0] != b[0] and a[1] < b[2] and b[1] < a[2]
               for items in read for a in items[:, 1:].tolist() for b in items[:, 1:].tolist())


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
    parser.add_argument("--times", action="store_true", help="also print each loader's epoch time")
    args = parser.parse_args(argv)
    if not 0 <= args.delay <= 1:
        parser.error(f"argument --delay: must be between 0 and 1 seconds, got {args.delay}")

    dataset = SlowDataset(args.items, args.delay)
    alone, t0 = read_epochs(dataset, 0)
    shared, tn = read_epochs(dataset, args.workers)
    print("same data:", all(torch.equal(a[:, 0], b[:, 0]) for a, b in zip(alone, shared)))
    print("0 workers, read by the main process:", {int(r[1]) for e in alone for r in e} == {os.getpid()})
    readers = {int(r[1]) for e in shared for r in e}
    print(f"{args.workers} workers, read by {len(readers)} worker processes at the same time:",
          os.getpid() not in readers and overlapped(shared))
    if args.times:  # these vary from run to run and with the machine's load
        print(f"fastest epoch after the first: 0 workers {t0:.3f} s, {args.workers} workers {tn:.3f} s")


if __name__ == "__main__":
    main()
