"""pytest plugin for this site (loaded from pyproject.toml's addopts).

- no network: a test that tries an outbound connection fails, naming the host;
- REQUIRE_CUDA=1 (`make test-gpu`): stop at once unless CUDA is really there;
- `pytest --codeblocks docs/ko/<page>.md` (a reader running one page's blocks): each python
  block runs in a fresh temporary directory, so the files it saves don't land in the checkout;
- a closing summary of the docs' fences and units, so "0 skipped silently" is a number.

`make test` runs the pages' code through tools/run/runner.py (tests/test_chapters.py), once.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from tools.run import no_network


def pytest_configure(config):
    no_network.install()
    os.environ.setdefault("MPLBACKEND", "Agg")  # figures are saved, never shown
    # ```sh blocks say `python ...`: make that the interpreter running the tests (.venv's),
    # as it is for a reader who activated the venv.
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    if os.environ.get("REQUIRE_CUDA") == "1":
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError(
                f"REQUIRE_CUDA=1 but torch {torch.__version__} sees no CUDA device "
                f"(torch.version.cuda={torch.version.cuda}); the GPU suite must run on a GPU"
            )


def _in_git_bash(block) -> None:
    """```sh blocks are POSIX shell; subprocess's shell on Windows is cmd.exe. There they run in
    the bash of Git for Windows, as a Windows reader pastes them into Git Bash."""
    git = shutil.which("git")
    bash = Path(git).resolve().parent.parent / "bin" / "bash.exe" if git else None
    if not bash or not bash.exists():
        pytest.fail("```sh blocks need a POSIX shell: install Git for Windows (its bash runs them)", pytrace=False)
    script = Path(tempfile.mkdtemp(prefix="docs-sh-")) / "block.sh"
    script.write_text(block.code, encoding="utf-8", newline="\n")
    block.code, block.syntax = f'"{bash}" "{script}"', "sh"


_page = [None]


def _new_page(path: Path) -> None:
    """A page's figures are closed when the next page starts, as each notebook gets a kernel of
    its own: one process running every page opened more than matplotlib's 20 and warned."""
    if path != _page[0] and "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    _page[0] = path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    before = len(no_network.BLOCKED)
    if sys.platform == "win32" and item.path.suffix == ".md" and getattr(item.obj, "syntax", None) in ("sh", "bash"):
        _in_git_bash(item.obj)
    if item.path.suffix == ".md" and getattr(getattr(item, "obj", None), "syntax", None) == "python":
        _new_page(item.path)
        home, workdir = os.getcwd(), tempfile.mkdtemp(prefix="docs-block-")
        os.chdir(workdir)
        try:
            result = yield
        finally:
            os.chdir(home)
            shutil.rmtree(workdir, ignore_errors=True)
    else:
        result = yield
    tried = no_network.BLOCKED[before:]
    if tried:
        pytest.fail("this test tried to reach the network: " + "; ".join(tried), pytrace=False)
    return result


def pytest_terminal_summary(terminalreporter, config):
    from tools.pages.docs_pages import DocsError, all_units, pages, scan_fences

    kinds, n_units, n_exercises, errors = Counter(), Counter(), Counter(), []
    for lang in ("ko", "en"):
        for page in pages(lang):
            try:
                for f in scan_fences(page):
                    kinds[f"{f.kind} {f.info}"] += 1
                n_units[lang] += len(all_units(page))
                n_exercises[lang] += sum(u.check is not None for u in all_units(page))
            except DocsError as e:
                errors.append(str(e))
    ran = Counter(
        r.outcome
        for key in ("passed", "failed", "skipped")
        for r in terminalreporter.stats.get(key, [])
        if getattr(r, "when", "call") == "call" and "test_chapters.py::test_unit[" in r.nodeid
    )
    tr = terminalreporter
    tr.section("docs code blocks")
    tr.write_line("fences: " + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())))
    tr.write_line(f"runnable units: ko {n_units['ko']}, en {n_units['en']} (the same code: the ko page runs)")
    tr.write_line(f"exercises: ko {n_exercises['ko']}, en {n_exercises['en']} "
                  "(each proven both ways by tools/run/runner.py: tests/test_chapters.py::test_exercise)")
    tr.write_line(
        f"units checked against tools/run/runner.py's runs: {sum(ran.values())} "
        f"(passed {ran['passed']}, failed {ran['failed']}, skipped {ran['skipped']})"
    )
    tr.write_line(f"fences that would be skipped silently or are malformed: {len(errors)}")
    for e in errors:
        tr.write_line(f"  {e}")
