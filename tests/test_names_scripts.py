"""The names scripts (snippets/names/) run the way a reader runs them: train.py writes a
checkpoint, predict.py reads it, both as scripts from another working directory. Bad input
must stop them before any work with one `error:` line that names the argument."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from tools.run import scripts
from tools.run import no_network

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "snippets" / "names"
ENV = no_network.guarded_env()  # one torch thread and the tests' network guard (tools/run/no_network.py)
NO_CUDA = "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"
NAMES = ["Bianchini", "Novotný", "van den Berg"]
SENTINEL = b"an older checkpoint that must survive\n"


def run(cwd: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT / script), *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=120)


def start_in_background(tmp: Path):
    """One epoch, the smallest run that shows the whole script working, and next to it
    (one per core) predict.py refusing a checkpoint that does not exist; then predict.py
    on the new checkpoint. tests/conftest.py starts this in the background when a test needs it."""
    cwd, empty = tmp / "names", tmp / "empty"
    cwd.mkdir()
    empty.mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        train = pool.submit(run, cwd, "train.py", "--epochs", "1", "--save-dir", "out", "--device", "cpu")
        refused = pool.submit(run, empty, "predict.py", "Rossi")
        train, refused = train.result(), refused.result()
    predict = run(cwd, "predict.py", "--checkpoint", "out/names.pt", *NAMES)
    return cwd, train, predict, refused


pytestmark = pytest.mark.background(start=start_in_background)  # tests/conftest.py runs it in the background
@pytest.fixture(scope="module")
def trained(started_here):
    return started_here


@pytest.fixture(scope="module")
def modules():
    """train.py and predict.py imported in-process (predict imports train through sys.path,
    as when it runs as a script); sys.path and sys.modules are put back afterwards."""
    return scripts.import_scripts(PROJECT, "train", "predict")


def test_train_learns_and_saves_one_checkpoint(trained):
    cwd, proc = trained[0], trained[1]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    m = re.search(r"^test accuracy (\d\.\d{4})$", proc.stdout, re.M)
    assert m, proc.stdout
    # 7 languages, the largest is a quarter of the test names: one epoch must beat that clearly.
    assert float(m.group(1)) > 0.5, proc.stdout
    assert re.search(r"^  Czech +\d+/39 ", proc.stdout, re.M), proc.stdout
    assert sorted(p.name for p in (cwd / "out").iterdir()) == ["names.pt"]  # no temporary file left
    checkpoint = torch.load(cwd / "out" / "names.pt", map_location="cpu", weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["args"]["device"] == "cpu"
    assert checkpoint["languages"] == ["English", "German", "French", "Italian", "Spanish", "Dutch", "Czech"]
    assert checkpoint["vocab"][:3] == ["<pad>", "<unk>", "<eos>"]
    assert round(checkpoint["test_accuracy"], 4) == float(m.group(1))


def test_predict_prints_the_top_three_languages(trained):
    proc = trained[2]
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(NAMES), proc.stdout
    for name, line in zip(NAMES, lines):
        assert line.startswith(name + " "), line
        found = re.findall(r"([A-Z][a-z]+) (\d\.\d{3})", line[len(name):])
        assert len(found) == 3, line
        probs = [float(p) for _, p in found]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.001, line
        assert len({language for language, _ in found}) == 3, line


def test_predict_refuses_a_missing_checkpoint_in_one_line(trained):
    proc = trained[3]
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("predict.py: error: argument --checkpoint: no such file: results/names.pt "
                           "(train.py writes one)\n")


@pytest.mark.parametrize("argv, argument", [
    (["--epochs", "0"], "--epochs"),
    (["--batch-size", "many"], "--batch-size"),
    (["--lr", "-0.1"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--hidden-size", "0"], "--hidden-size"),
    (["--device", NO_CUDA], "--device"),
    (["--device", "gpu"], "--device"),
    (["--save-dir", "a-file"], "--save-dir"),
])
def test_train_rejects_bad_arguments(modules, tmp_path, monkeypatch, capsys, argv, argument):
    monkeypatch.chdir(tmp_path)
    Path("a-file").write_text("not a folder\n")
    with pytest.raises(SystemExit) as e:
        modules["train"].parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and argument in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing created


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: NAME"),
    (["--checkpoint", "missing.pt", "Rossi"], "argument --checkpoint: no such file"),
    (["--checkpoint", "tensor.pt", "Rossi"], "argument --checkpoint: tensor.pt is not a checkpoint"),
    (["--checkpoint", "text.pt", "Rossi"], "argument --checkpoint: text.pt cannot be read"),
    (["Rossi", "--top", "8"], "argument --top: the checkpoint knows 7 languages"),
    (["Rossi", "--top", "0"], "argument --top: expected a positive integer"),
    ([""], "argument NAME: an empty name"),
    (["   "], "argument NAME: an empty name"),
    (["1984"], "argument NAME: '1984' has no letters"),
    (["Nguyễn"], "argument NAME: 'Nguyễn' has characters the model never saw in training: ễ"),
    (["Smith3"], "argument NAME: 'Smith3' has characters the model never saw in training: 3"),
])
def test_predict_rejects_bad_input(modules, trained, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "names.pt").write_bytes((trained[0] / "out" / "names.pt").read_bytes())
    torch.save(torch.zeros(3), "tensor.pt")  # loads with weights_only=True, but is no checkpoint
    Path("text.pt").write_text("not a torch file\n")
    with pytest.raises(SystemExit) as e:
        modules["predict"].parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: " + message in err, err


def test_predict_accepts_names_it_can_read(modules, trained, monkeypatch):
    monkeypatch.chdir(trained[0])
    args = modules["predict"].parse_args(["--checkpoint", "out/names.pt", " Rossi ", "O'Neil", "Müller-Lüdenscheidt"])
    assert args.names == [" Rossi ", "O'Neil", "Müller-Lüdenscheidt"] and args.top == 3


def test_a_failed_save_leaves_the_old_checkpoint_whole(modules, tmp_path):
    path = tmp_path / "names.pt"
    path.write_bytes(SENTINEL)
    with pytest.raises(Exception):  # a lambda cannot be pickled: torch.save fails midway
        modules["train"].save_checkpoint(str(path), {"model": {}, "bad": lambda: 0})
    assert path.read_bytes() == SENTINEL
    assert [p.name for p in tmp_path.iterdir()] == ["names.pt"]
