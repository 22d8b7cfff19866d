"""Surnames sampled from a checkpoint that train_generator.py (this folder) wrote.

    python snippets/attention/sample.py --language Italian
    python snippets/attention/sample.py --checkpoint /tmp/generator/generator.pt --language Czech \
        --temperature 0.5 --count 10 --seed 1
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import torch

from train import Parser, pick_device, positive_int
from train_generator import generate, load_checkpoint, model_from_checkpoint


def temperature(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r} (0 would divide by zero)")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Checks everything before any work: the checkpoint is loaded here (args.loaded)."""
    p = Parser(description="Sample surnames of one language from a checkpoint of train_generator.py.")
    p.add_argument("--language", required=True, help="one of the checkpoint's languages, e.g. Italian")
    p.add_argument("--temperature", type=temperature, default=0.8,
                   help="below 1: safer, more common names; above 1: more varied (default: 0.8)")
    p.add_argument("--count", type=positive_int, default=8, help="how many names (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampling (default: 0)")
    p.add_argument("--checkpoint", default=os.path.join("results", "generator.pt"),
                   help="a checkpoint of train_generator.py (default: results/generator.pt)")
    p.add_argument("--device", type=pick_device, default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    args = p.parse_args(argv)
    if not os.path.isfile(args.checkpoint):
        p.error(f"argument --checkpoint: no such file: {args.checkpoint} (train_generator.py writes one)")
    try:
        args.loaded = load_checkpoint(args.checkpoint)
    except ValueError as e:
        p.error(f"argument --checkpoint: {args.checkpoint} is not a checkpoint of train_generator.py: {e}")
    except Exception:
        p.error(f"argument --checkpoint: {args.checkpoint} cannot be read by torch.load(weights_only=True)")
    known = args.loaded["languages"]
    if args.language not in known:
        p.error(f"argument --language: unknown language {args.language!r} (known: {', '.join(known)})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    checkpoint = args.loaded
    vocab = checkpoint["vocab"]
    model = model_from_checkpoint(checkpoint, args.device)
    rng = torch.Generator().manual_seed(args.seed)
    language = checkpoint["languages"].index(args.language)
    for _ in range(args.count):
        ids, _ = generate(model, language, args.temperature, rng)
        print("".join(vocab[i] for i in ids))
    return 0


if __name__ == "__main__":
    sys.exit(main())
