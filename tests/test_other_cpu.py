"""The outputs that vary by CPU (<!--output-varies: ±…--> on a page) hold on another CPU too.

tests/test_chapters.py runs every unit on this machine's CPU. An output that only holds on the
machine that wrote it would pass there and fail on a reader's laptop, so each unit whose output
declares a tolerance runs again as its standalone snippet, with PyTorch's and oneDNN's kernels
lowered to those of another CPU (tools/run/runner.py: OTHER_CPU). Its numbers must stay within the
tolerance the page states. Only these units run twice: the rest of the outputs are exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.run import chapter_cache, runner
from tools.pages.docs_pages import rel

VARYING = runner.varying_units()


def start_in_background(folder: Path):
    """Each varying unit's snippet under OTHER_CPU (tests/conftest.py starts this after the build).
    A result that held is kept (tools/run/chapter_cache.py) while the snippet and everything a
    chapter's run reads are unchanged: `make test` after an edit reruns only the edited units."""
    exec(open('/tmp/dbg.py').read(), {})
    cache = chapter_cache.folder()
    common = cache and chapter_cache.inputs(0, environ={**chapter_cache.ENVIRON, **runner.OTHER_CPU})
    results = {}
    for unit, snippet in VARYING:
        workdir = folder / snippet.stem
        workdir.mkdir()
        name = f"other-cpu-{snippet.parent.name}-{snippet.stem}"
        key = cache and chapter_cache.key(common, snippet)
        found, results[snippet] = chapter_cache.load_job(cache, name, key, workdir) if cache else (False, None)
        if not found:
            results[snippet] = printed, error = runner.run_on_other_cpu(snippet, workdir)
            if cache and error is None and unit.output_difference(printed) is None:
                chapter_cache.store_job(cache, name, key, workdir, results[snippet])
    return results


pytestmark = pytest.mark.background(start=start_in_background)  # tests/conftest.py runs it in the background
def test_there_are_varying_outputs_to_check():
    assert VARYING, "no page declares an output that varies by CPU: is the marker still read?"


@pytest.mark.parametrize("unit, snippet", VARYING, ids=lambda x: getattr(x, "where", None) or x.stem)
def test_varying_output_holds_on_another_cpu(started_here, unit, snippet):
    printed, error = started_here[snippet]
    env = " ".join(f"{k}={v}" for k, v in runner.OTHER_CPU.items())
    assert error is None, f"{unit.where}: {rel(snippet)} failed with {env}\n{error}"
    diff = unit.output_difference(printed)
    assert diff is None, f"{unit.where}: with {env} the output is outside {unit.tolerance}: {diff}"
