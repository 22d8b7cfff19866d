"""The compile benchmark's stored result (snippets/compile-export/benchmark-result.txt), which
docs/*/compile-export.md shows, stays the output of the current script on the pinned torch:
its first line carries the script's hash and the torch version it was measured with, so
changing either without measuring again fails here. The page's ```sh unit runs the script
itself (quickly, on CUDA too in `make test-gpu`). Pure text and argument parsing: fast."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tools.run import scripts

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "snippets" / "compile-export"
SCRIPT = FOLDER / "benchmark.py"
RESULT = FOLDER / "benchmark-result.txt"
HEADER = re.compile(r"^torch (\S+), Python (\S+), (\S+); benchmark\.py sha256 ([0-9a-f]{12})$")
TIME = r"(\d+\.\d+ (?:s|ms|us))"
ROW = re.compile(rf"^(cpu|cuda) +(eager|inductor|aot_eager) +(-|{TIME}) +(-|{TIME}) +{TIME} +{TIME}"
                 r" +(\d+\.\d\dx) +(\d+\.\d\dx) +(-|\d\.\de[-+]\d\d)$")


def lines() -> list[str]:
    return RESULT.read_text(encoding="utf-8").splitlines()


def seconds(text: str) -> float:
    value, unit = text.split()
    return float(value) * {"s": 1, "ms": 1e-3, "us": 1e-6}[unit]


def test_the_result_is_from_this_script_and_the_pinned_torch():
    m = HEADER.match(lines()[0])
    assert m, lines()[0]
    torch_version, _, _, digest = m.groups()
    pinned = re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.M).group(1)
    assert torch_version.split("+")[0] == pinned, "torch changed: measure again (see the page)"
    assert digest == hashlib.sha256(SCRIPT.read_bytes()).hexdigest()[:12], \
        "benchmark.py changed: measure again and store its output in benchmark-result.txt"


def test_the_result_names_the_machine_and_its_load():
    text = "\n".join(lines())
    assert re.search(r"^cpu: .+ \(\d+ logical cores, \d+ torch threads?\)$", text, re.M), text
    assert re.search(r"^load average \(1 min\) before / after: \d+\.\d\d / \d+\.\d\d$", text, re.M), text


def test_the_rows_are_complete_and_the_compiled_outputs_match_eager():
    rows = [ROW.match(line) for line in lines() if line.startswith(("cpu ", "cuda "))]
    assert rows and all(rows), lines()
    found = {(m.group(1), m.group(2)): m for m in rows}
    assert {("cpu", "eager"), ("cpu", "inductor")} <= set(found), set(found)
    for (device, backend), m in found.items():
        first_b256, first_b1, diff = m.group(3), m.group(5), m.group(11)
        if backend == "eager":
            assert (first_b256, first_b1, diff, m.group(9), m.group(10)) == ("-", "-", "-", "1.00x", "1.00x")
        else:
            assert seconds(first_b256) > 0 and seconds(first_b1) > 0
            assert float(diff) < 1e-4, f"{device} {backend}: compiled output differs by {diff}"


def test_the_page_shows_the_stored_result():
    for lang in ("ko", "en"):
        text = (ROOT / "docs" / lang / "compile-export.md").read_text(encoding="utf-8")
        assert '--8<-- "snippets/compile-export/benchmark-result.txt"' in text


@pytest.fixture(scope="module")
def benchmark():
    return scripts.import_script(SCRIPT)


@pytest.mark.parametrize("argv, argument", [
    (["--rounds", "0"], "--rounds"),
    (["--threads", "0"], "--threads"),
    (["--min-run-time", "0"], "--min-run-time"),
    (["--backends", "tvm"], "--backends"),
])
def test_bad_arguments_stop_before_measuring(benchmark, capsys, argv, argument):
    with pytest.raises(SystemExit) as e:
        benchmark.main(argv)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and f"error: argument {argument}" in err, err
