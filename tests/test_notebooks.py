"""The notebooks readers download or open in Colab: generated from the pages, in sync,
valid nbformat 4, and they run top to bottom (all but the install cell) in a fresh
python3 kernel, offline, from an empty working directory."""

from __future__ import annotations

import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from tools import make_notebooks
from tools.docs_pages import DOCS, LANGS, ROOT

NOTEBOOKS = sorted(p for lang in LANGS for p in (DOCS / lang / make_notebooks.NOTEBOOKS).rglob("*.ipynb"))
TIMEOUT_S = 300
CUDA = os.environ.get("REQUIRE_CUDA") == "1"
# The GPU job's run times, uploaded as an artifact and shown on the published chapters.
CUDA_TIMINGS = ROOT / "build" / "timings-cuda.json"


def test_notebooks_match_the_pages(capsys):
    assert make_notebooks.main(["--check"]) == 0, capsys.readouterr().out + "run `make snippets`"


def test_every_chapter_with_code_has_notebooks():
    assert set(make_notebooks.expected()) == set(NOTEBOOKS)


def execute(path: Path) -> tuple[str | None, float]:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "install" in nb.cells[2].metadata.get("tags", []) and "%pip install" in nb.cells[2].source
    nb.cells = [c for c in nb.cells if "install" not in c.metadata.get("tags", [])]
    # the kernel gets the tests' network guard (tools/netguard) and the Agg backend
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(ROOT / "tools" / "netguard"), str(ROOT / "tools")]))
    if not CUDA:  # notebooks run side by side: one thread each, or they fight for the cores
        env.setdefault("OMP_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory() as workdir:
        client = NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3", allow_errors=False,
                                resources={"metadata": {"path": workdir}})
        start = time.perf_counter()
        try:
            client.execute(env=env)
        except Exception as e:  # CellExecutionError names the cell and shows the traceback
            return f"{path.relative_to(ROOT)}: {e}", 0.0
    return None, time.perf_counter() - start


@pytest.fixture(scope="module")
def executed(request):
    selected = [item.callspec.params["path"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_notebook_runs"]
    # one at a time on a GPU, so that the times are the notebook's own
    with ThreadPoolExecutor(max_workers=1 if CUDA else os.cpu_count() or 2) as pool:
        results = dict(zip(selected, pool.map(execute, selected)))
    if CUDA:
        import torch

        device = torch.cuda.get_device_name(0)
        timings = {
            str(p.relative_to(DOCS / "ko" / make_notebooks.NOTEBOOKS).with_suffix("")):
                {"seconds": round(seconds, 1), "device": device}
            for p, (error, seconds) in results.items()
            if error is None and p.is_relative_to(DOCS / "ko")
        }
        CUDA_TIMINGS.parent.mkdir(parents=True, exist_ok=True)
        CUDA_TIMINGS.write_text(json.dumps(timings, indent=1, ensure_ascii=False))
    return results


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(DOCS)))
def test_notebook_runs(path, executed):
    error, _ = executed[path]
    assert error is None, error
