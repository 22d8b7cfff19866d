"""pytest plugin for this site (loaded from pyproject.toml's addopts).

- docs/*.md code blocks run with plain `pytest` (turns on pytest-codeblocks' --codeblocks);
- no network: a test that tries an outbound connection fails, naming the host;
- docs python blocks run in a fresh temporary directory (like the snippet runner), and a
  PNG they save must match the stored figure (tools/figures.py);
- REQUIRE_CUDA=1 (`make test-gpu`): stop at once unless CUDA is really there;
- a closing summary of the docs' fences, so "0 silently skipped" is a number.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from tools import no_network


def pytest_configure(config):
    no_network.install()
    os.environ.setdefault("MPLBACKEND", "Agg")  # figures are saved, never shown
    # ```sh blocks say `python ...`: make that the interpreter running the tests (.venv's),
    # as it is for a reader who activated the venv.
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    if hasattr(config.option, "codeblocks"):
        config.option.codeblocks = True
    if os.environ.get("REQUIRE_CUDA") == "1":
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError(
                f"REQUIRE_CUDA=1 but torch {torch.__version__} sees no CUDA device "
                f"(torch.version.cuda={torch.version.cuda}); the GPU suite must run on a GPU"
            )


def is_docs_python(item) -> bool:
    return item.path.suffix == ".md" and getattr(getattr(item, "obj", None), "syntax", None) == "python"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    before = len(no_network.BLOCKED)
    if not is_docs_python(item):
        result = yield
    else:
        from tools import figures

        home, workdir = os.getcwd(), tempfile.mkdtemp(prefix="docs-block-")
        os.chdir(workdir)
        try:
            result = yield
            stale = figures.check(Path(item.path), Path(workdir))
            if stale:
                pytest.fail(f"{item.path.name}, {item.name}: " + "; ".join(stale), pytrace=False)
        finally:
            os.chdir(home)
            shutil.rmtree(workdir, ignore_errors=True)
    tried = no_network.BLOCKED[before:]
    if tried:
        pytest.fail("this test tried to reach the network: " + "; ".join(tried), pytrace=False)
    return result


def pytest_terminal_summary(terminalreporter, config):
    if not hasattr(config.option, "codeblocks"):
        return
    from tools.docs_pages import DocsError, pages, scan_fences, units

    kinds, n_units, errors = Counter(), 0, []
    for lang in ("ko", "en"):
        for page in pages(lang):
            try:
                for f in scan_fences(page):
                    kinds[f"{f.kind} {f.info}"] += 1
                n_units += len(units(page))
            except DocsError as e:
                errors.append(str(e))
    ran = Counter(
        r.outcome
        for key in ("passed", "failed", "skipped")
        for r in terminalreporter.stats.get(key, [])
        if getattr(r, "when", "call") == "call" and ".md::line " in r.nodeid
    )
    tr = terminalreporter
    tr.section("docs code blocks")
    tr.write_line(
        "fences: " + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items()))
        + f"; python units: {n_units}"
    )
    tr.write_line(
        f"run by pytest-codeblocks in this session: {sum(ran.values())} "
        f"(passed {ran['passed']}, failed {ran['failed']}, skipped {ran['skipped']})"
    )
    tr.write_line(f"fences that would be skipped silently or are malformed: {len(errors)}")
    for e in errors:
        tr.write_line(f"  {e}")
