"""Classify scikit-learn's handwritten digits with an RNN, a GRU or an LSTM.

Each 8x8 image is read as a sequence of 8 rows with 8 pixels each.

    python snippets/rnn/train.py                  # GRU, 15 epochs
    python snippets/rnn/train.py --model lstm --epochs 20
    python snippets/rnn/train.py --model all      # a table: accuracy and time per model
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class Classifier(nn.Module):
    def __init__(self, kind: str, hidden_size: int, num_classes: int = 10):
        super().__init__()
        self.rnn = LAYERS[kind](input_size=8, hidden_size=hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x):  # x: (batch, 8 rows, 8 pixels)
        output, _ = self.rnn(x)
        return self.head(output[:, -1])  # the output after the last row


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def pick_device(text: str) -> torch.device:
    if text == "auto":
        return torch.accelerator.current_accelerator() if torch.accelerator.is_available() else torch.device("cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"unknown device {text!r} (try auto, cpu or cuda)") from None
    if device.type != "cpu":
        available = torch.accelerator.is_available() and torch.accelerator.current_accelerator().type == device.type
        if not available or (device.index or 0) >= torch.accelerator.device_count():
            raise argparse.ArgumentTypeError(f"{text!r} is not available on this machine")
    return device


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(description="Classify load_digits images (8 rows of 8 pixels) with an RNN, GRU or LSTM.")
    p.add_argument("--model", choices=[*LAYERS, "all"], default="gru",
                   help="recurrent layer, or all for a comparison table (default: gru)")
    p.add_argument("--epochs", type=positive_int, default=15, help="passes over the training set (default: 15)")
    p.add_argument("--hidden-size", type=positive_int, default=64, help="hidden state size (default: 64)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="mini-batch size (default: 64)")
    p.add_argument("--lr", type=positive_float, default=1e-2, help="Adam learning rate (default: 0.01)")
    p.add_argument("--clip", type=positive_float, default=1.0, help="max gradient norm (default: 1.0)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--device", type=pick_device, default="auto",
                   help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--threads", type=positive_int, default=1, help="CPU threads for torch (default: 1)")
    return p.parse_args(argv)


def load_data(seed: int, device: torch.device):
    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32) / 16.0  # (1797, 8, 8), pixels in [0, 1]
    y = torch.tensor(digits.target)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = len(x) // 5
    test, train = order[:n_test], order[n_test:]
    return (x[train].to(device), y[train].to(device)), (x[test].to(device), y[test].to(device))


def train(kind: str, args: argparse.Namespace, verbose: bool) -> dict:
    (x_train, y_train), (x_test, y_test) = load_data(args.seed, args.device)
    torch.manual_seed(args.seed)
    model = Classifier(kind, args.hidden_size).to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))

    def accuracy() -> int:
        model.eval()
        with torch.no_grad():
            correct = (model(x_test).argmax(dim=1) == y_test).sum().item()
        model.train()
        return correct

    if verbose:
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{kind}: {n_params:,} parameters, {len(x_train)} training and {len(x_test)} test images")
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=args.clip)
            optimizer.step()
            total += loss.item() * len(xb)
        if verbose:
            print(f"epoch {epoch:>2}/{args.epochs}  loss {total / len(x_train):.4f}  "
                  f"test accuracy {accuracy() / len(x_test):.4f}")
    correct = accuracy()  # .item() waits for the device, so the time below is complete
    seconds = time.perf_counter() - start
    return {"model": kind, "params": sum(p.numel() for p in model.parameters()),
            "correct": correct, "total": len(x_test), "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"device: {args.device}, torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s)")
    if args.model != "all":
        r = train(args.model, args, verbose=True)
        print(f"{r['model']}: test accuracy {r['correct'] / r['total']:.4f} ({r['correct']}/{r['total']}) "
              f"after {args.epochs} epochs, {r['seconds']:.1f} s")
        return 0
    rows = [train(kind, args, verbose=False) for kind in LAYERS]
    print(f"epochs: {args.epochs}, hidden size: {args.hidden_size}, seed: {args.seed}\n")
    header = ("model", "parameters", "test accuracy", "train time (s)")
    table = [(r["model"], f"{r['params']:,}", f"{r['correct'] / r['total']:.4f} ({r['correct']}/{r['total']})",
              f"{r['seconds']:.1f}") for r in rows]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 1) + ":" if i else "-" * (w + 2) for i, w in enumerate(widths)) + "|")
    for row in table:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
