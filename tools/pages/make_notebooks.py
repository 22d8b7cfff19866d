"""Write a Jupyter notebook per chapter and language, generated from the page.

    python -m tools.pages.make_notebooks          # (re)write docs/<lang>/notebooks/<chapter>.ipynb
    python -m tools.pages.make_notebooks --check  # exit 1 and list what is out of date

Headings and prose become Markdown cells in the page's language; ```python blocks become
code cells in order, carrying what they printed in the one run (`make outputs` writes them,
tools/run/runner.py; `make snippets` keeps them while the code is unchanged); shown-output fences
are left out (the cells carry their outputs); other fences stay as code shown in Markdown. Material-only syntax is turned into plain Markdown
(admonitions and tabs into bold titles, annotation markers removed, snippet includes
inlined), and links point at the published site so they work in Colab. The first code
cell installs the pinned packages (tagged "install": the only cell the tests skip). The cells of an
output that varies by CPU are tagged "nbval-ignore-output": a reader's nbval run still runs them.
An exercise gives a starter cell and a check cell (tagged "raises-exception": it fails until the
reader solves it, and Jupyter's nbclient and nbval carry on past it), both without outputs; its
solution is the unit's code cell, collapsed (`jupyter.source_hidden`) under its "풀이"/"Solution" title.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

from tools.pages.docs_pages import (COMPAT_TABLE, DOCS, EXERCISE_CLASS, LANGS, MARKER, NOTEBOOKS, OPEN_FENCE, RECORD, ROOT,
                                    SOLUTION, VARIES, Tolerance, lang_of, notebook_path, pages, rel, slugify,
                                    twin, units, varies_note)
from tools.pages.docs_pages import url as page_url
from tools.pages import generated
from tools.facts import published_root, repo

INSTALL_TAG = "install"
VARIES_TAG = "nbval-ignore-output"
EXERCISE_TAGS = {"exercise": ["exercise"], "check": ["exercise-check", "raises-exception"]}
BLOCK_START = re.compile(r'^(\s*)(!!!|\?\?\?\+?|===)\s*([\w-]*)\s*(?:"(.*)")?\s*$')
INCLUDE = re.compile(r'^\s*--8<--\s*"([^"]+)"\s*$')
LINK = re.compile(r"(!?\[[^\]]*\])\(([^)\s]+)\)")
ANNOTATION = re.compile(r"\s*# \(\d+\)!?$")
# What the notebooks need beyond Colab's own Python: the exact versions this site was tested with.
PACKAGES = ("torch", "torchvision", "scikit-learn", "matplotlib", "tqdm", "faker")
# Only in the notebooks whose code uses them (the ONNX exporter needs onnx and onnxscript).
ONLY_WHERE_USED = ((re.compile(r"^\s*(import|from) onnx|torch\.onnx\.", re.M), ("onnx", "onnxscript", "onnxruntime")),
                   (re.compile(r"^\s*(import|from) tensorboard|torch\.utils\.tensorboard", re.M), ("tensorboard",)))
# The install page's table is made when the site is built: a notebook links to it instead.
TABLE_ON_SITE = {"ko": "장별 결과 표는 [사이트의 이 절]({link})에 있습니다.",
                 "en": "The table of results by chapter is in [this section on the site]({link})."}
INTRO = {"ko": "이 노트북은 [{src}]({url}) 페이지에서 생성되었습니다. 코드는 사이트의 테스트가 실행하는 코드와 같습니다. "
               "첫 셀은 사이트를 검증한 버전을 설치합니다.",
         "en": "This notebook is generated from the page [{src}]({url}); its code is the code the site's "
               "tests run. The first cell installs the versions the site was tested with."}


def pins(page: Path) -> str:
    """The exact versions a page's notebook installs (every package of PACKAGES, and the ONNX
    ones or tensorboard where its code uses them)."""
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    code = "".join(u.code for u in units(page))
    wanted = PACKAGES + tuple(p for uses, extra in ONLY_WHERE_USED if uses.search(code) for p in extra)
    found = [re.search(rf"^{p}==\S+", text, re.M) for p in wanted]
    return " ".join(m.group(0) for m in found if m)


def colab_url(page: Path) -> str:
    return f"https://colab.research.google.com/github/{repo()}/blob/main/{rel(notebook_path(page))}"


def site_url_of(page: Path, target: str) -> str:
    """Absolute URL on the published site for a link written relative to `page`."""
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    if resolved.suffix == ".md":
        url = page_url(resolved)
    else:  # a file: Korean ones at the root, English ones under en/, shared assets as they are
        url = resolved.relative_to(DOCS).as_posix().removeprefix("ko/")
    return published_root() + url + (f"#{anchor}" if anchor else "")


def absolute_links(page: Path, text: str) -> str:
    def fix(m):
        target = m.group(2)
        if re.match(r"^(https?:|mailto:)", target):  # in-page anchors too: heading ids differ in Jupyter
            return m.group(0)
        return f"{m.group(1)}({site_url_of(page, target)})"

    return LINK.sub(fix, text)


def plain_markdown(lines: list[str]) -> list[str]:
    """Admonitions and content tabs as bold titles with their bodies dedented."""
    out, stack = [], []  # stack of indents of open blocks
    for line in lines:
        indent = len(line) - len(line.lstrip())
        while stack and line.strip() and indent < stack[-1]:
            stack.pop()
        depth = 4 * len(stack)
        body = line[depth:] if line[:depth].strip() == "" else line.lstrip()
        if m := BLOCK_START.match(body):
            kind, title = m.group(3), m.group(4)
            out += [f"**{title or kind.capitalize()}**" if m.group(2) != "===" else f"**{title}**", ""]
            stack.append(depth + 4)
        else:
            out.append(body)
    return out


def cells_of(page: Path) -> list:
    lines = iter(plain_markdown(page.read_text(encoding="utf-8").splitlines()))
    cells, prose, pending, heading = [], [], None, None

    def flush():
        text = "\n".join(prose).strip("\n")
        if text.strip():
            cells.append(nbformat.v4.new_markdown_cell(absolute_links(page, text)))
        prose.clear()

    for line in lines:
        if SOLUTION.match(line.strip()):
            pending = "solution"
        elif m := MARKER.match(line.strip()) or VARIES.match(line.strip()):
            # the page model has checked the markers: each is one it knows
            pending = m.group(2) if m.re is MARKER else Tolerance.parse(m.group(1))
        elif line.strip() == COMPAT_TABLE:  # a link to the table under the heading above it
            link = f"{page.name}#{slugify()(heading.lstrip('#').strip(), '-')}"
            prose.append(TABLE_ON_SITE[lang_of(page)].format(link=link))
        elif not (f := OPEN_FENCE.match(line)):
            prose.append(line)
            heading = line if re.match(r"#{2,6} ", line) else heading
        else:
            ticks, info, body = f.group(2), f.group(3).strip(), []
            for b in lines:  # up to the closing fence
                if b.lstrip().startswith(ticks):
                    break
                inc = INCLUDE.match(b)
                body.extend((ROOT / inc.group(1)).read_text(encoding="utf-8").splitlines() if inc else [b])
            if pending == "expected-output":
                pass  # the notebook prints its own output
            elif isinstance(pending, Tolerance):  # an output that varies: the cell shows it, this says so
                prose.append(f"*{varies_note(lang_of(page), pending)}*")
            elif info == "python" or EXERCISE_CLASS.match(info):
                flush()
                cells.append(nbformat.v4.new_code_cell("\n".join(ANNOTATION.sub("", b) for b in body)))
                if EXERCISE_CLASS.match(info):  # the reader's cells: run by the reader, no stored output
                    cells[-1].metadata["tags"] = list(EXERCISE_TAGS[EXERCISE_CLASS.match(info).group(1)])
                elif pending == "solution":  # not spoiled: collapsed until the reader opens it
                    cells[-1].metadata["jupyter"] = {"source_hidden": True}
            else:
                lang = re.sub(r"^\{\s*\.(\w+).*\}$", r"\1", info)
                prose.extend([f"```{lang}", *body, "```"])
            pending = None
    flush()
    return cells


def notebook(page: Path):
    header = nbformat.v4.new_markdown_cell(INTRO[lang_of(page)].format(src=rel(page), url=site_url_of(page, page.name)))
    install = nbformat.v4.new_code_cell(f"%pip install --quiet {pins(page)}")
    install.metadata["tags"] = [INSTALL_TAG]
    body = cells_of(page)
    title, _, rest = body[0].source.partition("\n")  # the page's "# Title" comes first
    first = [nbformat.v4.new_markdown_cell(title), header, install]
    if rest.strip():
        first.append(nbformat.v4.new_markdown_cell(rest.strip("\n")))
    nb = nbformat.v4.new_notebook(cells=[*first, *body[1:]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["colab"] = {"provenance": []}
    for n, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{n}"
    # The cells of a unit whose output varies by CPU: nbval (a reader re-running the notebook
    # against its stored outputs) runs them without comparing what they print, as the page says.
    for cell, unit in zip(code_cells(nb), [u for u in units(page) for _ in u.fences]):
        if unit.tolerance:
            cell.metadata["tags"] = [VARIES_TAG]
    return nb


def code_cells(nb) -> list:
    """The cells that carry a unit's code and outputs (not the install cell, nor an exercise's
    starter and check, which the reader runs)."""
    skip = {INSTALL_TAG, "exercise", "exercise-check"}
    return [c for c in nb.cells if c.cell_type == "code" and not skip & set(c.metadata.get("tags", []))]


def fill(nb, printed: list[str], record: dict | None):
    """Put each code cell's printed text (stdout, as the runner captured it) into the notebook."""
    cells = code_cells(nb)
    assert len(cells) == len(printed), (len(cells), len(printed))
    for n, (cell, text) in enumerate(zip(cells, printed), 1):
        cell.execution_count = n
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)] if text else []
    if record:
        nb.metadata[RECORD] = record
    return nb


def printed(nb) -> list[str]:
    """What each code cell of a notebook printed (its stdout outputs; as a file stores it, a list of lines)."""
    return ["".join("".join(o.get("text", "")) for o in c.outputs if o.get("name") == "stdout")
            for c in code_cells(nb)]


def stored_outputs(path: Path) -> list[str]:
    """A committed notebook's printed(), read as plain JSON: five times faster than nbformat.read."""
    return printed(nbformat.from_dict(json.loads(path.read_text(encoding="utf-8"))))


def text(nb) -> str:
    """A notebook as its file holds it, checked against the nbformat 4 schema first."""
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def write_with_outputs(page: Path, outputs: list[str], record: dict) -> None:
    """make outputs: both languages' notebooks of a chapter, with this run's outputs."""
    for lang in LANGS:
        nb = fill(notebook(twin(page, lang)), outputs, record)
        generated.write_atomically(notebook_path(twin(page, lang)), text(nb))


def expected() -> dict[Path, str]:
    """Every notebook as the pages make it, carrying the committed outputs while its code is
    unchanged (else none: the tests then ask for `make outputs`)."""
    out = {}
    for page in [p for lang in LANGS for p in pages(lang) if units(p)]:
        nb, path = notebook(page), notebook_path(page)
        if path.exists():
            old = nbformat.read(path, as_version=4)
            if [c.source for c in code_cells(old)] == [c.source for c in code_cells(nb)]:
                fill(nb, printed(old), old.metadata.get(RECORD))
        out[path] = text(nb)
    return out


def main(argv: list[str] | None = None) -> int:
    return generated.main(argv, __doc__, "notebooks", "make snippets", expected,
                          lambda: [p for lang in LANGS for p in (DOCS / lang / NOTEBOOKS).rglob("*.ipynb")])


if __name__ == "__main__":
    sys.exit(main())
