"""Every runnable unit of every page, executed once per session by the one runner
(tools/run/runner.py): a chapter's units in page order in one process, as its notebook runs.

Each unit is its own test: it ran, printed exactly the output the page shows, saved figures
that match the stored ones, and (REQUIRE_CUDA=1, `make test-gpu`) allocated CUDA memory when it
picks a device. The committed notebooks carry the outputs of this same run (stale ones fail).
The English page's code and outputs equal the Korean page's (tests/test_docs.py compares the
text), so the Korean page is what runs. Like the runner, this file imports neither MkDocs nor
pytest-codeblocks: the GPU machine runs it alone.
"""

from __future__ import annotations

import json

import pytest

from tools.run import compat, runner
from tools.pages.docs_pages import ROOT, LANGS, all_units, chapter, notebook_path, pages, rel, twin

CHAPTERS = [p for p in pages("ko") if all_units(p)]
UNITS = [(page, i) for page in CHAPTERS for i in range(len(all_units(page)))]
CUDA_TIMINGS = ROOT / "build" / "timings-cuda.json"  # the GPU job's times, shown on the pages


def unit_id(param) -> str:
    page, i = param
    return f"{chapter(page)}:{all_units(page)[i].lineno}"


@pytest.fixture(scope="session")
def runs(chapter_runs):
    """The chapters this session selected (`-k rnn` runs the rnn chapter only), run once in the
    background from the moment the tests were collected (tests/conftest.py)."""
    if runner.CUDA:
        import torch

        device = torch.cuda.get_device_name(0)
        times = {chapter(p): {"seconds": round(r.seconds, 1), "device": device}
                 for p, r in chapter_runs.items() if not r.error and len(r.units) == len(all_units(p))}
        CUDA_TIMINGS.parent.mkdir(parents=True, exist_ok=True)
        CUDA_TIMINGS.write_text(json.dumps(times, indent=1, ensure_ascii=False))
    return chapter_runs


@pytest.mark.parametrize("unit", UNITS, ids=unit_id)
def test_unit(runs, unit):
    page, i = unit
    # outputs and figures are compared on the CPU only: CUDA numbers differ in the last digits
    found = runner.problems(all_units(page)[i], runs[page], i, compare=not runner.CUDA)
    assert not found, "\n".join(found)


EXERCISES = [(page, i) for page, i in UNITS if all_units(page)[i].check is not None]


@pytest.mark.parametrize("unit", EXERCISES, ids=lambda u: f"{chapter(u[0])}:exercise:{all_units(u[0])[u[1]].starter.line}")
def test_exercise(runs, unit):
    """Both directions: the check passes on the solution and fails on the starter (with the
    starter's exception or an assertion message), in a namespace of the starter's own."""
    page, i = unit
    found = runner.exercise_problems(all_units(page)[i], runs[page], i)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("page", CHAPTERS, ids=chapter)
def test_chapter_stayed_offline(runs, page):
    assert not runs[page].blocked, f"{rel(page)} tried the network: {runs[page].blocked}"


if not runner.CUDA:  # the notebooks keep the CPU run's outputs
    @pytest.mark.parametrize("page", CHAPTERS, ids=chapter)
    def test_notebook_outputs_are_this_run(runs, page):
        from tools.pages import make_notebooks

        run = runs[page]
        if len(run.units) != len(all_units(page)) or any(u.error for u in run.units):
            pytest.fail(f"{rel(page)} did not run to the end (see its units' tests)")
        # each cell with its unit: a unit whose output varies by CPU is compared within its tolerance
        cells = [(c, u) for u, r in zip(all_units(page), run.units) if u.syntax == "python" for c in r.cells]
        for lang in LANGS:
            notebook = notebook_path(twin(page, lang))
            stored = make_notebooks.stored_outputs(notebook)
            assert len(stored) == len(cells), f"{rel(notebook)} has other cells than the page: run `make outputs`"
            for n, (shown, (printed, unit)) in enumerate(zip(stored, cells), 1):
                diff = unit.tolerance.difference(shown, printed) if unit.tolerance else shown != printed
                assert not diff, (f"{rel(notebook)}, code cell {n} ({unit.where}): shows another output than this "
                                  f"run printed{': ' + diff if isinstance(diff, str) else ''}; run `make outputs`")


    @pytest.mark.parametrize("page", CHAPTERS, ids=chapter)
    def test_compat_result_of_the_pins_is_this_run(runs, page):
        """The install page's column for the pinned torch shows this run (tools/run/compat.py)."""
        stored = compat.pinned_results()["chapters"].get(chapter(page), {})
        now = compat.result(page, runs[page])
        keys = ("code", "units", "result", "unit", "first")
        assert {k: stored.get(k) for k in keys} == {k: now.get(k) for k in keys}, \
            f"{compat.rel(compat.pinned_file())} says otherwise for {rel(page)}: run `make outputs`"
