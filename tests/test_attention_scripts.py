"""The attention chapter's scripts (snippets/attention/) run the way a reader runs them, offline
under the network guard: train.py writes a checkpoint, predict.py reads it; train_generator.py
writes one, sample.py reads it; all as scripts from another working directory. bench_sdpa.py's
stored result must be the output of the current script on the pinned torch. Bad input must stop them before any work with one `error:` line that
names the argument. And the chapter's data is the names chapter's: the same block on both pages,
the same split as the scripts import from snippets/names/train.py."""

from __future__ import annotations

import hashlib
import math
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from tools.pages.docs_pages import units
from tools.run import no_network, scripts

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "snippets" / "attention"
ENV = no_network.guarded_env()
NO_CUDA = "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"
NAMES = ["Bianchini", "Novotný", "van den Berg"]
SENTINEL = b"an older checkpoint that must survive\n"
LANGUAGES = ["English", "German", "French", "Italian", "Spanish", "Dutch", "Czech"]


def run(cwd: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT / script), *args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=120)


def start_in_background(tmp: Path):
    """One epoch of a one-layer model (the smallest run that shows the whole script working),
    next to it predict.py refusing a checkpoint that does not exist; then predict.py on the new
    checkpoint. The same for the generator: one epoch of train_generator.py, then sample.py.
    tests/conftest.py starts this in the background when a test needs it."""
    cwd, empty = tmp / "attention", tmp / "empty"
    cwd.mkdir()
    empty.mkdir()
    # Two trainings never run side by side: on 2 cores under make test's load, that put train.py
    # past run()'s 120 s limit (load 26).
    with ThreadPoolExecutor(max_workers=2) as pool:
        train = pool.submit(run, cwd, "train.py", "--epochs", "1", "--layers", "1", "--save-dir", "out",
                            "--device", "cpu")
        refused = pool.submit(run, empty, "predict.py", "Rossi")
        train, refused = train.result(), refused.result()
        predict = pool.submit(run, cwd, "predict.py", "--checkpoint", "out/attention.pt", *NAMES)
        generator = pool.submit(run, cwd, "train_generator.py", "--epochs", "1", "--quiet", "--save-dir", "gen",
                                "--device", "cpu")
        predict, generator = predict.result(), generator.result()
    sample = run(cwd, "sample.py", "--checkpoint", "gen/generator.pt", "--language", "Italian", "--count", "5",
                 "--device", "cpu")
    return cwd, train, predict, refused, generator, sample


pytestmark = pytest.mark.background(start=start_in_background)  # tests/conftest.py runs it in the background


@pytest.fixture(scope="module")
def trained(started_here):
    return started_here


@pytest.fixture(scope="module")
def modules():
    """train.py and predict.py imported in-process (predict imports train through sys.path, as
    when it runs as a script); sys.path and sys.modules are put back afterwards."""
    return scripts.import_scripts(PROJECT, "train", "predict", "train_generator", "sample", "bench_sdpa")


def test_the_page_carries_the_names_chapters_data_block():
    """The one copy the page needs (a notebook in Colab has no repository to import from) is
    the names chapter's block, unchanged."""
    for lang in ("ko", "en"):
        names_data = units(ROOT / "docs" / lang / "names.md")[0].fences[0].body
        ours = [u for u in units(ROOT / "docs" / lang / "attention.md") if "faker_lists" in u.code]
        assert len(ours) == 1 and ours[0].fences[0].body == names_data, lang


def test_the_scripts_split_is_the_pages_split(modules):
    page = units(ROOT / "docs" / "ko" / "names.md")[0].fences[0].body
    scope: dict = {}
    exec(compile(page, "names.md", "exec"), scope)
    names = modules["train"].names
    train_pairs, test_pairs = names.split(names.load_names(), 0)
    assert (train_pairs, test_pairs) == (scope["train_pairs"], scope["test_pairs"])
    assert names.build_vocab(train_pairs) == scope["itos"]


def test_train_learns_and_saves_one_checkpoint(trained):
    cwd, proc = trained[0], trained[1]
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    m = re.search(r"^test accuracy (\d\.\d{4})$", proc.stdout, re.M)
    assert m, proc.stdout
    # The largest language is a quarter of the test names; one epoch must beat that clearly.
    assert float(m.group(1)) > 0.35, proc.stdout
    assert re.search(r"^  Czech +\d+/39 ", proc.stdout, re.M), proc.stdout
    assert sorted(p.name for p in (cwd / "out").iterdir()) == ["attention.pt"]  # no temporary file left
    checkpoint = torch.load(cwd / "out" / "attention.pt", map_location="cpu", weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["args"]["device"] == "cpu"
    assert checkpoint["args"]["layers"] == 1 and checkpoint["languages"] == LANGUAGES
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
        assert len(found) == 3 and len({language for language, _ in found}) == 3, line
        probs = [float(p) for _, p in found]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.001, line


def test_the_checkpoint_gives_the_same_answers_in_process(modules, trained):
    """predict.py's model is the one train.py trained: reloaded, it still scores the test names
    as well as train.py reported."""
    train = modules["train"]
    checkpoint = train.load_checkpoint(str(trained[0] / "out" / "attention.pt"))
    model = train.model_from_checkpoint(checkpoint, torch.device("cpu"))
    names = train.names
    _, test_pairs = names.split(names.load_names(), 0)
    stoi = {s: i for i, s in enumerate(checkpoint["vocab"])}
    x, lengths, y = train.make_batch(test_pairs, stoi, torch.device("cpu"))
    accuracy = (train.predict_labels(model, x, lengths) == y).float().mean().item()
    assert accuracy == pytest.approx(checkpoint["test_accuracy"], abs=1e-6)


def test_predict_refuses_a_missing_checkpoint_in_one_line(trained):
    proc = trained[3]
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("predict.py: error: argument --checkpoint: no such file: results/attention.pt "
                           "(train.py writes one)\n")


@pytest.mark.parametrize("argv, argument", [
    (["--epochs", "0"], "--epochs"),
    (["--epochs", "-3"], "--epochs"),
    (["--batch-size", "many"], "--batch-size"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--heads", "5"], "--heads"),
    (["--layers", "0"], "--layers"),
    (["--dropout", "1"], "--dropout"),
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
    (["--checkpoint", "cut.pt", "Rossi"], "argument --checkpoint: cut.pt cannot be read"),
    (["Rossi", "--top", "8"], "argument --top: the checkpoint knows 7 languages"),
    (["Rossi", "--top", "0"], "argument --top: expected a positive integer"),
    ([""], "argument NAME: an empty name"),
    (["   "], "argument NAME: an empty name"),
    (["1984"], "argument NAME: '1984' has no letters"),
    (["Nguyễn"], "argument NAME: 'Nguyễn' has characters the model never saw in training: ễ"),
])
def test_predict_rejects_bad_input(modules, trained, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    good = (trained[0] / "out" / "attention.pt").read_bytes()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "attention.pt").write_bytes(good)
    Path("cut.pt").write_bytes(good[: len(good) // 2])  # a save that stopped halfway
    torch.save(torch.zeros(3), "tensor.pt")  # loads with weights_only=True, but is no checkpoint
    Path("text.pt").write_text("not a torch file\n")
    with pytest.raises(SystemExit) as e:
        modules["predict"].parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: " + message in err, err


def test_a_failed_save_leaves_the_old_checkpoint_whole(modules, tmp_path):
    path = tmp_path / "attention.pt"
    path.write_bytes(SENTINEL)
    with pytest.raises(Exception):  # a lambda cannot be pickled: torch.save fails midway
        modules["train"].save_checkpoint(str(path), {"model": {}, "bad": lambda: 0})
    assert path.read_bytes() == SENTINEL
    assert [p.name for p in tmp_path.iterdir()] == ["attention.pt"]


def test_help_names_every_option(tmp_path):
    proc = run(tmp_path, "train.py", "--help")
    assert proc.returncode == 0 and proc.stderr == ""
    for option in ("--epochs", "--heads", "--layers", "--dropout", "--device", "--seed", "--save-dir"):
        assert option in proc.stdout, option


# ---- the generator: train_generator.py and sample.py ------------------------------------------

TABLE_ROW = re.compile(r"^(character bigram|GRU|Transformer) +(\d+) +(\d+\.\d{3}) +(\d+\.\d\d)$", re.M)


def test_train_generator_compares_on_held_out_names_and_saves_one_checkpoint(trained):
    cwd, proc = trained[0], trained[4]
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    rows = {m.group(1): (int(m.group(2)), float(m.group(3)), float(m.group(4))) for m in TABLE_ROW.finditer(proc.stdout)}
    assert list(rows) == ["character bigram", "GRU", "Transformer"], proc.stdout
    for name, (_, ce, perplexity) in rows.items():
        assert perplexity == pytest.approx(math.exp(ce), rel=2e-3), name  # the perplexity is exp(cross-entropy)
    # Even one epoch must learn more than counting pairs of characters, and far more than a uniform
    # guess among the 89 symbols (cross-entropy log 89 = 4.49).
    assert rows["Transformer"][1] < rows["character bigram"][1] < math.log(89), proc.stdout
    assert rows["GRU"][1] < rows["character bigram"][1], proc.stdout
    assert sorted(p.name for p in (cwd / "gen").iterdir()) == ["generator.pt"]  # no temporary file left
    checkpoint = torch.load(cwd / "gen" / "generator.pt", map_location="cpu", weights_only=True)
    assert checkpoint["languages"] == LANGUAGES and checkpoint["epoch"] == 1
    assert round(checkpoint["test_cross_entropy"], 3) == rows["Transformer"][1]


def test_sample_prints_the_names_asked_for(trained):
    proc = trained[5]
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 5 and all(line and any(c.isalpha() for c in line) for line in lines), proc.stdout


def test_the_kv_cache_samples_the_same_ids_and_computes_one_position_a_step(modules, trained):
    gen = modules["train_generator"]
    model = gen.model_from_checkpoint(gen.load_checkpoint(str(trained[0] / "gen" / "generator.pt")), torch.device("cpu"))
    for temperature in (0.5, 1.0, 1.5):
        runs = [gen.generate(model, 3, temperature, torch.Generator().manual_seed(1), use_cache=cache, stop_at_eos=False)
                for cache in (False, True)]
        assert torch.equal(torch.tensor(runs[0][0]), torch.tensor(runs[1][0])), temperature
        assert (runs[0][1], runs[1][1]) == (48 * 49 // 2, 48)
    same_seed = [gen.generate(model, 3, 1.0, torch.Generator().manual_seed(7))[0] for _ in range(2)]
    assert same_seed[0] == same_seed[1]


@pytest.mark.parametrize("argv, message", [
    (["--language", "Italian", "--temperature", "0"], "argument --temperature: expected a number above 0, got '0'"),
    (["--language", "Italian", "--temperature", "-1"], "argument --temperature: expected a number above 0, got '-1'"),
    (["--language", "Italian", "--temperature", "nan"], "argument --temperature: expected a number above 0"),
    (["--language", "Klingon"], "argument --language: unknown language 'Klingon' (known: " + ", ".join(LANGUAGES) + ")"),
    (["--language", "italian"], "argument --language: unknown language 'italian'"),
    ([], "the following arguments are required: --language"),
    (["--language", "Italian", "--count", "0"], "argument --count: expected a positive integer"),
    (["--language", "Italian", "--checkpoint", "missing.pt"], "argument --checkpoint: no such file: missing.pt"),
    (["--language", "Italian", "--checkpoint", "cut.pt"], "argument --checkpoint: cut.pt cannot be read"),
    (["--language", "Italian", "--checkpoint", "text.pt"], "argument --checkpoint: text.pt cannot be read"),
    (["--language", "Italian", "--checkpoint", "classifier.pt"],
     "argument --checkpoint: classifier.pt is not a checkpoint of train_generator.py"),
])
def test_sample_rejects_bad_input_in_one_line(modules, trained, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    good = (trained[0] / "gen" / "generator.pt").read_bytes()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "generator.pt").write_bytes(good)
    Path("cut.pt").write_bytes(good[: len(good) // 2])  # a save that stopped halfway
    Path("text.pt").write_text("not a torch file\n")
    Path("classifier.pt").write_bytes((trained[0] / "out" / "attention.pt").read_bytes())  # train.py's, not ours
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as e:
        modules["sample"].parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: " + message in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


@pytest.mark.parametrize("argv, argument", [
    (["--epochs", "0"], "--epochs"),
    (["--heads", "5"], "--heads"),
    (["--lr", "-1"], "--lr"),
    (["--save-dir", "a-file"], "--save-dir"),
])
def test_train_generator_rejects_bad_arguments(modules, tmp_path, monkeypatch, capsys, argv, argument):
    monkeypatch.chdir(tmp_path)
    Path("a-file").write_text("not a folder\n")
    with pytest.raises(SystemExit) as e:
        modules["train_generator"].parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and argument in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing created


# ---- bench_sdpa.py's stored result (the compile-export chapter's pattern, copied) ----------------

BENCH = PROJECT / "bench_sdpa.py"
RESULT = PROJECT / "sdpa-result-cpu.txt"
HEADER = re.compile(r"^torch (\S+), Python (\S+), (\S+); bench_sdpa\.py sha256 ([0-9a-f]{12})$")
BENCH_ROW = re.compile(r"^(by hand|SDPA \(\w+\)) +(\d+) +(\d+\.\d+ (?:s|ms|us)) +(\d+\.\d) MiB$")


def result_lines() -> list[str]:
    return RESULT.read_text(encoding="utf-8").splitlines()


def test_the_sdpa_result_is_from_this_script_and_the_pinned_torch():
    m = HEADER.match(result_lines()[0])
    assert m, result_lines()[0]
    torch_version, _, _, digest = m.groups()
    pinned = re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.M).group(1)
    assert torch_version.split("+")[0] == pinned, "torch changed: measure again (see the attention page)"
    assert digest == hashlib.sha256(BENCH.read_bytes()).hexdigest()[:12], \
        "bench_sdpa.py changed: measure again with --output snippets/attention/sdpa-result-cpu.txt"


def test_the_sdpa_result_names_the_machine_and_its_load():
    text = "\n".join(result_lines())
    assert re.search(r"^cpu: .+ \(\d+ logical cores, 1 torch threads?\)$", text, re.M), text
    assert re.search(r"^load average \(1 min\) before / after: \d+\.\d\d / \d+\.\d\d$", text, re.M), text


def test_the_sdpa_result_has_both_methods_for_every_length_and_sdpa_needs_less_memory():
    rows = [BENCH_ROW.match(line) for line in result_lines()[6:]]
    assert rows and all(rows), result_lines()
    found = {(m.group(1).split()[0], int(m.group(2))): float(m.group(4)) for m in rows}
    lengths = sorted({L for _, L in found})
    assert lengths == [256, 512, 1024, 2048] and len(found) == 2 * len(lengths), found
    # Memory is no timing: by hand keeps (L, L) tables, SDPA's CPU kernel never does.
    for L in lengths[1:]:
        assert found[("SDPA", L)] < found[("by", L)] / 4, (L, found)


def test_the_page_shows_the_stored_sdpa_result():
    for lang in ("ko", "en"):
        text = (ROOT / "docs" / lang / "attention.md").read_text(encoding="utf-8")
        assert '--8<-- "snippets/attention/sdpa-result-cpu.txt"' in text


@pytest.mark.parametrize("argv, message", [
    (["--lengths", "0"], "argument --lengths: expected a positive integer"),
    (["--threads", "x"], "argument --threads: expected a positive integer"),
    (["--device", "gpu"], "argument --device"),
    (["--output", "no-such-folder/result.txt"], "argument --output: no such folder: no-such-folder"),
])
def test_bench_sdpa_rejects_bad_arguments(modules, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        modules["bench_sdpa"].parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: " + message in err, err
    assert list(tmp_path.iterdir()) == []
