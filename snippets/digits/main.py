"""Train a digits classifier in the six steps of a PyTorch project.

    python main.py --epochs 10 --batch-size 64
    python main.py --epochs 30 --resume results/checkpoint.pt

Writes results/checkpoint.pt (model, optimizer, epoch, arguments) and results/curves.png.
"""

import argparse
import os
import sys

import torch
from torch import nn
from tqdm import tqdm

from model import DigitsNet
from utils import evaluate, load_checkpoint, load_data, plot_history, save_checkpoint, train_one_epoch


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def pick_device(name):
    """"auto": the accelerator if there is one, else the CPU. Otherwise the named device,
    which must exist on this machine."""
    if name == "auto":
        return torch.accelerator.current_accelerator() if torch.accelerator.is_available() else torch.device("cpu")
    device = torch.device(name)  # RuntimeError for names torch does not know
    if device.type != "cpu":
        available = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
        if available is None or available.type != device.type:
            raise ValueError(f"{name} is not available on this machine")
        if device.index is not None and device.index >= torch.accelerator.device_count():
            raise ValueError(f"{name} does not exist ({torch.accelerator.device_count()} {device.type} device(s))")
    return device


def parse_args(argv=None):
    """Parses and checks the arguments; argv=None reads the command line, a list of
    strings (parse_args(["--epochs", "3"])) lets a notebook or a test run the same code."""
    parser = argparse.ArgumentParser(description="Train an MLP on scikit-learn's digits.")
    parser.add_argument("--epochs", type=positive_int, default=10, help="train up to this epoch (default: 10)")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="mini-batch size (default: 64)")
    parser.add_argument("--lr", type=positive_float, default=1e-2, help="learning rate (default: 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps, ... (default: auto)")
    parser.add_argument("--save-dir", default="results", help="where the checkpoint and plot go (default: results)")
    parser.add_argument("--resume", metavar="CHECKPOINT", help="continue training from this checkpoint")
    parser.add_argument("--quiet", action="store_true", help="print only the final result")
    args = parser.parse_args(argv)

    try:
        args.device = str(pick_device(args.device))
    except (RuntimeError, ValueError) as e:
        parser.error(f"argument --device: {str(e).splitlines()[0]}")
    if os.path.exists(args.save_dir) and not os.path.isdir(args.save_dir):
        parser.error(f"argument --save-dir: {args.save_dir} is a file, not a folder")
    if args.resume is not None:
        if not os.path.isfile(args.resume):
            parser.error(f"argument --resume: no such file: {args.resume}")
        try:
            checkpoint = load_checkpoint(args.resume)
        except ValueError as e:
            parser.error(f"argument --resume: {args.resume} is not a checkpoint of this script: {e}")
        except Exception:
            parser.error(f"argument --resume: {args.resume} cannot be read by torch.load(weights_only=True)")
        epoch = checkpoint["epoch"]
        if epoch >= args.epochs:
            parser.error(f"argument --epochs: the --resume checkpoint already has {epoch} epochs; ask for more")
        # A resumed run must be the same run: other batches or steps would not continue it.
        for name in ("batch_size", "lr", "seed"):
            saved = checkpoint["args"].get(name)
            if saved is not None and saved != getattr(args, name):
                flag = "--" + name.replace("_", "-")
                parser.error(f"argument {flag}: the --resume checkpoint was trained with {flag} {saved}; "
                             f"give the same value to continue it")
    return args


def main(argv=None):
    # 1. Hyperparameters: all of them come from the command line.
    args = parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)

    # 2. Data.
    train_loader, test_loader, shuffle = load_data(args.batch_size, args.seed)

    # 3. Model.
    model = DigitsNet().to(device)

    # 4. Loss function and optimizer.
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    start, history = 0, {"train_loss": [], "test_loss": [], "test_acc": []}
    if args.resume:
        checkpoint = load_checkpoint(args.resume)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        start, history = checkpoint["epoch"], checkpoint["history"]

    # 5. Training, with a checkpoint after every epoch.
    os.makedirs(args.save_dir, exist_ok=True)
    checkpoint_path = os.path.join(args.save_dir, "checkpoint.pt")
    no_bar = args.quiet or not sys.stdout.isatty()
    for epoch in range(start + 1, args.epochs + 1):
        shuffle.manual_seed(args.seed + epoch)  # same batches whether or not the run was resumed
        with tqdm(total=len(train_loader), desc=f"epoch {epoch}", leave=False, disable=no_bar) as bar:
            train_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, device, bar)
        test_loss, test_acc = evaluate(model, test_loader, loss_fn, device)
        for key, value in zip(history, (train_loss, test_loss, test_acc)):
            history[key].append(value)
        if not args.quiet:
            print(f"epoch {epoch:3d}  train loss {train_loss:.4f}  test loss {test_loss:.4f}  test acc {test_acc:.4f}")
        save_checkpoint(checkpoint_path, model, optimizer, epoch, vars(args), history)

    # 6. Visualize and save the results.
    plot_path = os.path.join(args.save_dir, "curves.png")
    plot_history(plot_path, history)
    if not args.quiet:
        print(f"saved {checkpoint_path} and {plot_path}")
    print(f"test loss {test_loss:.6f}, test accuracy {test_acc:.4f}")


if __name__ == "__main__":
    main()
