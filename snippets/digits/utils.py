"""Everything main.py needs besides the model: data, one epoch of training, evaluation,
checkpoints and the plot."""

import os

import torch
from torch.utils.data import DataLoader, TensorDataset


def load_data(batch_size: int, seed: int, test_fraction: float = 0.2):
    """Digits (ships with scikit-learn, no download), split into train and test loaders.
    Returns the loaders and the generator that shuffles the training set."""
    from sklearn.datasets import load_digits  # slow to import: only once the arguments are checked

    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0  # pixels are 0..16
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    shuffle = torch.Generator()
    train_loader = DataLoader(TensorDataset(x[train], y[train]), batch_size=batch_size,
                              shuffle=True, generator=shuffle)
    test_loader = DataLoader(TensorDataset(x[test], y[test]), batch_size=256)
    return train_loader, test_loader, shuffle


def train_one_epoch(model, loader, loss_fn, optimizer, device, progress=None):
    """One pass over the training set; returns the mean training loss."""
    model.train()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    return total / count


@torch.no_grad()
def evaluate(model, loader, loss_fn, device):
    """Returns (mean loss, accuracy) on a loader."""
    model.eval()
    total, correct, count = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        total += loss_fn(logits, y).item() * len(y)
        correct += (logits.argmax(dim=1) == y).sum().item()
        count += len(y)
    return total / count, correct / count


def replace_atomically(path, write):
    """Call write(tmp_path) on a temporary file next to `path`, then move it over `path`.
    If write fails, `path` keeps its old content and the temporary file is removed."""
    tmp = f"{path}.{os.getpid()}.tmp"  # same folder, so os.replace is a rename
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_checkpoint(path, model, optimizer, epoch, args, history):
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "args": args,
        "history": history,
    }
    replace_atomically(path, lambda tmp: torch.save(checkpoint, tmp))


def load_checkpoint(path):
    """Loads a checkpoint written by save_checkpoint onto the CPU. weights_only=True
    refuses anything but tensors and plain Python containers, so a file from elsewhere
    cannot run code while it loads. Raises ValueError if it is not such a checkpoint."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    keys = {"model", "optimizer", "epoch", "args", "history"}
    if not isinstance(checkpoint, dict) or not keys <= checkpoint.keys():
        raise ValueError(f"expected a dict with keys {sorted(keys)}")
    return checkpoint


def plot_history(path, history):
    """Saves loss and accuracy per epoch as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # draw into a file, never open a window
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["train_loss"]) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax_loss.plot(epochs, history["train_loss"], label="train")
    ax_loss.plot(epochs, history["test_loss"], label="test")
    ax_loss.set(xlabel="epoch", ylabel="loss")
    ax_loss.legend()
    ax_acc.plot(epochs, history["test_acc"], color="tab:green")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy")
    fig.tight_layout()
    replace_atomically(path, lambda tmp: fig.savefig(tmp, format="png", dpi=80))
    plt.close(fig)
