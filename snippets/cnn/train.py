"""Train a small convolutional network on scikit-learn's handwritten digits (8x8 images,
nothing to download). The model, the data split and the augmentation are the ones of the
"Convolutional networks (CNN)" chapter.

    python snippets/cnn/train.py                     # 10 epochs
    python snippets/cnn/train.py --augment --epochs 30
    python snippets/cnn/train.py --save cnn.pt       # also save the weights (state_dict)
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, random_split
from tqdm import tqdm

SPLIT_SEED = 0  # the train/test split of the chapter, whatever --seed is


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
    """argv=None reads the command line; a list (parse_args(["--epochs", "3"])) lets a
    notebook or a test check the same arguments. Every check happens here, before any work."""
    p = Parser(description="Train a small CNN on scikit-learn's 8x8 digits.")
    p.add_argument("--epochs", type=positive_int, default=10, help="passes over the training set (default: 10)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="mini-batch size (default: 64)")
    p.add_argument("--lr", type=positive_float, default=0.01, help="Adam learning rate (default: 0.01)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, batch order, augmentation (default: 0)")
    p.add_argument("--device", type=pick_device, default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--augment", action="store_true", help="random rotations and shifts of the training images")
    p.add_argument("--threads", type=positive_int, default=1, help="CPU threads for torch (default: 1)")
    p.add_argument("--save", metavar="PATH", help="save the trained weights (state_dict) to this file")
    args = p.parse_args(argv)
    if args.save is not None:
        folder = os.path.dirname(os.path.abspath(args.save))
        if os.path.isdir(args.save):
            p.error(f"argument --save: {args.save} is a folder, give a file name")
        if not os.path.isdir(folder):
            p.error(f"argument --save: the folder {folder} does not exist")
    return args


class Digits(Dataset):
    """(1, 8, 8) images in [0, 1] and their labels; `transform` is applied to each image
    every time it is read, so an augmented image is new in every epoch."""

    def __init__(self, images, labels, transform=None):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        image = self.images[idx]
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[idx]


def make_cnn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1),  # (N, 16, 8, 8)
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 16, 4, 4)
        nn.Conv2d(16, 32, kernel_size=3, padding=1),  # (N, 32, 4, 4)
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 32, 2, 2)
        nn.Flatten(),  # (N, 128)
        nn.Dropout(0.25),
        nn.Linear(128, 10),
    )


def load_data(augment: bool) -> tuple[Digits, torch.Tensor, torch.Tensor]:
    """The training set as a Dataset (augmented if asked) and the test set as two tensors."""
    from sklearn.datasets import load_digits  # slow to import: only after the arguments are checked

    transform = None
    if augment:
        from torchvision.transforms import v2

        transform = v2.RandomAffine(degrees=10, translate=(0.125, 0.125))
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16
    labels = torch.tensor(digits.target)
    train_idx, test_idx = random_split(range(len(labels)), [0.8, 0.2],
                                       generator=torch.Generator().manual_seed(SPLIT_SEED))
    train = Digits(images[train_idx.indices], labels[train_idx.indices], transform)
    return train, images[test_idx.indices], labels[test_idx.indices]


@torch.no_grad()
def count_correct(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """All 359 test images in one batch. (A DataLoader here would draw a seed from the
    global random generator each epoch and change the dropout masks of the next one.)"""
    model.eval()
    return (model(x).argmax(dim=1) == y).sum().item()


def save_atomically(state: dict, path: str) -> None:
    """Write to a temporary file next to `path`, then rename it: an interrupted or failed
    save leaves an existing file at `path` whole."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = args.device
    torch.set_num_threads(args.threads)
    train_ds, x_test, y_test = load_data(args.augment)
    x_test, y_test = x_test.to(device), y_test.to(device)

    torch.manual_seed(args.seed)
    model = make_cnn().to(device)
    loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"device: {device}, {n_params:,} parameters, {len(train_ds)} training and {len(y_test)} test images, "
          f"augmentation {'on' if args.augment else 'off'}")

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        total = 0.0
        for x, y in tqdm(loader, desc=f"epoch {epoch}", leave=False, disable=None):  # no bar unless a terminal
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        correct = count_correct(model, x_test, y_test)
        print(f"epoch {epoch:2d}/{args.epochs}  train loss {total / len(train_ds):.4f}  "
              f"test accuracy {correct / len(y_test):.4f}")
    seconds = time.perf_counter() - start
    epochs = f"{args.epochs} epoch" + ("s" if args.epochs > 1 else "")
    print(f"test accuracy {correct / len(y_test):.4f} ({correct}/{len(y_test)}) after {epochs}, {seconds:.1f} s")
    if args.save is not None:
        save_atomically(model.state_dict(), args.save)
        print(f"saved the state_dict to {args.save}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
