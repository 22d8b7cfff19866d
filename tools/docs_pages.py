"""The page model: every tool and test reads a page through this module, parsed once.

A page is a list of fences (with their bodies, dedented as pytest-codeblocks dedents them)
grouped into runnable units: a ```python or ```sh block, the ```python blocks chained to it
with <!--pytest-codeblocks:cont-->, and the ```text block shown as its output. The fence
guard raises on anything pytest-codeblocks would skip silently (`~~~`, `py`, titles…), and
tests/test_docs.py checks the units against pytest-codeblocks' own parser, so what we run,
extract and compare is exactly what `pytest --codeblocks` runs. Page → URL lives here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LANGS = ("ko", "en")  # ko is the source language; en must mirror it

RUN = {"python", "sh", "bash"}  # exactly what pytest-codeblocks executes
# Fences that are never run. "{.python .no-run}" shows Python code that must not run in
# tests (downloads, GPU-only steps); the page says why next to it.
NON_RUN = {"text", "console", "mermaid", "yaml", "toml", "json", "ini", "diff"}
NO_RUN_CLASS = re.compile(r"^\{\s*\.(python|sh|bash)\s+\.no-run\s*\}$")
MARKER = re.compile(r"^<!--[-\s]*(pytest-codeblocks:|pytest\.mark\.)(.*?)[-\s]*-->$")
ALLOWED_MARKERS = {"cont", "expected-output"}
OPEN_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


class DocsError(Exception):
    """A problem in a page, reported as `path:line: message`."""

    def __init__(self, path: Path, line: int, message: str):
        super().__init__(f"{rel(path)}:{line}: {message}")


@dataclass
class Fence:
    line: int
    info: str
    kind: str  # run | output | non-run
    cont: bool = False  # chained to the previous unit with <!--pytest-codeblocks:cont-->
    body: str = ""  # the code, dedented like pytest-codeblocks does, ending in a newline


@dataclass
class Unit:
    """A runnable unit: what pytest-codeblocks runs as one test, and one snippet file."""

    page: Path
    fences: list[Fence]  # the first fence and its `cont` fences: one notebook cell each
    expected_output: str | None = None  # the ```text shown after it, if any

    @property
    def lineno(self) -> int:
        return self.fences[0].line

    @property
    def syntax(self) -> str:
        return self.fences[0].info

    @property
    def code(self) -> str:
        return "".join(f.body for f in self.fences)

    @property
    def where(self) -> str:
        return f"{rel(self.page)}:{self.lineno}"


def rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def pages(lang: str = "ko") -> list[Path]:
    return sorted((DOCS / lang).rglob("*.md"))


def chapter(page: Path) -> str:
    """A page's name without language and .md: "intro", "how-to/data"; the home page is "home"."""
    parts = list(page.relative_to(DOCS).with_suffix("").parts[1:])
    if parts == ["index"]:
        return "home"
    return "/".join(parts)


def lang_of(page: Path) -> str:
    """"ko" or "en": the language folder a page (or notebook) lives in."""
    return page.relative_to(DOCS).parts[0]


def twin(page: Path, lang: str) -> Path:
    """The same page in another language."""
    rest = page.relative_to(DOCS).parts[1:]
    return DOCS.joinpath(lang, *rest)


def scan_fences(page: Path) -> list[Fence]:
    """Every fence of a page, classified; raises DocsError on anything that would be
    skipped silently or that we don't know as never-run."""
    lines = page.read_text(encoding="utf-8").splitlines()
    fences: list[Fence] = []
    pending = None  # marker waiting for its fence: (keyword, line)
    i = 0
    while i < len(lines):
        text = lines[i].strip()
        n = i + 1
        m = MARKER.match(text)
        if m:
            prefix, keyword = m.groups()
            if prefix != "pytest-codeblocks:" or keyword not in ALLOWED_MARKERS:
                raise DocsError(
                    page,
                    n,
                    f"marker {text!r} is not allowed here; use "
                    "<!--pytest-codeblocks:cont--> or <!--pytest-codeblocks:expected-output--> "
                    "(no skips: a block that can't run in tests goes in a {.python .no-run} fence)",
                )
            pending = (keyword, n)
            i += 1
            continue
        if text.startswith("<!--") and "pytest" in text:
            raise DocsError(page, n, f"malformed pytest-codeblocks marker {text!r}")
        f = OPEN_FENCE.match(lines[i])
        if not f:
            if text and pending:
                raise DocsError(page, pending[1], "a marker must be followed by a fence")
            i += 1
            continue
        ticks, info = f.group(2), f.group(3).strip()
        if ticks[0] == "~":
            raise DocsError(page, n, "~~~ fences are invisible to pytest-codeblocks; use ```")
        keyword = pending[0] if pending else None
        if keyword == "expected-output":
            if info != "text":
                raise DocsError(page, n, f"an expected-output fence must be ```text, not ```{info}")
            kind = "output"
        elif info in RUN:
            kind = "run"
        elif keyword == "cont":
            raise DocsError(page, n, f"<!--pytest-codeblocks:cont--> before a ```{info} fence")
        elif info in NON_RUN or NO_RUN_CLASS.match(info):
            kind = "non-run"
        else:
            raise DocsError(
                page,
                n,
                f"fence ```{info} would be skipped silently by pytest-codeblocks; "
                "run it with ```python (no title, no options) or mark it "
                "```{.python .no-run} with the reason in the text",
            )
        if keyword == "cont" and info != "python":
            raise DocsError(page, n, "only ```python blocks can continue a unit")
        pending = None
        indent, body = len(f.group(1)), []
        i += 1
        while i < len(lines):  # up to the closing fence
            s = lines[i].lstrip()
            if s.startswith(ticks[0] * len(ticks)) and not s.strip(ticks[0]).strip():
                break
            cut = min(indent, len(lines[i]) - len(s))  # as pytest-codeblocks dedents
            body.append(lines[i][cut:] + "\n")
            i += 1
        else:
            raise DocsError(page, n, "fence is never closed")
        fences.append(Fence(n, info, kind, keyword == "cont", "".join(body)))
        i += 1
    if pending:
        raise DocsError(page, pending[1], "a marker at the end of the page has no fence")
    return fences


def all_units(page: Path) -> list[Unit]:
    """Every runnable unit of a page in order: ```python and ```sh/```bash."""
    out: list[Unit] = []
    for f in scan_fences(page):
        if f.kind == "run" and f.cont:
            out[-1].fences.append(f)
        elif f.kind == "run":
            out.append(Unit(page, [f]))
        elif f.kind == "output":
            out[-1].expected_output = f.body
    return out


def units(page: Path) -> list[Unit]:
    """The python units of a page: snippets and notebook code."""
    return [u for u in all_units(page) if u.syntax == "python"]


def codeblocks_units(page: Path) -> list[tuple[int, str, str, str | None]]:
    """The same units as pytest-codeblocks' own parser sees them (for the cross-check)."""
    from pytest_codeblocks import extract_from_file

    try:
        blocks = extract_from_file(page)
    except RuntimeError as e:
        raise DocsError(page, 0, f"pytest-codeblocks cannot parse this page: {e}") from e
    return [(b.lineno, b.syntax, b.code, b.expected_output) for b in blocks if b.syntax in RUN]


NOTEBOOKS = "notebooks"  # docs/<lang>/notebooks/<chapter>.ipynb


def notebook_path(page: Path) -> Path:
    """The notebook generated from a page (tools/make_notebooks.py)."""
    return DOCS / lang_of(page) / NOTEBOOKS / f"{chapter(page)}.ipynb"


RECORD = "pytorch_usage"  # notebook metadata: the run its outputs come from (seconds, machine)


def notebook_record(notebook: Path) -> dict | None:
    """The run a committed notebook's outputs come from (read as JSON: no nbformat needed)."""
    import json

    return json.loads(notebook.read_text(encoding="utf-8"))["metadata"].get(RECORD)


def url(page: Path) -> str:
    """Where a page is served inside a version folder: "", "intro/", "en/how-to/data/";
    a notebook (docs/<lang>/notebooks/x.ipynb) is served as a page too."""
    lang, *rest = page.relative_to(DOCS).with_suffix("").parts
    if rest == ["index"]:
        rest = []
    return "/".join((["en"] if lang == "en" else []) + rest + [""]).lstrip("/")


def heading_before(page: Path, line: int) -> str:
    """Text of the last Markdown heading above `line` (1-based)."""
    title, in_fence = page.stem, False
    for text in page.read_text(encoding="utf-8").splitlines()[: line - 1]:
        if text.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        m = re.match(r"^#{1,6}\s+(.*?)\s*(\{.*\})?\s*$", text)
        if m and not in_fence:
            title = m.group(1)
    return title
