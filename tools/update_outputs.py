"""Rewrite the outputs shown on the pages from a real run (pydantic's --update-examples idea).

    python tools/update_outputs.py [docs/ko/tensors.md ...]   # default: every page

Every unit of the page is run the way our pytest setup runs it (exec in a fresh namespace,
stdout captured, a fresh temporary working directory). The ```text fence after each
<!--pytest-codeblocks:expected-output--> marker is replaced with what its unit printed, and
every PNG a unit saved is stored as a figure (tools/figures.py). The Korean page is run;
its English twin gets the same outputs (the code is identical). Nothing is written unless
every unit of the page ran.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import figures  # noqa: E402
from tools.docs_pages import ROOT, DocsError, pages, rel, twin, units  # noqa: E402

MARKER = "<!--pytest-codeblocks:expected-output-->"


def run_unit(code: str, workdir: Path) -> str:
    out, home = io.StringIO(), os.getcwd()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<docs block>", "exec"), {"__MODULE__": "__main__"})
    finally:
        os.chdir(home)
    return out.getvalue()


def replace_outputs(page: Path, outputs: list[str]) -> str:
    lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
    result, k, i = [], 0, 0
    while i < len(lines):
        result.append(lines[i])
        if lines[i].strip() != MARKER:
            i += 1
            continue
        i += 1
        while not lines[i].strip():  # blank lines between marker and fence
            result.append(lines[i])
            i += 1
        opening = lines[i]
        indent = opening[: len(opening) - len(opening.lstrip())]
        result.append(opening)
        i += 1
        while lines[i].strip() != opening.strip()[:3]:  # the closing ```
            i += 1
        result.extend(indent + line + "\n" if line else "\n" for line in outputs[k].splitlines())
        result.append(lines[i])
        k += 1
        i += 1
    return "".join(result)


def update(page: Path) -> None:
    shown, outputs, workdirs = [], [], []
    try:
        for u in units(page):
            workdirs.append(Path(tempfile.mkdtemp(prefix="docs-block-")))
            try:
                printed = run_unit(u.code, workdirs[-1])
            except Exception:
                raise DocsError(page, u.lineno, "block failed:\n" + traceback.format_exc()) from None
            if u.expected_output is not None:
                shown.append(u)
                outputs.append(printed)
        for w in workdirs:
            for fig in figures.store(page, w):
                print(f"stored figure {rel(fig)}")
    finally:
        for w in workdirs:
            shutil.rmtree(w, ignore_errors=True)
    for target in (page, twin(page, "en")):
        if not target.exists():
            continue
        theirs = [u.code for u in units(target) if u.expected_output is not None]
        if theirs != [u.code for u in shown]:
            raise DocsError(target, 0, f"its python blocks differ from {rel(page)}; fix parity first")
        target.write_text(replace_outputs(target, outputs), encoding="utf-8")
        print(f"updated {len(outputs)} outputs in {rel(target)}")


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    os.environ.setdefault("MPLBACKEND", "Agg")
    todo = [Path(a).resolve() for a in argv] or pages("ko")
    for page in todo:
        if "/docs/ko/" not in page.as_posix():
            print(f"error: {page}: give a Korean page (docs/ko/...), its twin follows", file=sys.stderr)
            return 2
        try:
            update(page)
        except DocsError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
