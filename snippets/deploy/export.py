"""Train the digits classifier and export it for deployment: a torch.export program
(digits.pt2) and an ONNX model (digits.onnx), plus sample inputs to try predict.py on.

    python export.py                      # writes exported/digits.pt2, exported/digits.onnx, ...
    python export.py --out-dir models --epochs 20

The exported model takes what a reader of the data has: rows of 64 pixel values 0..16
(scikit-learn's load_digits, an 8x8 image read row by row). Scaling and reshaping are
inside the exported graph, so predict.py needs neither this file nor the model's class.
Every file is written to a temporary name first and renamed when complete.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.export import Dim


class Digits(nn.Module):
    """Pixels 0..16 in, one score per digit out: the quickstart's MLP with its input scaling."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, pixels):  # (batch, 64), values 0..16
        return self.net(pixels / 16)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=Path("exported"), help="where the files go (default: exported)")
    p.add_argument("--epochs", type=positive_int, default=10, help="training epochs (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    args = p.parse_args(argv)
    if args.out_dir.exists() and not args.out_dir.is_dir():
        p.error(f"argument --out-dir: {args.out_dir} is not a folder")
    return args


def train(epochs: int, seed: int) -> tuple[nn.Module, np.ndarray, np.ndarray]:
    """The model trained on 80% of the digits; returns it with the other 20% (pixels, labels)."""
    digits = load_digits()
    pixels = digits.data.astype(np.float32)  # (1797, 64), values 0..16
    order = np.random.default_rng(seed).permutation(len(pixels))
    cut = int(0.8 * len(pixels))
    train_idx, test_idx = order[:cut], order[cut:]
    x, y = torch.from_numpy(pixels[train_idx]), torch.from_numpy(digits.target[train_idx])
    torch.manual_seed(seed)
    model = Digits()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(64):
            loss = loss_fn(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval(), pixels[test_idx], digits.target[test_idx]


def write_atomically(path: Path, write) -> None:
    tmp = path.with_name(f".tmp-{path.name}")  # same suffix: torch.export.save checks it
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)  # a tiny model: one thread is fast enough and repeats its numbers on one machine
    model, test_pixels, test_labels = train(args.epochs, args.seed)
    x_test = torch.from_numpy(test_pixels)
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1).numpy() == test_labels).mean()
    print(f"trained {args.epochs} epochs: test accuracy {accuracy:.4f} ({len(test_labels)} images)")

    example = (x_test[:4],)
    batch = ({0: Dim("batch", min=1, max=4096)},)  # any batch size up to 4096; 64 pixels
    program = torch.export.export(model, example, dynamic_shapes=batch)
    onnx_program = torch.onnx.export(model, example, dynamo=True, dynamic_shapes=batch,
                                     input_names=["pixels"], output_names=["scores"])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir
    write_atomically(out / "digits.pt2", lambda p: torch.export.save(program, p))
    write_atomically(out / "digits.onnx", lambda p: onnx_program.save(str(p)))
    write_atomically(out / "sample.npy", lambda p: np.save(open(p, "wb"), test_pixels[:10]))
    write_atomically(out / "sample.csv", lambda p: np.savetxt(p, test_pixels[:10], fmt="%d", delimiter=","))
    print(f"wrote {out / 'digits.pt2'}, {out / 'digits.onnx'}, and 10 test images in sample.csv and sample.npy")
    print("their labels:", " ".join(str(v) for v in test_labels[:10]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
