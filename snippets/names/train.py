"""Classify surnames by language with a character-level GRU.

The names are the per-locale last-name lists that ship inside the Faker package (MIT
license), so nothing is downloaded. Writes a checkpoint that predict.py reads.

    python snippets/names/train.py                           # 10 epochs -> results/names.pt
    python snippets/names/train.py --epochs 3 --save-dir /tmp/names
    python snippets/names/predict.py --checkpoint /tmp/names/names.pt Rossi "van Dijk"
"""

from __future__ import annotations

import argparse
import collections
import importlib
import math
import os
import sys
import unicodedata

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence
from tqdm import tqdm

LOCALES = {"en_US": "English", "de_DE": "German", "fr_FR": "French", "it_IT": "Italian",
           "es_ES": "Spanish", "nl_NL": "Dutch", "cs_CZ": "Czech"}
PAD, UNK, EOS = 0, 1, 2  # special symbols: padding, unknown character, end of a name
SPECIALS = ["<pad>", "<unk>", "<eos>"]
CHECKPOINT_KEYS = {"model", "vocab", "languages", "args", "epoch", "test_accuracy"}


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
    """"auto": the accelerator if there is one, else the CPU; otherwise a device that must
    exist on this machine."""
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
    notebook or a test check arguments without running anything."""
    p = Parser(description="Train a character-level GRU that tells the language of a surname.")
    p.add_argument("--epochs", type=positive_int, default=10, help="passes over the training names (default: 10)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="mini-batch size (default: 64)")
    p.add_argument("--lr", type=positive_float, default=5e-3, help="Adam learning rate (default: 0.005)")
    p.add_argument("--embedding-dim", type=positive_int, default=32, help="size of a character vector (default: 32)")
    p.add_argument("--hidden-size", type=positive_int, default=128, help="GRU hidden state size (default: 128)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, the weights and the batches (default: 0)")
    p.add_argument("--device", type=pick_device, default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--threads", type=positive_int, default=1, help="CPU threads for torch (default: 1)")
    p.add_argument("--save-dir", default="results", help="folder for names.pt (default: results)")
    p.add_argument("--quiet", action="store_true", help="print only the final accuracy")
    args = p.parse_args(argv)
    if os.path.exists(args.save_dir) and not os.path.isdir(args.save_dir):
        p.error(f"argument --save-dir: {args.save_dir} is a file, not a folder")
    return args


def fold(name: str) -> str:
    """"García" -> "garcia": the letters without accents, in lower case."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


def load_names() -> dict[str, list[str]]:
    """{language: sorted surnames} from Faker's lists, each name once; a name found (up to
    accents and case) in more than one list is dropped from all of them."""
    unique = {}
    for locale, language in LOCALES.items():
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        unique[language] = sorted(set(provider.last_names))
    n_lists = collections.Counter(f for names in unique.values() for f in {fold(n) for n in names})
    return {language: [n for n in names if n_lists[fold(n)] == 1] for language, names in unique.items()}


def split(data: dict[str, list[str]], seed: int, test_fraction: float = 0.2):
    """Stratified split: test_fraction of every language. Returns two lists of (name, label)."""
    generator = torch.Generator().manual_seed(seed)
    train_pairs, test_pairs = [], []
    for label, names in enumerate(data.values()):
        order = torch.randperm(len(names), generator=generator).tolist()
        n_test = round(test_fraction * len(order))
        test_pairs += [(names[i], label) for i in order[:n_test]]
        train_pairs += [(names[i], label) for i in order[n_test:]]
    return train_pairs, test_pairs


def build_vocab(pairs) -> list[str]:
    """The special symbols, then every character of the training names."""
    return [*SPECIALS, *sorted({c for name, _ in pairs for c in name})]


def encode(name: str, stoi: dict[str, int]) -> list[int]:
    return [stoi.get(c, UNK) for c in name]


def make_batch(pairs, stoi: dict[str, int], device: torch.device):
    """(padded ids (N, L) on device, lengths on the CPU, labels on device)."""
    seqs = [torch.tensor(encode(name, stoi)) for name, _ in pairs]
    lengths = torch.tensor([len(s) for s in seqs])
    x = pad_sequence(seqs, batch_first=True, padding_value=PAD)
    y = torch.tensor([label for _, label in pairs])
    return x.to(device), lengths, y.to(device)


class NameClassifier(nn.Module):
    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int = 32, hidden_size: int = 128):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.rnn = nn.GRU(embedding_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward(self, x, lengths):  # x: (N, L) character ids, lengths: (N,) on the CPU
        packed = pack_padded_sequence(self.embedding(x), lengths, batch_first=True, enforce_sorted=False)
        _, h_n = self.rnn(packed)  # the state after each name's last real character
        return self.head(h_n[-1])  # (N, num_classes) scores


def replace_atomically(path: str, write) -> None:
    """write(tmp) to a temporary file in the same folder, then rename it over path: a
    reader never sees half a file, and a failed write leaves the old file as it was."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(path: str, checkpoint: dict) -> None:
    replace_atomically(path, lambda tmp: torch.save(checkpoint, tmp))


def load_checkpoint(path: str) -> dict:
    """Loads a checkpoint of this script onto the CPU; weights_only=True lets only tensors
    and plain containers in. Raises ValueError for any other file that torch can load."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or not CHECKPOINT_KEYS <= checkpoint.keys():
        raise ValueError(f"expected a dict with keys {sorted(CHECKPOINT_KEYS)}")
    return checkpoint


def model_from_checkpoint(checkpoint: dict, device: torch.device) -> NameClassifier:
    args = checkpoint["args"]
    model = NameClassifier(len(checkpoint["vocab"]), len(checkpoint["languages"]),
                           args["embedding_dim"], args["hidden_size"])
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
    data = load_names()
    languages = list(data)
    train_pairs, test_pairs = split(data, args.seed)
    vocab = build_vocab(train_pairs)
    stoi = {symbol: i for i, symbol in enumerate(vocab)}
    x_test, lengths_test, y_test = make_batch(test_pairs, stoi, device)

    torch.manual_seed(args.seed)
    model = NameClassifier(len(vocab), len(languages), args.embedding_dim, args.hidden_size).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(args.seed)
    if not args.quiet:
        n_params = sum(p.numel() for p in model.parameters())
        print(f"device {device}, {torch.get_num_threads()} CPU thread(s), {len(languages)} languages, "
              f"{len(train_pairs)} training and {len(test_pairs)} test names, {len(vocab)} symbols, "
              f"{n_params:,} parameters")

    os.makedirs(args.save_dir, exist_ok=True)
    path = os.path.join(args.save_dir, "names.pt")
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
