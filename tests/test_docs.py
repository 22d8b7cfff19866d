"""The pages themselves: no fence is skipped silently, both languages carry the same code,
and snippets/ is exactly what the pages contain."""

import re

import pytest

from tools import extract_snippets
from tools.docs_pages import DOCS, ROOT, LANGS, pages, scan_fences, twin, units

ALL_PAGES = [p for lang in LANGS for p in pages(lang)]


def test_there_are_pages_in_both_languages():
    assert pages("ko") and pages("en")


@pytest.mark.parametrize("page", ALL_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_fences_are_run_or_explicitly_not_run(page):
    # scan_fences raises with page:line on a fence pytest-codeblocks would skip silently,
    # an unknown fence language, a skip marker, or a malformed marker.
    python = [f for f in scan_fences(page) if f.kind == "run" and f.info == "python"]
    starts = [f.line for f in python if not f.cont]
    # Cross-check with pytest-codeblocks' own parser: every python fence we see starts a
    # unit it runs, or continues one.
    assert [u.lineno for u in units(page)] == starts


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_exists_in_both_languages(lang):
    other = "en" if lang == "ko" else "ko"
    missing = [str(p.relative_to(DOCS)) for p in pages(lang) if not twin(p, other).exists()]
    assert not missing, f"pages without a {other} twin: {missing}"


@pytest.mark.parametrize("page", pages("ko"), ids=lambda p: str(p.relative_to(DOCS / "ko")))
def test_ko_and_en_run_the_same_code(page):
    def runnable(p):
        return [(f.info, block) for f, block in zip(
            [f for f in scan_fences(p) if f.kind == "run"], fence_bodies(p))]

    ko, en = runnable(page), runnable(twin(page, "en"))
    for i, (a, b) in enumerate(zip(ko, en), 1):
        assert a == b, f"runnable block {i} differs between {page.name} ko and en:\n{a[1]}\n---\n{b[1]}"
    assert len(ko) == len(en), f"ko has {len(ko)} runnable blocks, en has {len(en)}"


def fence_bodies(page):
    """Bodies of the run fences (python/sh/bash) in page order, before `cont` merging."""
    bodies, lines, i = [], page.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        m = re.match(r"^\s*(`{3,})(python|sh|bash)\s*$", lines[i])
        if m:
            j = i + 1
            while not lines[j].strip().startswith(m.group(1)):
                j += 1
            bodies.append("\n".join(lines[i + 1 : j]))
            i = j
        i += 1
    return bodies


def test_snippets_match_the_pages():
    missing, stale, orphaned = extract_snippets.differences(extract_snippets.expected_snippets())
    problems = [f"missing {p}" for p in missing] + [f"stale {p}" for p in stale]
    problems += [f"orphaned {p}" for p in orphaned]
    assert not problems, f"{problems}\nrun `{extract_snippets.COMMAND}` to regenerate snippets/"


def test_hand_written_snippets_are_used_by_a_page():
    text = "\n".join(p.read_text(encoding="utf-8") for p in ALL_PAGES)
    hand_written = [
        p for p in (ROOT / "snippets").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
        and not (p.suffix == ".py" and extract_snippets.is_generated(p))
    ]
    unused = [str(p.relative_to(ROOT)) for p in hand_written
              if str(p.relative_to(ROOT)) not in text and p.name not in text]
    assert not unused, f"files under snippets/ that no page shows or runs: {unused}"


def test_snippet_paths_named_on_pages_exist():
    named = {m for p in ALL_PAGES for m in re.findall(r"snippets/[\w./-]+\.py", p.read_text(encoding="utf-8"))}
    assert not [n for n in named if not (ROOT / n).exists()]


def test_every_figure_is_saved_by_its_page_and_shown_in_both_languages():
    from tools.figures import FIGURES

    for png in sorted(FIGURES.rglob("*.png")) if FIGURES.exists() else []:
        chapter = png.parent.relative_to(FIGURES).as_posix()
        for lang in LANGS:
            page = DOCS / lang / f"{chapter}.md"
            text = page.read_text(encoding="utf-8") if page.exists() else ""
            assert f'"{png.name}"' in text, f"no block on {page.relative_to(ROOT)} saves {png.name}"
            assert f"figures/{chapter}/{png.name})" in text, f"{page.relative_to(ROOT)} does not show {png.name}"
