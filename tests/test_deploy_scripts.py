"""The deployment example (snippets/deploy/) run the way a reader runs it: export.py trains the
digits model and exports it (torch.export and ONNX), then predict.py predicts from each exported
file with a CSV and a .npy input, in processes that never see the model's class. Bad input
(a missing file, a wrong shape, a file that is no model) ends predict.py with one `error:` line
naming the file, exit status 2 and nothing on standard output."""

from __future__ import annotations

import re
import subprocess
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tools.run import scripts

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "snippets" / "deploy"
EXPORTED = ["digits.onnx", "digits.pt2", "sample.csv", "sample.npy"]
LINE = re.compile(r"^image (\d+): digit (\d) \(probability (\d\.\d{3})\)$")


def run(script: str, *args: str, cwd: Path, path_first: Path | None = None) -> subprocess.CompletedProcess:
    return scripts.run_script(DEPLOY / script, *args, cwd=cwd, path_first=path_first)


def start_in_background(tmp: Path) -> dict:
    """export.py once, then predict.py with each format, the two at a time (tests/conftest.py
    starts this in the background when a test needs it). The ONNX prediction runs where
    `import torch` fails, as for a reader with onnxruntime alone: that path needs no torch."""
    out = {"dir": tmp, "export": run("export.py", "--out-dir", "exported", cwd=tmp)}
    no_torch = tmp / "no-torch"
    (no_torch / "torch").mkdir(parents=True)
    (no_torch / "torch" / "__init__.py").write_text('raise ImportError("torch is hidden here")\n')
    with ThreadPoolExecutor(max_workers=2) as pool:
        onnx = pool.submit(run, "predict.py", "exported/digits.onnx", "exported/sample.csv", cwd=tmp,
                           path_first=no_torch)
        pt2 = pool.submit(run, "predict.py", "exported/digits.pt2", "exported/sample.npy", cwd=tmp)
        out["onnx"], out["pt2"] = onnx.result(), pt2.result()
    return out


pytestmark = pytest.mark.background(start=start_in_background, cache=True)  # tests/conftest.py runs it in the background
@pytest.fixture(scope="module")
def runs(started_here):
    return started_here


def load(name: str):
    return scripts.import_script(DEPLOY / f"{name}.py")


@pytest.fixture(scope="module")
def predict():
    return load("predict")


def predictions(proc: subprocess.CompletedProcess) -> list[tuple[int, float]]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = [LINE.match(line) for line in proc.stdout.splitlines()]
    assert found and all(found), proc.stdout
    assert [int(m.group(1)) for m in found] == list(range(len(found)))
    return [(int(m.group(2)), float(m.group(3))) for m in found]


def test_export_trains_and_writes_every_file_whole(runs):
    proc = runs["export"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = re.search(r"^trained 10 epochs: test accuracy (\d\.\d{4}) \(360 images\)$", proc.stdout, re.M)
    assert m and float(m.group(1)) >= 0.95, proc.stdout
    folder = runs["dir"] / "exported"
    assert sorted(p.name for p in folder.iterdir()) == EXPORTED  # no temporary file left
    assert zipfile.is_zipfile(folder / "digits.pt2")
    assert np.load(folder / "sample.npy").shape == (10, 64)


def test_both_formats_predict_the_same_digits_and_mostly_right(runs):
    labels = re.search(r"^their labels: ([\d ]+)$", runs["export"].stdout, re.M)
    assert labels, runs["export"].stdout
    labels = [int(v) for v in labels.group(1).split()]
    onnx, pt2 = predictions(runs["onnx"]), predictions(runs["pt2"])
    assert len(onnx) == len(pt2) == len(labels) == 10
    assert [d for d, _ in onnx] == [d for d, _ in pt2]
    assert all(abs(p - q) <= 0.002 for (_, p), (_, q) in zip(onnx, pt2))  # printed to 3 places
    assert sum(d == y for (d, _), y in zip(onnx, labels)) >= 9


def test_an_8x8_input_works_too(predict, runs, tmp_path, capsys):
    folder = runs["dir"] / "exported"
    np.save(tmp_path / "images.npy", np.load(folder / "sample.npy").reshape(10, 8, 8))
    assert predict.main([str(folder / "digits.pt2"), str(tmp_path / "images.npy")]) == 0
    assert capsys.readouterr().out == runs["pt2"].stdout


def bad_files(folder: Path, exported: Path) -> dict[str, Path]:
    (folder / "notes.onnx").write_text("not a model\n")
    (folder / "notes.pt2").write_text("not a model either\n")
    with zipfile.ZipFile(folder / "other.pt2", "w") as z:
        z.writestr("archive/data.txt", "a zip, but no exported program")
    (folder / "model.txt").write_bytes((exported / "digits.onnx").read_bytes())
    (folder / "short.csv").write_text("1,2,3\n4,5,6\n")
    (folder / "words.csv").write_text("a,b,c\n")
    (folder / "empty.csv").write_text("")
    (folder / "nan.csv").write_text(",".join(["nan"] * 64) + "\n")
    np.save(folder / "cube.npy", np.zeros((2, 4, 16)))
    (folder / "images.txt").write_text("0\n")
    return {p.name: p for p in folder.iterdir()}


@pytest.mark.parametrize("model, data, named", [
    ("missing.onnx", "sample.csv", "model"),
    ("missing.pt2", "sample.csv", "model"),
    ("digits.onnx", "missing.csv", "input"),
    ("notes.onnx", "sample.csv", "model"),
    ("notes.pt2", "sample.csv", "model"),
    ("other.pt2", "sample.csv", "model"),
    ("model.txt", "sample.csv", "model"),
    ("digits.onnx", "short.csv", "input"),
    ("digits.pt2", "cube.npy", "input"),
    ("digits.onnx", "words.csv", "input"),
    ("digits.onnx", "empty.csv", "input"),
    ("digits.onnx", "nan.csv", "input"),
    ("digits.pt2", "images.txt", "input"),
])
def test_bad_input_is_one_line_naming_the_file(predict, runs, tmp_path, capsys, model, data, named):
    exported = runs["dir"] / "exported"
    files = bad_files(tmp_path, exported)

    def path(name):
        return files.get(name) or (exported / name if (exported / name).exists() else tmp_path / name)

    model_path, data_path = path(model), path(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would be a second line on stderr
        assert predict.main([str(model_path), str(data_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no prediction printed
    assert err.count("\n") == 1 and err.startswith(f"error: {named} "), err
    assert str(model_path if named == "model" else data_path) in err, err


def test_bad_input_as_a_process(runs):
    proc = run("predict.py", "exported/digits.onnx", "exported/missing.npy", cwd=runs["dir"])
    assert proc.returncode == 2
    assert proc.stdout == "" and proc.stderr == "error: input exported/missing.npy: no such file\n"


def test_export_checks_its_arguments(tmp_path, capsys):
    export = load("export")
    (tmp_path / "file").write_text("")
    for argv, named in [(["--epochs", "0"], "--epochs"), (["--out-dir", str(tmp_path / "file")], "--out-dir")]:
        with pytest.raises(SystemExit) as e:
            export.parse_args(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert f"error: argument {named}" in err, err


def test_a_failed_write_leaves_the_old_file_whole(tmp_path):
    export = load("export")
    target = tmp_path / "digits.pt2"
    target.write_bytes(b"an older export that must survive\n")

    def fails_midway(path):
        path.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        export.write_atomically(target, fails_midway)
    assert target.read_bytes() == b"an older export that must survive\n"
    assert [p.name for p in tmp_path.iterdir()] == ["digits.pt2"]
