"""Train a small causal Transformer (GPT-style) that generates surnames per language, next to
the names chapter's GRU generator with the same data, split, seed, batches and epochs, and
compare them by cross-entropy per character on the held-out names. Writes generator.pt (the
Transformer), which sample.py reads.

    python snippets/attention/train_generator.py                 # 3 epochs -> results/generator.pt
    python snippets/attention/train_generator.py --epochs 1 --quiet --save-dir /tmp/generator
    python snippets/attention/sample.py --checkpoint /tmp/generator/generator.pt --language Italian
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from train import MAX_LEN, PAD, UNK, Parser, names, pick_device, positive_float, positive_int, replace_atomically

EOS = names.EOS
CHECKPOINT_KEYS = {"model", "vocab", "languages", "args", "epoch", "test_cross_entropy"}


class Block(nn.Module):
    """A pre-norm decoder block: causal self-attention, then a feed-forward part. With a cache
    (the keys and values of the earlier positions) it computes only the new positions."""

    def __init__(self, d_model: int, nhead: int):
        super().__init__()
        self.nhead = nhead
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))

    def forward(self, x, cache=None):  # x: (N, T, E); cache: (k, v), each (N, H, earlier T, E/H)
        N, T, E = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(N, T, 3, self.nhead, E // self.nhead).permute(2, 0, 3, 1, 4)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        # a cached step has one query, the last position: it may see every key, so no mask
        a = F.scaled_dot_product_attention(q, k, v, is_causal=cache is None)
        x = x + self.proj(a.transpose(1, 2).reshape(N, T, E))
        return x + self.mlp(self.norm2(x)), (k, v)


class CausalTransformer(nn.Module):
    """Character, position and language embeddings summed, decoder blocks, next-character logits."""

    def __init__(self, vocab_size: int, num_languages: int, d_model: int = 32, nhead: int = 4, num_layers: int = 2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.language = nn.Embedding(num_languages, d_model)
        self.position = nn.Embedding(MAX_LEN, d_model)
        self.blocks = nn.ModuleList(Block(d_model, nhead) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, x, language, caches=None):  # x: (N, T) ids; caches: one (k, v) per block or None
        start = 0 if caches is None else caches[0][0].size(2)
        h = self.embedding(x) + self.position(torch.arange(start, start + x.size(1), device=x.device))
        h = h + self.language(language)[:, None]
        new = []
        for i, block in enumerate(self.blocks):
            h, kv = block(h, None if caches is None else caches[i])
            new.append(kv)
        return self.head(self.norm(h)), new


class GRUGenerator(nn.Module):
    """The names chapter's generator: the language's vector joined to every character's."""

    def __init__(self, vocab_size: int, num_languages: int, embedding_dim: int = 16, hidden_size: int = 64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.language = nn.Embedding(num_languages, embedding_dim)
        self.rnn = nn.GRU(2 * embedding_dim, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, language, h=None):
        lang = self.language(language)[:, None].expand(-1, x.size(1), -1)
        output, h = self.rnn(torch.cat([self.embedding(x), lang], dim=2), h)
        return self.head(output), h


def lm_batch(pairs, stoi: dict[str, int], device: torch.device):
    """Inputs `<eos> R o s s i`, targets `R o s s i <eos>` (both cut to MAX_LEN), languages."""
    ids = [names.encode(name, stoi)[:MAX_LEN - 1] for name, _ in pairs]
    x = pad_sequence([torch.tensor([EOS, *i]) for i in ids], batch_first=True, padding_value=PAD)
    y = pad_sequence([torch.tensor([*i, EOS]) for i in ids], batch_first=True, padding_value=PAD)
    return x.to(device), torch.tensor([label for _, label in pairs], device=device), y.to(device)


@torch.no_grad()
def cross_entropy(model, pairs, stoi, device, batch_size: int = 512) -> float:
    """Mean cross-entropy (nats) per predicted character, <eos> included, padding left out."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(pairs), batch_size):
        x, lang, y = lm_batch(pairs[i:i + batch_size], stoi, device)
        logits = model(x, lang)[0]
        total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=PAD, reduction="sum").item()
        count += (y != PAD).sum().item()
    return total / count


def bigram_cross_entropy(train_pairs, test_pairs, stoi) -> tuple[float, int]:
    """A per-language character bigram model with add-one counts: (cross-entropy, table cells)."""
    n_lang, V = 1 + max(label for _, label in train_pairs), len(stoi)
    counts = torch.ones(n_lang, V, V)
    for name, label in train_pairs:
        ids = torch.tensor([EOS, *names.encode(name, stoi)[:MAX_LEN - 1], EOS])
        # accumulate=True: a pair that occurs twice in a name counts twice
        counts.index_put_((torch.tensor(label), ids[:-1], ids[1:]), torch.tensor(1.0), accumulate=True)
    log_p = (counts / counts.sum(dim=2, keepdim=True)).log()
    total, count = 0.0, 0
    for name, label in test_pairs:
        ids = torch.tensor([EOS, *names.encode(name, stoi)[:MAX_LEN - 1], EOS])
        total -= log_p[label, ids[:-1], ids[1:]].sum().item()
        count += len(ids) - 1
    return total / count, counts.numel()


def train(model, train_pairs, stoi, device, epochs: int, batch_size: int, lr: float, seed: int, report=None):
    torch.manual_seed(seed)
    shuffle = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(train_pairs), generator=shuffle).tolist()
        total, count = 0.0, 0
        for start in range(0, len(order), batch_size):
            x, lang, y = lm_batch([train_pairs[i] for i in order[start:start + batch_size]], stoi, device)
            loss = F.cross_entropy(model(x, lang)[0].flatten(0, 1), y.flatten(), ignore_index=PAD)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            n = (y != PAD).sum().item()
            total, count = total + loss.item() * n, count + n
        if report:
            report(epoch, total / count)


@torch.no_grad()
def generate(model, language: int, temperature: float, rng: torch.Generator, max_len: int = MAX_LEN,
             use_cache: bool = True, stop_at_eos: bool = True) -> tuple[list[int], int]:
    """Sampled ids of one name (without <eos>) and the number of positions the model computed."""
    model.eval()
    device = next(model.parameters()).device
    lang = torch.tensor([language], device=device)
    seq = torch.tensor([[EOS]], device=device)
    caches, ids, computed = None, [], 0
    for _ in range(max_len):
        x = seq[:, -1:] if use_cache and caches is not None else seq
        logits, new = model(x, lang, caches)
        computed += x.size(1)
        if use_cache:
            caches = new
        logits = logits[0, -1].float().cpu() / temperature
        logits[[PAD, UNK]] = float("-inf")  # never sample these two
        i = torch.multinomial(logits.softmax(dim=0), 1, generator=rng).item()
        if i == EOS and stop_at_eos:
            break
        ids.append(i)
        seq = torch.cat([seq, torch.tensor([[i]], device=device)], dim=1)
    return ids, computed


def save_checkpoint(path: str, checkpoint: dict) -> None:
    replace_atomically(path, lambda tmp: torch.save(checkpoint, tmp))


def load_checkpoint(path: str) -> dict:
    """A checkpoint of this script on the CPU (weights_only=True); ValueError for another file torch can load."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or not CHECKPOINT_KEYS <= checkpoint.keys():
        raise ValueError(f"expected a dict with keys {sorted(CHECKPOINT_KEYS)}")
    return checkpoint


def model_from_checkpoint(checkpoint: dict, device: torch.device) -> CausalTransformer:
    a = checkpoint["args"]
    model = CausalTransformer(len(checkpoint["vocab"]), len(checkpoint["languages"]), a["d_model"], a["heads"], a["layers"])
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(description="Train a causal Transformer that generates surnames, compared with a GRU.")
    p.add_argument("--epochs", type=positive_int, default=3, help="passes over the training names, both models (default: 3)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="mini-batch size, both models (default: 64)")
    p.add_argument("--lr", type=positive_float, default=1e-2, help="Adam learning rate, both models (default: 0.01)")
    p.add_argument("--d-model", type=positive_int, default=32, help="Transformer width (default: 32)")
    p.add_argument("--heads", type=positive_int, default=4, help="attention heads; must divide --d-model (default: 4)")
    p.add_argument("--layers", type=positive_int, default=2, help="decoder blocks (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split, the weights and the batches (default: 0)")
    p.add_argument("--device", type=pick_device, default="auto", help="auto, cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--threads", type=positive_int, default=1, help="CPU threads for torch (default: 1)")
    p.add_argument("--save-dir", default="results", help="folder for generator.pt (default: results)")
    p.add_argument("--quiet", action="store_true", help="print only the comparison table")
    args = p.parse_args(argv)
    if args.d_model % args.heads:
        p.error(f"argument --heads: {args.heads} does not divide --d-model {args.d_model}")
    if os.path.exists(args.save_dir) and not os.path.isdir(args.save_dir):
        p.error(f"argument --save-dir: {args.save_dir} is a file, not a folder")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = args.device
    data = names.load_names()
    languages = list(data)
    train_pairs, test_pairs = names.split(data, args.seed)
    vocab = names.build_vocab(train_pairs)
    stoi = {symbol: i for i, symbol in enumerate(vocab)}
    if not args.quiet:
        print(f"device {device}, {torch.get_num_threads()} CPU thread(s), {len(train_pairs)} training and "
              f"{len(test_pairs)} held-out names, {len(vocab)} symbols")

    results = {"character bigram": bigram_cross_entropy(train_pairs, test_pairs, stoi)}
    torch.manual_seed(args.seed)
    gru = GRUGenerator(len(vocab), len(languages)).to(device)
    torch.manual_seed(args.seed)
    transformer = CausalTransformer(len(vocab), len(languages), args.d_model, args.heads, args.layers).to(device)
    for label, model in (("GRU", gru), ("Transformer", transformer)):
        def report(epoch, loss, label=label):
            if not args.quiet:
                print(f"{label:<11} epoch {epoch:2d}  train loss per character {loss:.4f}")
        train(model, train_pairs, stoi, device, args.epochs, args.batch_size, args.lr, args.seed, report)
        results[label] = (cross_entropy(model, test_pairs, stoi, device), sum(p.numel() for p in model.parameters()))

    os.makedirs(args.save_dir, exist_ok=True)
    path = os.path.join(args.save_dir, "generator.pt")
    save_checkpoint(path, {"model": transformer.state_dict(), "vocab": vocab, "languages": languages,
                           "args": {**vars(args), "device": str(device)}, "epoch": args.epochs,
                           "test_cross_entropy": results["Transformer"][0]})
    print(f"held-out names, {args.epochs} epoch(s): cross-entropy per character (nats) and perplexity")
    print(f"{'model':<17} {'parameters':>10} {'cross-entropy':>13} {'perplexity':>10}")
    for label, (ce, n_params) in results.items():
        print(f"{label:<17} {n_params:>10} {ce:>13.3f} {math.exp(ce):>10.2f}")
    if not args.quiet:
        print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
