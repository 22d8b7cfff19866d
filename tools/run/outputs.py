"""make outputs: run the chapters once and write what they printed and drew back into the pages.

    python -m tools.run.outputs [PAGE ...]   (default: every Korean page with code)

Nothing is written unless every unit of every chapter ran (outputs may differ: that is what
this rewrites). Then, from that one run: each shown output in both languages' pages, the
figures under docs/assets/figures/, both languages' notebooks with their cells' outputs and the
run's record (seconds, machine), and the install page's result file for this torch
(tools/run/compat.py). `make outputs` regenerates snippets/ afterwards.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
from datetime import date
from importlib.metadata import version
from pathlib import Path

from tools.run import compat, runner
from tools.pages import figures, make_notebooks
from tools.pages.docs_pages import DocsError, all_units, rel, scan_fences, twin
from tools.pages.generated import write_atomically


def write_outputs(run: runner.ChapterRun) -> list[str]:
    """The shown outputs into both languages' pages, the figures, the notebooks."""
    page, said = run.page, []
    units = all_units(page)
    for r in run.units:
        if r.figures:
            said += [f"stored figure {rel(f)}" for f in figures.store(page, Path(r.figures[0]).parent)]
    for target in (page, twin(page, "en")):
        theirs = all_units(target)
        if [u.code for u in theirs] != [u.code for u in units]:
            raise DocsError(target, 0, f"its runnable blocks differ from {rel(page)}; fix parity first")
        text = replace_outputs(target, [r.output for u, r in zip(theirs, run.units) if u.expected_output is not None])
        write_atomically(target, text)
        said.append(f"updated {rel(target)}")
    cells = [c for u, r in zip(units, run.units) if u.syntax == "python" for c in r.cells]
    make_notebooks.write_with_outputs(page, cells, run_record(run))
    return said


def run_record(run: runner.ChapterRun) -> dict:
    """What the chapter's runtime line says (tools/site/chapter_header.py): this run's time, machine,
    PyTorch and day."""
    return {"seconds": round(run.seconds, 1), "machine": f"{os.cpu_count()}-core {platform.machine()} CPU",
            "torch": version("torch"), "date": date.today().isoformat()}


def replace_outputs(page: Path, outputs: list[str]) -> str:
    """The page's text with each shown output fence's body replaced, in order."""
    lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
    fences = [f for f in scan_fences(page) if f.kind == "output"]
    assert len(fences) == len(outputs), (page, len(fences), len(outputs))
    for f, new in sorted(zip(fences, outputs), key=lambda x: -x[0].line):
        opening = lines[f.line - 1]
        indent = opening[: len(opening) - len(opening.lstrip())]
        end = f.line + f.body.count("\n")  # index of the closing fence
        lines[f.line:end] = [indent + line + "\n" if line else "\n" for line in new.splitlines()]
    return "".join(lines)


def main(argv: list[str] | None = None) -> int:
    todo = runner.chapter_pages([Path(a) for a in (sys.argv[1:] if argv is None else argv)])
    keep = Path(tempfile.mkdtemp(prefix="chapters-"))
    try:
        runs, _, failed = runner.run_and_check(todo, None, keep, compare=False)
        if failed:
            print("\n\n".join(failed), file=sys.stderr)
            print(f"error: {len(failed)} problem(s); nothing was written", file=sys.stderr)
            return 1
        for run in runs.values():
            for line in write_outputs(run):
                print(line)
        if not runner.CUDA:  # the install page's column for this torch
            print(f"updated {rel(compat.write(runs))}")
    finally:
        shutil.rmtree(keep, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
