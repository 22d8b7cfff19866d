"""Classify surnames by language with a small Transformer encoder.

The data, vocabulary and split are the names chapter's: this script imports them from
snippets/names/train.py (Faker's surname lists, shipped in the package, so nothing is
downloaded). Writes a checkpoint that predict.py reads.

    python snippets/attention/train.py                        # 8 epochs -> results/attention.pt
    python snippets/attention/train.py --epochs 3 --layers 1 --save-dir /tmp/attention
    python snippets/attention/predict.py --checkpoint /tmp/attention/attention.pt Rossi "van Dijk"
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from tqdm import tqdm


def _names_module():
    """snippets/names/train.py under another name: this folder has its own train.py."""
    spec = importlib.util.spec_from_file_location("names_train", Path(__file__).resolve().parent.parent / "names" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


names = _names_module()
Parser, positive_int, positive_float, pick_device = names.Parser, names.positive_int, names.positive_float, names.pick_device
replace_atomically = names.replace_atomically
PAD, UNK = names.PAD, names.UNK
MAX_LEN = 48  # positions the model knows; the longest surname in the lists has 40 characters
CHECKPOINT_KEYS = {"model", "vocab", "languages", "args", "epoch", "test_accuracy"}


def dropout_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """argv=None reads the command line; a list lets a test check arguments without running anything."""
    p = Parser(description="Train a small Transformer encoder that tells the language of a surname.")
    p.add_argument("--epochs", type=positive_int, default=8, help="passes over the training names (default: 8)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="mini-batch size (default: 64)")
    p.add_argument("--lr", type=positive_float, default=3e-3, help="Adam learning rate (default: 0.003)")
    p.add_argument("--d-model", type=positive_int, default=32, help="width of a character vector (default: 32)")
    p.add_argument("--heads", type=positive_int, default=4, help="attention heads; must divide --d-model (default: 4)")
    p.add_argument("--layers", type=positive_int, default=2, help="encoder layers (default: 2)")
    p.add_argument("--dropout", type=dropout_rate, default=0.1, help="dropout rate in [0, 1) (default: 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, the weights and the batches (default: 0)")
    p.add_argument("--device", type=pick_device, default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--threads", type=positive_int, default=1, help="CPU threads for torch (default: 1)")
    p.add_argument("--save-dir", default="results", help="folder for attention.pt (default: results)")
    p.add_argument("--quiet", action="store_true", help="print only the final accuracy")
    args = p.parse_args(argv)
    if args.d_model % args.heads:
        p.error(f"argument --heads: {args.heads} does not divide --d-model {args.d_model}")
    if os.path.exists(args.save_dir) and not os.path.isdir(args.save_dir):
        p.error(f"argument --save-dir: {args.save_dir} is a file, not a folder")
    return args


def make_batch(pairs, stoi: dict[str, int], device: torch.device):
    """(padded ids (N, L) on device, lengths (N,) on device, labels on device); names are cut at MAX_LEN."""
    seqs = [torch.tensor(names.encode(name, stoi)[:MAX_LEN]) for name, _ in pairs]
    lengths = torch.tensor([len(s) for s in seqs])
    x = pad_sequence(seqs, batch_first=True, padding_value=PAD)
    y = torch.tensor([label for _, label in pairs])
    return x.to(device), lengths.to(device), y.to(device)


class TransformerClassifier(nn.Module):
    """Character and learned position embeddings, a pre-norm encoder, the mean over the real characters."""

    def __init__(self, vocab_size: int, num_classes: int, d_model: int = 32, nhead: int = 4,
                 num_layers: int = 2, dropout: float = 0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.position = nn.Embedding(MAX_LEN, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=2 * d_model, dropout=dropout,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x, lengths):  # x: (N, L) ids, lengths: (N,)
        pad = x == PAD  # True = ignore (the nn.Transformer* convention)
        h = self.embedding(x) + self.position(torch.arange(x.size(1), device=x.device))
        h = self.norm(self.encoder(h, src_key_padding_mask=pad))
        h = h.masked_fill(pad[..., None], 0.0).sum(dim=1)
        return self.head(h / lengths[:, None])


def save_checkpoint(path: str, checkpoint: dict) -> None:
    replace_atomically(path, lambda tmp: torch.save(checkpoint, tmp))


def load_checkpoint(path: str) -> dict:
    """A checkpoint of this script, on the CPU; weights_only=True lets only tensors and plain
    containers in. Raises ValueError for any other file that torch can load."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or not CHECKPOINT_KEYS <= checkpoint.keys():
        raise ValueError(f"expected a dict with keys {sorted(CHECKPOINT_KEYS)}")
    return checkpoint


def model_from_checkpoint(checkpoint: dict, device: torch.device) -> TransformerClassifier:
    a = checkpoint["args"]
    model = TransformerClassifier(len(checkpoint["vocab"]), len(checkpoint["languages"]),
                                  a["d_model"], a["heads"], a["layers"], a["dropout"])
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval()


@torch.no_grad()
def predict_labels(model, x, lengths, batch_size: int = 512):
    model.eval()
    return torch.cat([model(x[i:i + batch_size], lengths[i:i + batch_size]).argmax(dim=1)
                      for i in range(0, len(x), batch_size)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = args.device
    data = names.load_names()
    languages = list(data)
    train_pairs, test_pairs = names.split(data, args.seed)
    vocab = names.build_vocab(train_pairs)
    stoi = {symbol: i for i, symbol in enumerate(vocab)}
    x_test, lengths_test, y_test = make_batch(test_pairs, stoi, device)

    torch.manual_seed(args.seed)
    model = TransformerClassifier(len(vocab), len(languages), args.d_model, args.heads, args.layers,
                                  args.dropout).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(args.seed)
    if not args.quiet:
        n_params = sum(p.numel() for p in model.parameters())
        print(f"device {device}, {torch.get_num_threads()} CPU thread(s), {len(languages)} languages, "
              f"{len(train_pairs)} training and {len(test_pairs)} test names, {len(vocab)} symbols, "
              f"{n_params:,} parameters")

    os.makedirs(args.save_dir, exist_ok=True)
    path = os.path.join(args.save_dir, "attention.pt")
    saved_args = {**vars(args), "device": str(device)}
    n_batches = math.ceil(len(train_pairs) / args.batch_size)
    no_bar = args.quiet or not sys.stdout.isatty()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(train_pairs), generator=shuffle).tolist()
        total = 0.0
        with tqdm(total=n_batches, desc=f"epoch {epoch}", leave=False, disable=no_bar) as bar:
            for start in range(0, len(order), args.batch_size):
                x, lengths, y = make_batch([train_pairs[i] for i in order[start:start + args.batch_size]], stoi, device)
                loss = loss_fn(model(x, lengths), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(y)
                bar.update(1)
        pred = predict_labels(model, x_test, lengths_test)
        accuracy = (pred == y_test).float().mean().item()
        if not args.quiet:
            print(f"epoch {epoch:2d}  train loss {total / len(train_pairs):.4f}  test accuracy {accuracy:.4f}")
        save_checkpoint(path, {"model": model.state_dict(), "vocab": vocab, "languages": languages,
                               "args": saved_args, "epoch": epoch, "test_accuracy": accuracy})

    if not args.quiet:
        for label, language in enumerate(languages):
            mask = y_test == label
            correct = (pred[mask] == label).sum().item()
            print(f"  {language:<8} {correct:4d}/{mask.sum().item():<4d} {correct / mask.sum().item():.3f}")
        print(f"saved {path}")
    print(f"test accuracy {accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
