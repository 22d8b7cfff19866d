"""Links keep their promise, checked on the Markdown (pure text, milliseconds): no page points
at an appendix that isn't there, and each cheat-sheet row links to sections that show the calls
of the row. A link to a missing page or section fails the strict build (mkdocs.yml
`validation:`); tests/test_published_site.py checks the built site's links, notebooks included."""

import re
from pathlib import Path

import pytest

from tools.pages import glossary
from tools.pages.docs_pages import DOCS, LANGS, pages, rel

LINK = re.compile(r"\]\((?!https?:|mailto:)([^)\s#]*)(?:#([^)\s]+))?\)")
ALL = [p for lang in LANGS for p in pages(lang)]


def sections(page: Path) -> dict[str, str]:
    """anchor → the Markdown of that section, up to the next heading of the same or a higher level."""
    text = page.read_text(encoding="utf-8")
    lines = text.splitlines()
    # (index, level) of each heading outside fences, as glossary.headings finds them
    starts = [(n - 1, len(h.group(1))) for n, line in glossary.prose_lines(text, keep_links=True)
              if (h := glossary.HEADING.match(line))]
    anchors = [a for _, a in glossary.headings(page)]
    out = {}
    for k, (i, level) in enumerate(starts):
        end = next((j for j, lv in starts[k + 1:] if lv <= level), len(lines))
        out[anchors[k]] = "\n".join(lines[i:end])
    return out


@pytest.mark.parametrize("page", ALL, ids=lambda p: str(p.relative_to(DOCS)))
def test_no_page_points_at_an_appendix(page):
    """(A link to a missing page or #section fails the strict build: mkdocs.yml `validation:`.)"""
    problems = [f"{rel(page)}:{n}: refers to an appendix; link the section instead"
                for n, line in glossary.prose_lines(page.read_text(encoding="utf-8"), keep_links=True)
                if re.search(r"부록|appendix", line, re.I)]
    assert not problems, "\n".join(problems)


def called_names(code: str) -> set[str]:
    """The functions, methods and attributes a cheat-sheet cell names: `x.sum(dim=0)` → {"sum"}.
    A class the reader defines (`class Net(nn.Module)`) is a placeholder, not a call."""
    code = re.sub(r"\bclass\s+\w+", "", code)
    return set(re.findall(r"([A-Za-z_]\w*)\s*\(", code)) | set(re.findall(r"\.([A-Za-z_]\w*)", code))


@pytest.mark.parametrize("lang", LANGS)
def test_cheat_sheet_rows_link_to_sections_that_show_their_calls(lang):
    sheet = DOCS / lang / "cheatsheet.md"
    problems, rows = [], 0
    for n, line in enumerate(sheet.read_text(encoding="utf-8").splitlines(), 1):
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        links = LINK.findall(cells[-1])
        if not links:
            problems.append(f"{rel(sheet)}:{n}: the row links to no chapter")
            continue
        rows += 1
        shown = "\n".join(sections((sheet.parent / path).resolve()).get(anchor, "") for path, anchor in links)
        names = set().union(*(called_names(c) for c in re.findall(r"`([^`]+)`", cells[0])))
        missing = sorted(x for x in names if not re.search(rf"(?<!\w){re.escape(x)}(?!\w)", shown, re.ASCII))
        if missing:
            where = ", ".join(f"{p}#{a}" for p, a in links)
            problems.append(f"{rel(sheet)}:{n}: {where} never shows {missing}")
    assert rows > 50, f"only {rows} rows found in {rel(sheet)}"
    assert not problems, "\n".join(problems)


def test_the_row_check_reads_calls():
    assert called_names("x.sum(dim=0)") == {"sum"}
    assert called_names("y.detach().cpu().numpy()") == {"detach", "cpu", "numpy"}
    assert called_names("class Net(nn.Module)") == {"Module"}
