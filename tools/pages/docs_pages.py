"""The page model: every tool and test reads a page through this module, parsed once.

A page is a list of fences (with their bodies, dedented as pytest-codeblocks dedents them)
grouped into runnable units: a ```python or ```sh block, the ```python blocks chained to it
with <!--pytest-codeblocks:cont-->, and the ```text block shown as its output. An exercise is
three fences and one marker: a ```{.python .exercise} starter, a ```{.python .check} check
(both never run by pytest-codeblocks: the check must fail on the starter), then
<!--solution--> and the solution, an ordinary ```python unit that carries the two. The fence
guard raises on anything pytest-codeblocks would skip silently (`~~~`, `py`, titles…), and
tests/test_docs.py checks the units against pytest-codeblocks' own parser, so what we run,
extract and compare is exactly what `pytest --codeblocks` runs. Page → URL lives here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

from tools.facts import DOCS, ROOT  # noqa: F401  (ROOT: the page model's users read it here)

LANGS = ("ko", "en")  # ko is the source language; en must mirror it

RUN = {"python", "sh", "bash"}  # exactly what pytest-codeblocks executes
# Fences that are never run. "{.python .no-run}" shows Python code that must not run in
# tests (downloads, GPU-only steps); the page says why next to it.
NON_RUN = {"text", "mermaid"}  # the languages pages use; add one here when a page needs it
NO_RUN_CLASS = re.compile(r"^\{\s*\.(python|sh|bash)\s+\.no-run\s*\}$")
MARKER = re.compile(r"^<!--[-\s]*(pytest-codeblocks:|pytest\.mark\.)(.*?)[-\s]*-->$")
ALLOWED_MARKERS = {"cont", "expected-output"}
# An output that depends on the CPU (training results, long float sums): shown after
# <!--output-varies: ±0.03--> (numbers with a decimal point), <!--output-varies: ±12-->
# (integers) or both, comma-separated, instead of pytest-codeblocks' expected-output marker, so a
# reader's `pytest --codeblocks` never compares it exactly. Our runner compares its numbers
# within the tolerance written there and the rest of its text exactly; the site and the
# notebooks say under the output that it varies (varies_note).
VARIES = re.compile(r"^<!--\s*output-varies:\s*(.*?)\s*-->$")
# An exercise (README "Working on a page"): the starter the reader copies, the check that must
# fail on it (the runner proves that, in a namespace of its own), and after <!--solution--> the
# solution: a ```python unit, so a reader's `pytest --codeblocks` runs it like any other block.
EXERCISE_CLASS = re.compile(r"^\{\s*\.python\s+\.(exercise|check)\s*\}$")
COMPAT_TABLE = "<!-- torch-compat-table -->"  # the install page's table of torch versions (tools/run/compat.py)
SOLUTION = re.compile(r"^<!--\s*solution\s*-->$")
OPEN_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


class DocsError(Exception):
    """A problem in a page, reported as `path:line: message`."""

    def __init__(self, path: Path, line: int, message: str):
        super().__init__(f"{rel(path)}:{line}: {message}")


NUMBER = re.compile(r"((?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)")


@dataclass(frozen=True)
class Tolerance:
    """How far each number of a varying output may move: `decimals` for numbers written with
    a decimal point, `integers` for the others (0: exact)."""

    decimals: float = 0.0
    integers: int = 0

    @classmethod
    def parse(cls, text: str) -> Tolerance:
        decimals, integers = 0.0, 0
        for part in text.split(","):
            m = re.fullmatch(r"\s*±\s*(\d+(\.\d+)?)\s*", part)
            if not m:
                raise ValueError(f"{part.strip()!r} is not a tolerance like ±0.03 or ±12")
            if m.group(2):
                decimals = float(m.group(1))
            else:
                integers = int(m.group(1))
        if not (decimals or integers):
            raise ValueError("a tolerance of 0 is an exact output: use <!--pytest-codeblocks:expected-output-->")
        return cls(decimals, integers)

    def __str__(self) -> str:
        return ", ".join(s for s in (self.decimals and f"±{self.decimals:g}", self.integers and f"±{self.integers}") if s)

    def difference(self, shown: str, printed: str) -> str | None:
        """None when `printed` is `shown` with each number within its tolerance (and
        whitespace around numbers free to move); else the first difference, in one line."""
        a, b = shown.splitlines(), printed.splitlines()
        for n, (x, y) in enumerate(zip(a, b), 1):
            xs, ys = NUMBER.split(x), NUMBER.split(y)
            same_text = len(xs) == len(ys) and all(" ".join(p.split()) == " ".join(q.split())
                                                   for p, q in zip(xs[::2], ys[::2]))
            if not same_text:
                return f"output line {n}: shows {x.strip()!r}, printed {y.strip()!r}"
            for p, q in zip(xs[1::2], ys[1::2]):
                room = self.decimals if re.search(r"[.e]", p) else self.integers
                if abs(float(p) - float(q)) > room + 1e-12:
                    apart = f"more than ±{room:g} apart" if room else "and this number must match exactly"
                    return (f"output line {n}: {q} printed where {p} is shown, {apart} "
                            f"(shows {x.strip()!r}, printed {y.strip()!r})")
        if len(a) != len(b):
            return f"output has {len(b)} lines, {len(a)} shown"
        return None


def exact_difference(shown: str, printed: str) -> str | None:
    if shown == printed:
        return None
    a, b = shown.splitlines(), printed.splitlines()
    for n, (x, y) in enumerate(zip(a, b), 1):
        if x != y:
            return f"output line {n}: shows {x.strip()!r}, printed {y.strip()!r}"
    n = min(len(a), len(b)) + 1
    if len(a) == len(b):
        return "the output differs in its line endings"
    return f"output line {n}: " + (f"shows {a[n - 1].strip()!r}, printed nothing" if len(a) > len(b)
                                   else f"shows nothing, printed {b[n - 1].strip()!r}")


VARIES_NOTE = {  # the note, then how decimals and whole numbers move
    "ko": ("이 출력의 숫자는 CPU와 PyTorch 빌드에 따라 달라질 수 있습니다({} 이내).", "소수는 {}", "정수는 {}"),
    "en": ("The numbers in this output can differ with the CPU and the PyTorch build ({}).",
           "decimals by up to {}", "whole numbers by up to {}"),
}


def varies_note(lang: str, tolerance: Tolerance) -> str:
    """The one line that tells a reader an output varies, and by how much (site and notebook)."""
    note, decimals, integers = VARIES_NOTE[lang]
    parts = [decimals.format(f"±{tolerance.decimals:g}")] * bool(tolerance.decimals)
    parts += [integers.format(f"±{tolerance.integers}")] * bool(tolerance.integers)
    return note.format(", ".join(parts))


@dataclass(frozen=True)
class Fence:
    line: int
    info: str
    kind: str  # run | output | non-run
    cont: bool = False  # chained to the previous unit with <!--pytest-codeblocks:cont-->
    body: str = ""  # the code, dedented like pytest-codeblocks does, ending in a newline
    tolerance: Tolerance | None = None  # an output shown after <!--output-varies: ...-->
    solution: bool = False  # a ```python fence after <!--solution-->: an exercise's solution


@dataclass
class Unit:
    """A runnable unit: what pytest-codeblocks runs as one test, and one snippet file."""

    page: Path
    fences: list[Fence]  # the first fence and its `cont` fences: one notebook cell each
    expected_output: str | None = None  # the ```text shown after it, if any
    tolerance: Tolerance | None = None  # set when that output varies by CPU (VARIES)
    starter: Fence | None = None  # set on an exercise's solution: its ```{.python .exercise}
    check: Fence | None = None  # ... and its ```{.python .check}

    @property
    def exercise(self) -> str | None:
        """For an exercise's solution: "page.md, exercise "<heading>" (line N)", the name a failure uses."""
        if self.starter is None:
            return None
        return f'{rel(self.page)}, exercise "{heading_before(self.page, self.starter.line)}" (line {self.starter.line})'

    def output_difference(self, printed: str) -> str | None:
        """None when `printed` is what the page shows (within its tolerance); else the first
        difference in one line."""
        if self.expected_output is None:
            return None
        if self.tolerance:
            return self.tolerance.difference(self.expected_output, printed)
        return exact_difference(self.expected_output, printed)

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

    @property
    def code_with_scripts(self) -> str:
        """The unit's code, and for an ```sh unit the snippets/ scripts it starts."""
        if self.syntax == "python":
            return self.code
        return self.code + "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "snippets").rglob("*.py"))
                                   if p.relative_to(ROOT).as_posix() in self.code)


def rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def pages(lang: str = "ko") -> list[Path]:
    return sorted((DOCS / lang).rglob("*.md"))


def chapter(page: Path) -> str:
    """A page's name without language and .md: "intro", "how-to/data"; the home page is "home"."""
    parts = page.relative_to(DOCS).with_suffix("").parts[1:]
    return "home" if parts == ("index",) else "/".join(parts)


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
    return list(_scan_fences(page, page.read_text(encoding="utf-8")))


@lru_cache(maxsize=512)  # a test session reads each page's fences about ten times
def _scan_fences(page: Path, text: str) -> tuple[Fence, ...]:
    numbered = enumerate(text.splitlines(), 1)
    fences: list[Fence] = []
    pending = None  # marker waiting for its fence: (keyword, line, tolerance)
    exercise = None  # the exercise fences seen so far, waiting for the rest: ("starter"|"check", line)
    for n, line in numbered:
        text = line.strip()
        if v := VARIES.match(text):
            try:
                pending = ("varies", n, Tolerance.parse(v.group(1)))
            except ValueError as e:
                raise DocsError(page, n, f"output-varies marker: {e}") from None
            continue
        if SOLUTION.match(text):
            pending = ("solution", n, None)
            continue
        if m := MARKER.match(text):
            prefix, keyword = m.groups()
            if prefix != "pytest-codeblocks:" or keyword not in ALLOWED_MARKERS:
                raise DocsError(page, n, f"marker {text!r} is not allowed here; use "
                                "<!--pytest-codeblocks:cont--> or <!--pytest-codeblocks:expected-output--> "
                                "(no skips: a block that can't run in tests goes in a {.python .no-run} fence)")
            pending = (keyword, n, None)
            continue
        if text.startswith("<!--") and "pytest" in text:
            raise DocsError(page, n, f"malformed pytest-codeblocks marker {text!r}")
        f = OPEN_FENCE.match(line)
        if not f:
            if text and pending:
                raise DocsError(page, pending[1], "a marker must be followed by a fence")
            continue
        ticks, info = f.group(2), f.group(3).strip()
        if ticks[0] == "~":
            raise DocsError(page, n, "~~~ fences are invisible to pytest-codeblocks; use ```")
        keyword, tolerance = (pending[0], pending[2]) if pending else (None, None)
        if keyword in ("expected-output", "varies"):
            if info != "text":
                raise DocsError(page, n, f"a shown output's fence must be ```text, not ```{info}")
            kind = "output"
        elif info in RUN:
            kind = "run"
        elif keyword == "cont":
            raise DocsError(page, n, f"<!--pytest-codeblocks:cont--> before a ```{info} fence")
        elif keyword == "solution":
            raise DocsError(page, n, f"<!--solution--> before a ```{info} fence; a solution is a ```python fence")
        elif EXERCISE_CLASS.match(info):
            kind = "starter" if EXERCISE_CLASS.match(info).group(1) == "exercise" else "check"
        elif info in NON_RUN or NO_RUN_CLASS.match(info):
            kind = "non-run"
        else:
            raise DocsError(page, n, f"fence ```{info} would be skipped silently by pytest-codeblocks; "
                            "run it with ```python (no title, no options) or mark it "
                            "```{.python .no-run} with the reason in the text")
        if keyword == "cont" and info != "python":
            raise DocsError(page, n, "only ```python blocks can continue a unit")
        # an exercise is exactly: starter, check, <!--solution--> ```python (other fences between are errors)
        want = {None: "starter", "starter": "check", "check": "solution"}[exercise[0] if exercise else None]
        got = "solution" if keyword == "solution" else kind
        if exercise and got != want and not (want == "solution" and kind == "non-run"):
            raise DocsError(page, exercise[1], f"an exercise's {exercise[0]} fence must be followed by its {want} "
                            + ("(<!--solution--> and a ```python fence)" if want == "solution" else
                               "(a ```{.python .check} fence)") + f", found ```{info} at line {n}")
        if not exercise and got in ("check", "solution"):
            raise DocsError(page, n, f"a {got} without its exercise: a ```{{.python .exercise}} starter comes first")
        exercise = None if got == "solution" else (got, n) if got in ("starter", "check") else exercise
        pending = None
        indent, body = len(f.group(1)), []
        for _, inner in numbered:  # up to the closing fence
            s = inner.lstrip()
            if s.startswith(ticks[0] * len(ticks)) and not s.strip(ticks[0]).strip():
                break
            cut = min(indent, len(inner) - len(s))  # as pytest-codeblocks dedents
            body.append(inner[cut:] + "\n")
        else:
            raise DocsError(page, n, "fence is never closed")
        fences.append(Fence(n, info, kind, keyword == "cont", "".join(body), tolerance, keyword == "solution"))
    if pending:
        raise DocsError(page, pending[1], "a marker at the end of the page has no fence")
    if exercise:
        raise DocsError(page, exercise[1], f"an exercise's {exercise[0]} fence has no solution after it")
    return tuple(fences)


def all_units(page: Path) -> list[Unit]:
    """Every runnable unit of a page in order: ```python and ```sh/```bash."""
    out: list[Unit] = []
    exercise: list[Fence] = []  # the starter and check waiting for their solution
    for f in scan_fences(page):
        if f.kind == "run" and f.cont:
            out[-1].fences.append(f)
        elif f.kind == "run":
            out.append(Unit(page, [f]))
            if f.solution:
                out[-1].starter, out[-1].check = exercise
        elif f.kind == "output":
            out[-1].expected_output, out[-1].tolerance = f.body, f.tolerance
        elif f.kind in ("starter", "check"):
            exercise = [f] if f.kind == "starter" else [*exercise, f]
    return out


def exercises(page: Path) -> list[Unit]:
    """A page's exercises, each as its solution's unit (with .starter and .check)."""
    return [u for u in all_units(page) if u.check is not None]


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
    """The notebook generated from a page (tools/pages/make_notebooks.py)."""
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


class Heading(NamedTuple):
    line: int
    level: int  # 1 for "#", 2 for "##"...
    text: str  # without a trailing {#id .class} attribute list
    anchor: str  # as MkDocs makes it


HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(?:\{[^}]*\})?\s*$")
FENCE_TICKS = re.compile(r"^\s*(`{3,})")


def outside_fences(text: str):
    """(line number, line) of every line of a page that is not fenced code nor a fence."""
    fence = None
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE_TICKS.match(line)
        if m and (fence is None or m.group(1).startswith(fence)):
            fence = None if fence else m.group(1)
        elif not fence:
            yield n, line


@cache
def slugify():
    """MkDocs' heading ids (mkdocs.yml: toc slugify)."""
    from pymdownx.slugs import slugify

    return slugify(case="lower")


def headings(page: Path) -> list[Heading]:
    """Every Markdown heading of a page, in order, outside fences."""
    out, seen = [], set()
    for n, line in outside_fences(page.read_text(encoding="utf-8")):
        if h := HEADING.match(line):
            anchor = base = slugify()(re.sub(r"<[^>]+>", "", h.group(2).replace("`", "")), "-")
            k = 0
            while anchor in seen:  # Python-Markdown's toc makes repeated anchors unique this way
                k += 1
                anchor = f"{base}_{k}"
            seen.add(anchor)
            out.append(Heading(n, len(h.group(1)), h.group(2), anchor))
    return out


def heading_before(page: Path, line: int) -> str:
    """Text of the last Markdown heading above `line` (1-based)."""
    return next((h.text for h in reversed(headings(page)) if h.line < line), page.stem)
