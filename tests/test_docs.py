"""The pages themselves: no fence is skipped silently, both languages carry the same code
and the same outputs (compared as text: only the Korean page runs), snippets/ is exactly
what the pages contain, and every snippet is standalone (uses no name it doesn't define)."""

import ast
import re

import pytest

from tools.pages import extract_snippets
from tools.pages.figures import FIGURES
from tools.pages.docs_pages import DOCS, ROOT, LANGS, all_units, codeblocks_units, exercises, pages, rel, scan_fences, twin

ALL_PAGES = [p for lang in LANGS for p in pages(lang)]


@pytest.mark.parametrize("page", ALL_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_units_are_what_pytest_codeblocks_runs(page):
    # all_units raises with page:line on a fence pytest-codeblocks would skip silently, an
    # unknown fence language, a skip marker, or a malformed marker. Then our page model must
    # see the units pytest-codeblocks sees: same lines, code and shown outputs. (Its parser
    # drops blank lines inside indented fences; a reader's copy keeps them, and so do we.)
    def squeeze(text):
        return None if text is None else "".join(line for line in text.splitlines(True) if line.strip())

    # (an output that varies by CPU is ours to compare, within its tolerance: not theirs)
    ours = [(u.lineno, u.syntax, squeeze(u.code), squeeze(None if u.tolerance else u.expected_output))
            for u in all_units(page)]
    theirs = [(n, syntax, squeeze(code), squeeze(out)) for n, syntax, code, out in codeblocks_units(page)]
    assert ours == theirs


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_exists_in_both_languages(lang):
    assert pages(lang)
    other = "en" if lang == "ko" else "ko"
    missing = [str(p.relative_to(DOCS)) for p in pages(lang) if not twin(p, other).exists()]
    assert not missing, f"pages without a {other} twin: {missing}"


@pytest.mark.parametrize("page", pages("ko"), ids=lambda p: str(p.relative_to(DOCS / "ko")))
def test_ko_and_en_show_the_same_code_and_outputs(page):
    def shown(p):
        return [(f.info, f.body) for f in scan_fences(p) if f.kind in ("run", "output", "starter", "check")]

    ko, en = shown(page), shown(twin(page, "en"))
    for i, (a, b) in enumerate(zip(ko, en), 1):
        assert a == b, f"block {i} differs between {page.name} ko and en:\n{a[1]}\n---\n{b[1]}"
    assert len(ko) == len(en), f"ko has {len(ko)} runnable and output blocks, en has {len(en)}"


def undefined_names(code: str, filename: str) -> list[str]:
    from pyflakes import checker, messages

    found = checker.Checker(ast.parse(code), filename).messages
    return [str(m) for m in found if isinstance(m, (messages.UndefinedName, messages.UndefinedLocal))]


GENERATED = sorted(extract_snippets.generated_snippets())


@pytest.mark.parametrize("snippet", GENERATED, ids=lambda p: str(p.relative_to(ROOT / "snippets")))
def test_snippet_is_standalone(snippet):
    # The runner gives each unit an empty working directory, so no unit reads another's
    # files; this is the other half: no unit borrows a name from an earlier one.
    problems = undefined_names(snippet.read_text(encoding="utf-8"), rel(snippet))
    assert not problems, "\n".join(problems)


EXERCISES = [u for p in pages("ko") for u in exercises(p)]


@pytest.mark.parametrize("unit", EXERCISES, ids=lambda u: f"{u.page.stem}:{u.starter.line}")
def test_an_exercise_is_standalone(unit):
    # A reader pastes the starter and the check (or the solution and the check) into an empty
    # notebook: neither pair may borrow a name from the chapter.
    found = undefined_names(unit.starter.body + unit.check.body, f"{unit.exercise}, starter + check")
    found += undefined_names(unit.code + unit.check.body, f"{unit.exercise}, solution + check")
    assert not found, "\n".join(found)


EXERCISE_HEADING = {"ko": "## 연습 문제", "en": "## Exercises"}


NOT_TEACHING = {"index", "glossary", "cheatsheet", "common-mistakes"}  # no exercises there (#31)


@pytest.mark.parametrize("page", ALL_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_exercises_end_the_page_two_to_four_of_them(page):
    found = exercises(page)
    if page.stem in NOT_TEACHING:
        assert not found, f"{rel(page)} is not a teaching chapter: it has no exercises"
        return
    lang = page.relative_to(DOCS).parts[0]
    lines = page.read_text(encoding="utf-8").splitlines()
    h2 = [n for n, line in enumerate(lines, 1) if line.startswith("## ")]
    assert lines[h2[-1] - 1] == EXERCISE_HEADING[lang], f"{rel(page)}: the last section must be {EXERCISE_HEADING[lang]!r}"
    assert all(u.starter.line > h2[-1] for u in found), f"{rel(page)}: an exercise outside {EXERCISE_HEADING[lang]!r}"
    assert 2 <= len(found) <= 4, f"{rel(page)} has {len(found)} exercises; a chapter has 2 to 4"


def test_at_least_45_exercises():
    assert len(EXERCISES) >= 45, f"{len(EXERCISES)} exercises; the site promises at least 45 (#31)"


def test_the_standalone_check_catches_a_borrowed_name():
    assert undefined_names("import torch\nprint(model(torch.ones(1)))\n", "x.py") == [
        "x.py:2:7: undefined name 'model'"]


def test_snippets_match_the_pages(capsys):
    assert extract_snippets.main(["--check"]) == 0, capsys.readouterr().out + f"run `{extract_snippets.COMMAND}`"


def test_hand_written_snippets_are_used_by_a_page():
    text = "\n".join(p.read_text(encoding="utf-8") for p in ALL_PAGES)
    hand_written = [p for p in (ROOT / "snippets").rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts and p not in GENERATED]
    unused = [str(p.relative_to(ROOT)) for p in hand_written
              if str(p.relative_to(ROOT)) not in text and p.name not in text]
    assert not unused, f"files under snippets/ that no page shows or runs: {unused}"


def test_snippet_paths_named_on_pages_exist():
    named = {m for p in ALL_PAGES for m in re.findall(r"snippets/[\w./-]+\.py", p.read_text(encoding="utf-8"))}
    assert not [n for n in named if not (ROOT / n).exists()]


def test_every_figure_is_saved_by_its_page_and_shown_in_both_languages():
    for png in sorted(FIGURES.rglob("*.png")) if FIGURES.exists() else []:
        if png.name.endswith(".dark.png"):  # tools/pages/dark_figures.py: drawn with its figure, shown by the hook
            assert png.with_name(png.name.replace(".dark.png", ".png")).exists(), f"{png} has no light figure"
            continue
        chapter = png.parent.relative_to(FIGURES).as_posix()
        for lang in LANGS:
            page = DOCS / lang / f"{chapter}.md"
            text = page.read_text(encoding="utf-8") if page.exists() else ""
            assert f'"{png.name}"' in text, f"no block on {page.relative_to(ROOT)} saves {png.name}"
            assert f"figures/{chapter}/{png.name})" in text, f"{page.relative_to(ROOT)} does not show {png.name}"


READER_PAGE = "docs/ko/tensors.md"


def reader_run(folder):
    """`make test` runs the pages through tools/run/runner.py; a reader runs one page this way
    (a pytest of its own: started in the background, tests/conftest.py)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "pytest", "--codeblocks", READER_PAGE, "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)


pytestmark = pytest.mark.background(start=reader_run, cache=True, reads=[READER_PAGE, "pyproject.toml"])  # kept: tests/conftest.py


def test_a_reader_can_run_one_page_with_pytest_codeblocks(started_here):
    proc = started_here
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    units = len(all_units(ROOT / READER_PAGE))
    assert re.search(rf"^{units} passed", proc.stdout, re.M), proc.stdout[-500:]
