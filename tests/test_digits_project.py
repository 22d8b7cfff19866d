"""The digits mini-project (snippets/digits/) run the way a reader runs it: as a script,
from another working directory. Bad arguments must stop it before any work, with a
one-line message that names the argument, and never touch an existing checkpoint."""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from tools.run import scripts

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "snippets" / "digits"
MAIN = PROJECT / "main.py"
SENTINEL = b"an older checkpoint that must survive\n"
NO_CUDA = "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"

# As a reader meets them: a process that stops before any work. The other bad arguments are
# checked in-process below (test_more_bad_arguments): the same parse_args, no torch import each.
BAD = {
    "epochs-zero": (["--epochs", "0"], "--epochs"),
    "resume-not-torch": (["--resume", "old/checkpoint.pt"], "--resume"),
}
EPOCHS = "3"  # the fewest that reach the accuracy below; the page runs 3 too


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return scripts.run_script(MAIN, *args, cwd=cwd)


def final(proc: subprocess.CompletedProcess) -> tuple[float, float]:
    m = re.search(r"^test loss (\d+\.\d+), test accuracy (\d\.\d+)$", proc.stdout, re.M)
    assert m, proc.stdout + proc.stderr
    return float(m.group(1)), float(m.group(2))


def bad_input_dir(path: Path) -> Path:
    (path / "old").mkdir(parents=True)
    (path / "old" / "checkpoint.pt").write_bytes(SENTINEL)
    torch.save(torch.zeros(3), path / "tensor.pt")
    return path


def start_in_background(tmp: Path) -> dict:
    """Every run (two at a time); the resumed run follows the 2-epoch run it resumes, in the
    same worker. tests/conftest.py starts this in the background when a test needs it."""
    dirs = {name: tmp / name for name in ("default", "two", *BAD)}
    for d in dirs.values():
        d.mkdir()

    def two_then_resumed():
        # 2 epochs, then resumed up to EPOCHS: must match the uninterrupted run.
        two = run(dirs["two"], "--epochs", "2", "--quiet")
        return two, run(dirs["two"], "--epochs", EPOCHS, "--quiet", "--resume", "results/checkpoint.pt")

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        chain = pool.submit(two_then_resumed)
        default = pool.submit(run, dirs["default"], "--epochs", EPOCHS)
        bad = {name: pool.submit(run, bad_input_dir(dirs[name] / "x"), "--save-dir", "old", *args)
               for name, (args, _) in BAD.items()}
        out = {name: f.result() for name, f in bad.items()}
        out["two"], out["resumed"] = chain.result()
        out["default"] = default.result()
    out["dirs"] = dirs
    return out


pytestmark = pytest.mark.background(start=start_in_background, cache=True)  # tests/conftest.py runs it in the background
@pytest.fixture(scope="module")
def runs(started_here):
    return started_here


def test_default_run_learns_and_saves_its_results(runs):
    proc, results = runs["default"], runs["dirs"]["default"] / "results"
    assert proc.returncode == 0, proc.stderr
    loss, accuracy = final(proc)
    assert accuracy >= 0.9, proc.stdout
    assert (results / "curves.png").read_bytes().startswith(b"\x89PNG")
    checkpoint = torch.load(results / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert set(checkpoint) == {"model", "optimizer", "epoch", "args", "history"}
    assert checkpoint["epoch"] == checkpoint["args"]["epochs"] == int(EPOCHS)
    assert round(checkpoint["history"]["test_acc"][-1], 4) == accuracy
    assert sorted(p.name for p in results.iterdir()) == ["checkpoint.pt", "curves.png"]  # no temp files left


def test_resumed_training_equals_uninterrupted_training(runs):
    for name in ("default", "two", "resumed"):
        assert runs[name].returncode == 0, runs[name].stderr
    assert final(runs["resumed"]) == final(runs["default"])
    resumed, straight = (
        torch.load(runs["dirs"][name] / "results" / "checkpoint.pt", weights_only=True)
        for name in ("two", "default")
    )
    assert resumed["epoch"] == straight["epoch"] == int(EPOCHS)
    assert resumed["history"] == straight["history"]
    for key, value in straight["model"].items():
        assert torch.equal(resumed["model"][key], value), key


@pytest.mark.parametrize("case", BAD)
def test_bad_input_stops_before_any_work(runs, case):
    proc, (_, argument) = runs[case], BAD[case]
    cwd = runs["dirs"][case] / "x"
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "error:" in last and argument in last, proc.stderr
    assert proc.stdout == ""
    assert (cwd / "old" / "checkpoint.pt").read_bytes() == SENTINEL
    assert sorted(p.name for p in cwd.rglob("*")) == ["checkpoint.pt", "old", "tensor.pt"]


@pytest.fixture(scope="module")
def main_module():
    """main.py imported in-process, as a notebook or a test uses parse_args([...]); its
    sibling modules are found through sys.path and then taken out of sys.modules again."""
    return scripts.import_script(MAIN)


def test_parse_args_reads_a_list(main_module):
    args = main_module.parse_args(["--epochs", "3", "--batch-size", "16", "--device", "cpu"])
    assert (args.epochs, args.batch_size, args.lr, args.device) == (3, 16, 0.01, "cpu")


@pytest.mark.parametrize("argv, argument", [
    (["--epochs", "-2"], "--epochs"),
    (["--batch-size", "0"], "--batch-size"),
    (["--resume", "missing.pt"], "--resume"),
    (["--device", NO_CUDA], "--device"),
    (["--lr", "0"], "--lr"),
    (["--save-dir", "tensor.pt"], "--save-dir"),
    (["--resume", "tensor.pt"], "--resume"),
    (["--epochs", "2", "--resume", "three-epochs.pt"], "--epochs"),
    (["--epochs", "20", "--lr", "0.1", "--resume", "three-epochs.pt"], "--lr"),
    (["--epochs", "20", "--batch-size", "32", "--resume", "three-epochs.pt"], "--batch-size"),
    (["--epochs", "20", "--seed", "1", "--resume", "three-epochs.pt"], "--seed"),
])
def test_more_bad_arguments(main_module, runs, tmp_path, monkeypatch, capsys, argv, argument):
    monkeypatch.chdir(tmp_path)
    torch.save(torch.zeros(3), "tensor.pt")  # loads with weights_only=True, but is no checkpoint
    (tmp_path / "three-epochs.pt").write_bytes((runs["dirs"]["default"] / "results" / "checkpoint.pt").read_bytes())
    with pytest.raises(SystemExit) as e:
        main_module.parse_args(argv)
    assert e.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error:" in last and argument in last


def test_a_failed_save_leaves_the_old_checkpoint_whole(main_module, tmp_path):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(SENTINEL)
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(Exception):  # a lambda cannot be pickled: torch.save fails midway
        main_module.save_checkpoint(path, model, optimizer, 1, {"bad": lambda: 0}, {})
    assert path.read_bytes() == SENTINEL
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
