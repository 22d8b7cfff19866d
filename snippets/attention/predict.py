"""The most likely languages of surnames typed on the command line, from a checkpoint that
train.py (this folder) wrote.

    python snippets/attention/predict.py Rossi "van Dijk" Novák
    python snippets/attention/predict.py --checkpoint /tmp/attention/attention.pt --top 5 Schmidt
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from train import Parser, load_checkpoint, make_batch, model_from_checkpoint, pick_device, positive_int


def problem_with(name: str, stoi: dict[str, int]) -> str | None:
    """Why the model cannot classify `name`, or None if it can."""
    if not name.strip():
        return "an empty name"
    if not any(c.isalpha() for c in name):
        return f"{name!r} has no letters"
    unseen = sorted({c for c in name.strip() if c not in stoi})
    if unseen:
        return f"{name!r} has characters the model never saw in training: {' '.join(unseen)}"
    return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Checks everything before any work: the checkpoint is loaded here (args.loaded) and every
    name is checked against its vocabulary."""
    p = Parser(description="Top languages of surnames, from a checkpoint of snippets/attention/train.py.")
    p.add_argument("names", nargs="+", metavar="NAME", help="surnames to classify")
    p.add_argument("--checkpoint", default=os.path.join("results", "attention.pt"),
                   help="a checkpoint of train.py (default: results/attention.pt)")
    p.add_argument("--top", type=positive_int, default=3, help="how many languages to show (default: 3)")
    p.add_argument("--device", type=pick_device, default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    args = p.parse_args(argv)

    if not os.path.isfile(args.checkpoint):
        p.error(f"argument --checkpoint: no such file: {args.checkpoint} (train.py writes one)")
    try:
        args.loaded = load_checkpoint(args.checkpoint)
    except ValueError as e:
        p.error(f"argument --checkpoint: {args.checkpoint} is not a checkpoint of train.py: {e}")
    except Exception:
        p.error(f"argument --checkpoint: {args.checkpoint} cannot be read by torch.load(weights_only=True)")
    n_languages = len(args.loaded["languages"])
    if args.top > n_languages:
        p.error(f"argument --top: the checkpoint knows {n_languages} languages, got {args.top}")
    stoi = {symbol: i for i, symbol in enumerate(args.loaded["vocab"])}
    for name in args.names:
        problem = problem_with(name, stoi)
        if problem:
            p.error(f"argument NAME: {problem}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    checkpoint = args.loaded
    languages = checkpoint["languages"]
    stoi = {symbol: i for i, symbol in enumerate(checkpoint["vocab"])}
    model = model_from_checkpoint(checkpoint, args.device)
    names = [name.strip() for name in args.names]
    x, lengths, _ = make_batch([(name, 0) for name in names], stoi, args.device)
    with torch.no_grad():
        probs = model(x, lengths).softmax(dim=1).cpu()
    top = probs.topk(args.top, dim=1)
    width = max(len(name) for name in names)
    for name, values, indices in zip(names, top.values.tolist(), top.indices.tolist()):
        print(f"{name:<{width}}  " + "  ".join(f"{languages[i]} {p:.3f}" for p, i in zip(values, indices)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
