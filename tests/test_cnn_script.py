"""The CNN script (snippets/cnn/train.py) run the way a reader runs it: as a script, from
another working directory, with its default settings. Bad arguments must stop it before
any work, with one `error:` line that names the argument and exit status 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from tools.run import scripts

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "snippets" / "cnn" / "train.py"
NO_CUDA = "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"
SENTINEL = b"an older file that must survive\n"
FINAL = re.compile(r"^test accuracy (\d\.\d{4}) \((\d+)/359\) after 10 epochs, [\d.]+ s$", re.M)


def start_in_background(tmp: Path) -> dict:
    """The file's real training runs, each in a folder of its own: the default settings plus
    --save, and one epoch with --augment (tests/conftest.py runs them in the background)."""
    for name in ("default", "augmented"):
        (tmp / name).mkdir()
    return {"folder": tmp / "default", "default": scripts.run_script(SCRIPT, "--save", "cnn.pt", cwd=tmp / "default"),
            "augmented": scripts.run_script(SCRIPT, "--augment", "--epochs", "1", "--device", "cpu",
                                            cwd=tmp / "augmented")}


pytestmark = pytest.mark.background(start=start_in_background, cache=True)


@pytest.fixture(scope="module")
def script():
    """train.py imported in-process, as a notebook or a test uses parse_args([...])."""
    return scripts.import_script(SCRIPT)


def test_default_run_learns_and_saves_the_weights(started_here, script):
    cwd, proc = started_here["folder"], started_here["default"]
    assert proc.returncode == 0, proc.stderr
    assert len(re.findall(r"^epoch +\d+/10 ", proc.stdout, re.M)) == 10, proc.stdout
    m = FINAL.search(proc.stdout)
    assert m, proc.stdout
    accuracy, correct = float(m.group(1)), int(m.group(2))
    assert accuracy >= 0.97, proc.stdout
    assert sorted(p.name for p in cwd.iterdir()) == ["cnn.pt"]  # no temporary file left

    # The saved file is the trained model: a new model with its weights scores the same.
    model = script.make_cnn()
    model.load_state_dict(torch.load(cwd / "cnn.pt", map_location="cpu", weights_only=True))
    _, x_test, y_test = script.load_data(augment=False)
    assert script.count_correct(model, x_test, y_test) == correct


def test_bad_input_stops_before_any_work(script, tmp_path, monkeypatch, capsys):
    # main() itself, as the command line runs it: nothing printed, nothing written
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cnn.pt").write_bytes(SENTINEL)
    with pytest.raises(SystemExit) as e:
        script.main(["--save", "cnn.pt", "--lr", "-1"])
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "error: argument --lr" in err, err
    assert (tmp_path / "cnn.pt").read_bytes() == SENTINEL
    assert [p.name for p in tmp_path.iterdir()] == ["cnn.pt"]


def test_parse_args_reads_a_list(script):
    args = script.parse_args([])
    assert (args.epochs, args.batch_size, args.lr, args.seed, args.threads) == (10, 64, 0.01, 0, 1)
    assert (args.augment, args.save) == (False, None)
    args = script.parse_args(["--epochs", "3", "--augment", "--device", "cpu", "--seed", "7"])
    assert (args.epochs, args.augment, args.device, args.seed) == (3, True, torch.device("cpu"), 7)


@pytest.mark.parametrize("argv, argument", [
    (["--epochs", "0"], "--epochs"),
    (["--epochs", "two"], "--epochs"),
    (["--batch-size", "-1"], "--batch-size"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--seed", "1.5"], "--seed"),
    (["--threads", "0"], "--threads"),
    (["--device", "gpu"], "--device"),
    (["--device", NO_CUDA], "--device"),
    (["--save", "."], "--save"),
    (["--save", "missing/cnn.pt"], "--save"),
    (["--augmentation"], "--augmentation"),
])
def test_more_bad_arguments(script, tmp_path, monkeypatch, capsys, argv, argument):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        script.parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line, no usage block
    assert "error:" in err and argument in err, err
    assert list(tmp_path.iterdir()) == []


def test_augmented_training_runs(started_here):
    proc = started_here["augmented"]
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "augmentation on" in out and re.search(r"^test accuracy 0\.\d{4} \(\d+/359\) after 1 epoch,", out, re.M)


def test_a_failed_save_leaves_the_old_file_whole(script, tmp_path):
    path = tmp_path / "cnn.pt"
    path.write_bytes(SENTINEL)
    with pytest.raises(Exception):  # a lambda cannot be pickled: torch.save fails midway
        script.save_atomically({"bad": lambda: 0}, str(path))
    assert path.read_bytes() == SENTINEL
    assert [p.name for p in tmp_path.iterdir()] == ["cnn.pt"]
