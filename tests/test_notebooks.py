"""The notebooks readers download or open in Colab: generated from the pages, in sync,
valid nbformat 4, and they run top to bottom (all but the install cell) in a fresh
python3 kernel, offline, from an empty working directory."""

from __future__ import annotations

import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from tools import make_notebooks
from tools.docs_pages import DOCS, LANGS, ROOT

NOTEBOOKS = sorted(p for lang in LANGS for p in (DOCS / lang / make_notebooks.NOTEBOOKS).rglob("*.ipynb"))
TIMEOUT_S = 300


def test_notebooks_match_the_pages(capsys):
    assert make_notebooks.main(["--check"]) == 0, capsys.readouterr().out + "run `make snippets`"


def test_every_chapter_with_code_has_notebooks():
    assert set(make_notebooks.expected()) == set(NOTEBOOKS)


def execute(path: Path) -> str | None:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "install" in nb.cells[2].metadata.get("tags", []) and "%pip install" in nb.cells[2].source
    nb.cells = [c for c in nb.cells if "install" not in c.metadata.get("tags", [])]
    # the kernel gets the tests' network guard (tools/netguard) and the Agg backend
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(ROOT / "tools" / "netguard"), str(ROOT / "tools")]))
    with tempfile.TemporaryDirectory() as workdir:
        client = NotebookClient(nb, timeout=TIMEOUT_S, kernel_name="python3", allow_errors=False,
                                resources={"metadata": {"path": workdir}})
        try:
            client.execute(env=env)
        except Exception as e:  # CellExecutionError names the cell and shows the traceback
            return f"{path.relative_to(ROOT)}: {e}"
    return None


@pytest.fixture(scope="module")
def executed(request):
    selected = [item.callspec.params["path"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_notebook_runs"]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(selected, pool.map(execute, selected)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(DOCS)))
def test_notebook_runs(path, executed):
    assert executed[path] is None, executed[path]
