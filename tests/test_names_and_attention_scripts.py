"""The reader scripts of two chapters on one data set, run the way a reader runs them, offline
under the network guard, as scripts from another working directory: each family's train.py
(snippets/names/, snippets/attention/) writes a checkpoint and its predict.py reads it;
train_generator.py writes one and sample.py reads it. Both families share their logic, so each
behaviour is tested once, over both. bench_sdpa.py's stored result must be the output of the
current script on the pinned torch. Bad input must stop every script before any work with one
`error:` line that names the argument. And the attention chapter's data is the names chapter's:
the same block on both pages, the same split as its scripts import from snippets/names/train.py."""

from __future__ import annotations

import hashlib
import math
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

from tools.pages.docs_pages import units
from tools.run import scripts

ROOT = Path(__file__).resolve().parent.parent
NO_CUDA = "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"
NAMES = ["Bianchini", "Novotný", "van den Berg"]
SENTINEL = b"an older checkpoint that must survive\n"
LANGUAGES = ["English", "German", "French", "Italian", "Spanish", "Dutch", "Czech"]


class Family(NamedTuple):
    checkpoint: str  # what train.py writes
    beat: float  # the test accuracy one epoch must beat clearly: the largest language is a quarter of the test names
    options: dict  # train.py's options in the background run beyond the common ones; the checkpoint records them


FAMILIES = {"names": Family("names.pt", 0.5, {}), "attention": Family("attention.pt", 0.35, {"layers": 1})}
SCRIPTS = {"names": ["train", "predict"], "attention": ["train", "predict", "train_generator", "sample", "bench_sdpa"]}


def run(family: str, cwd: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    return scripts.run_script(ROOT / "snippets" / family / script, *args, cwd=cwd)


def start_in_background(tmp: Path):
    """One epoch of each train.py (the attention model with one layer): the smallest runs that show
    the whole script working; beside them predict.py refusing a checkpoint that does not exist
    (results/ is never written), then predict.py on each new checkpoint. One epoch of
    train_generator.py, then sample.py. Returns each family's folder under its name and each
    process under (family, step). tests/conftest.py starts this in the background when a test needs it."""
    ran: dict = {family: tmp / family for family in FAMILIES}
    for folder in ran.values():
        folder.mkdir()
    train = {f: ["train.py", "--epochs", "1", "--save-dir", "out", "--device", "cpu",
                 *(f"--{option}={value}" for option, value in FAMILIES[f].options.items())] for f in FAMILIES}
    predict = {f: ["predict.py", "--checkpoint", f"out/{FAMILIES[f].checkpoint}", *NAMES] for f in FAMILIES}
    # Stage by stage, one process a core. Two trainings never run side by side: on 2 cores under
    # make test's load, that put train.py past run()'s 120 s limit (load 26).
    stages = [{("names", "train"): train["names"], **{(f, "refused"): ["predict.py", "Rossi"] for f in FAMILIES}},
              {("attention", "train"): train["attention"], ("names", "predict"): predict["names"]},
              {("attention", "predict"): predict["attention"],
               ("attention", "generator"): ["train_generator.py", "--epochs", "1", "--quiet", "--save-dir", "gen",
                                            "--device", "cpu"]},
              {("attention", "sample"): ["sample.py", "--checkpoint", "gen/generator.pt", "--language", "Italian",
                                         "--count", "5", "--device", "cpu"]}]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for stage in stages:
            futures = {key: pool.submit(run, key[0], ran[key[0]], *argv) for key, argv in stage.items()}
            ran.update((key, future.result()) for key, future in futures.items())
    return ran


pytestmark = pytest.mark.background(start=start_in_background, cache=True)  # tests/conftest.py runs it in the background


@pytest.fixture(scope="module")
def trained(started_here):
    return started_here


def written(trained, family: str) -> Path:  # the checkpoint the background run of the family's train.py wrote
    return trained[family] / "out" / FAMILIES[family].checkpoint


@pytest.fixture(scope="module")
def modules():
    """Each family's scripts imported in-process (predict imports train through sys.path, as when it
    runs as a script); sys.path and sys.modules are put back afterwards."""
    return {family: scripts.import_scripts(ROOT / "snippets" / family, *names) for family, names in SCRIPTS.items()}


def error_line(parse_args, argv: list[str], capsys) -> str:
    """parse_args(argv) must stop with exit 2 and one line on stderr, which is returned."""
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


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
    names = modules["attention"]["train"].names
    train_pairs, test_pairs = names.split(names.load_names(), 0)
    assert (train_pairs, test_pairs) == (scope["train_pairs"], scope["test_pairs"])
    assert names.build_vocab(train_pairs) == scope["itos"]


# ---- what both families' train.py and predict.py share -------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_train_learns_and_saves_one_checkpoint(trained, family):
    proc = trained[family, "train"]
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no traceback, no warning
    m = re.search(r"^test accuracy (\d\.\d{4})$", proc.stdout, re.M)
    assert m, proc.stdout
    assert float(m.group(1)) > FAMILIES[family].beat, proc.stdout
    assert re.search(r"^  Czech +\d+/39 ", proc.stdout, re.M), proc.stdout
    path = written(trained, family)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["args"]["device"] == "cpu"
    assert FAMILIES[family].options.items() <= checkpoint["args"].items() and checkpoint["languages"] == LANGUAGES
    assert checkpoint["vocab"][:3] == ["<pad>", "<unk>", "<eos>"]
    assert round(checkpoint["test_accuracy"], 4) == float(m.group(1))


@pytest.mark.parametrize("family", FAMILIES)
def test_predict_prints_the_top_three_languages(trained, family):
    proc = trained[family, "predict"]
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(NAMES), proc.stdout
    for name, line in zip(NAMES, lines):
        assert line.startswith(name + " "), line
        found = re.findall(r"([A-Z][a-z]+) (\d\.\d{3})", line[len(name):])
        assert len(found) == 3 and len({language for language, _ in found}) == 3, line
        probs = [float(p) for _, p in found]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.001, line


@pytest.mark.parametrize("family", FAMILIES)
def test_the_checkpoint_gives_the_same_answers_in_process(modules, trained, family):
    """predict.py's model is the one train.py trained: reloaded, it still scores the test names
    as well as train.py reported."""
    train, names = modules[family]["train"], modules["names"]["train"]
    checkpoint = train.load_checkpoint(str(written(trained, family)))
    model = train.model_from_checkpoint(checkpoint, torch.device("cpu"))
    _, test_pairs = names.split(names.load_names(), 0)
    stoi = {s: i for i, s in enumerate(checkpoint["vocab"])}
    x, lengths, y = train.make_batch(test_pairs, stoi, torch.device("cpu"))
    accuracy = (train.predict_labels(model, x, lengths) == y).float().mean().item()
    assert accuracy == pytest.approx(checkpoint["test_accuracy"], abs=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_predict_refuses_a_missing_checkpoint_in_one_line(trained, family):
    proc = trained[family, "refused"]
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("predict.py: error: argument --checkpoint: no such file: "
                           f"results/{FAMILIES[family].checkpoint} (train.py writes one)\n")


@pytest.mark.parametrize("family", FAMILIES)
def test_predict_accepts_names_it_can_read(modules, trained, monkeypatch, family):
    monkeypatch.chdir(trained[family])
    argv = ["--checkpoint", f"out/{FAMILIES[family].checkpoint}", " Rossi ", "O'Neil", "Müller-Lüdenscheidt"]
    args = modules[family]["predict"].parse_args(argv)
    assert args.names == [" Rossi ", "O'Neil", "Müller-Lüdenscheidt"] and args.top == 3


@pytest.mark.parametrize("family", FAMILIES)
def test_a_failed_save_leaves_the_old_checkpoint_whole(modules, tmp_path, family):
    path = tmp_path / FAMILIES[family].checkpoint
    path.write_bytes(SENTINEL)
    with pytest.raises(Exception):  # a lambda cannot be pickled: torch.save fails midway
        modules[family]["train"].save_checkpoint(str(path), {"model": {}, "bad": lambda: 0})
    assert path.read_bytes() == SENTINEL
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


# The three training scripts take these options with names/train.py's argument types, so each bad
# value goes to all three; then the options only one script has.
COMMON_BAD = [["--epochs", "0"], ["--epochs", "-3"], ["--batch-size", "many"], ["--lr", "0"], ["--lr", "-0.1"],
              ["--lr", "-1"], ["--lr", "nan"], ["--device", NO_CUDA], ["--device", "gpu"], ["--save-dir", "a-file"]]
BAD_TRAINING = ([("names", "train", argv) for argv in [*COMMON_BAD, ["--hidden-size", "0"]]]
                + [("attention", "train", argv) for argv in [*COMMON_BAD, ["--heads", "5"], ["--layers", "0"],
                                                              ["--dropout", "1"]]]
                + [("attention", "train_generator", argv) for argv in [*COMMON_BAD, ["--heads", "5"]]])


@pytest.mark.parametrize("family, script, argv", BAD_TRAINING,
                         ids=[f"{f}/{s}.py {' '.join(a)}" for f, s, a in BAD_TRAINING])
def test_training_rejects_bad_arguments(modules, tmp_path, monkeypatch, capsys, family, script, argv):
    monkeypatch.chdir(tmp_path)
    Path("a-file").write_text("not a folder\n")
    err = error_line(modules[family][script].parse_args, argv, capsys)
    assert "error:" in err and argv[0] in err, err  # names the argument
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # nothing created


BAD_PREDICT = [
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
    (["Smith3"], "argument NAME: 'Smith3' has characters the model never saw in training: 3"),
]
BAD_SAMPLE = [
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
]
BAD_READING = ([(family, "predict", *case) for family in FAMILIES for case in BAD_PREDICT]
               + [("attention", "sample", *case) for case in BAD_SAMPLE])


@pytest.mark.parametrize("family, script, argv, message", BAD_READING,
                         ids=[f"{f}/{s}.py {a}" for f, s, a, _ in BAD_READING])
def test_predict_and_sample_reject_bad_input_in_one_line(modules, trained, tmp_path, monkeypatch, capsys,
                                                         family, script, argv, message):
    monkeypatch.chdir(tmp_path)
    path = trained["attention"] / "gen" / "generator.pt" if script == "sample" else written(trained, family)
    good = path.read_bytes()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / path.name).write_bytes(good)  # the default --checkpoint
    Path("cut.pt").write_bytes(good[: len(good) // 2])  # a save that stopped halfway
    torch.save(torch.zeros(3), "tensor.pt")  # loads with weights_only=True, but is no checkpoint
    Path("text.pt").write_text("not a torch file\n")
    Path("classifier.pt").write_bytes(written(trained, "attention").read_bytes())  # train.py's, not train_generator.py's
    before = sorted(p.name for p in tmp_path.rglob("*"))
    err = error_line(modules[family][script].parse_args, argv, capsys)
    assert "error: " + message in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


def test_help_names_every_option(tmp_path):
    proc = run("attention", tmp_path, "train.py", "--help")
    assert proc.returncode == 0 and proc.stderr == ""
    for option in ("--epochs", "--heads", "--layers", "--dropout", "--device", "--seed", "--save-dir"):
        assert option in proc.stdout, option


# ---- the generator: train_generator.py and sample.py ------------------------------------------

TABLE_ROW = re.compile(r"^(character bigram|GRU|Transformer) +(\d+) +(\d+\.\d{3}) +(\d+\.\d\d)$", re.M)


def test_train_generator_compares_on_held_out_names_and_saves_one_checkpoint(trained):
    cwd, proc = trained["attention"], trained["attention", "generator"]
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
    proc = trained["attention", "sample"]
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 5 and all(line and any(c.isalpha() for c in line) for line in lines), proc.stdout


def test_the_kv_cache_samples_the_same_ids_and_computes_one_position_a_step(modules, trained):
    gen = modules["attention"]["train_generator"]
    model = gen.model_from_checkpoint(gen.load_checkpoint(str(trained["attention"] / "gen" / "generator.pt")),
                                      torch.device("cpu"))
    for temperature in (0.5, 1.0, 1.5):
        runs = [gen.generate(model, 3, temperature, torch.Generator().manual_seed(1), use_cache=cache, stop_at_eos=False)
                for cache in (False, True)]
        assert torch.equal(torch.tensor(runs[0][0]), torch.tensor(runs[1][0])), temperature
        assert (runs[0][1], runs[1][1]) == (48 * 49 // 2, 48)
    same_seed = [gen.generate(model, 3, 1.0, torch.Generator().manual_seed(7))[0] for _ in range(2)]
    assert same_seed[0] == same_seed[1]


# ---- bench_sdpa.py's stored result (the compile-export chapter's pattern, copied) ----------------

BENCH = ROOT / "snippets" / "attention" / "bench_sdpa.py"
RESULT = BENCH.parent / "sdpa-result-cpu.txt"
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
    err = error_line(modules["attention"]["bench_sdpa"].parse_args, argv, capsys)
    assert "error: " + message in err, err
    assert list(tmp_path.iterdir()) == []
