"""The notebooks readers download or open in Colab: generated from the pages, in sync,
valid nbformat 4, carrying the outputs of the one run (tests/test_chapters.py compares
them), and runnable in a real Jupyter kernel the way Colab runs them."""

from __future__ import annotations

import nbformat
import pytest

from tools.pages import make_notebooks
from tools.run import no_network
from tools.pages.docs_pages import DOCS, LANGS, rel

NOTEBOOKS = sorted(p for lang in LANGS for p in (DOCS / lang / make_notebooks.NOTEBOOKS).rglob("*.ipynb"))
# The runner proves every notebook's code by running it as the kernel would; this one runs
# in a real ipykernel too, so "a notebook is a thing Jupyter runs" stays proven. The smallest
# chapter keeps it cheap.
IN_A_KERNEL = DOCS / "ko" / make_notebooks.NOTEBOOKS / "intro.ipynb"


def test_notebooks_match_the_pages(capsys):
    assert make_notebooks.main(["--check"]) == 0, capsys.readouterr().out + "run `make snippets`"


def test_every_chapter_with_code_has_notebooks_that_validate():
    assert set(make_notebooks.expected()) == set(NOTEBOOKS)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        install = nb.cells[2]
        assert "install" in install.metadata.get("tags", []) and "%pip install" in install.source, rel(path)


def run_in_a_kernel(folder):
    """IN_A_KERNEL, its install cell left out, executed in a real kernel (in the background:
    tests/conftest.py)."""
    from nbclient import NotebookClient

    nb = nbformat.read(IN_A_KERNEL, as_version=4)
    nb.cells = [c for c in nb.cells if make_notebooks.INSTALL_TAG not in c.metadata.get("tags", [])]
    env = no_network.guarded_env(MPLBACKEND="Agg")  # the kernel runs with the tests' network guard
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(folder)}}).execute(env=env)
    return nb


pytestmark = pytest.mark.background(start=run_in_a_kernel, cache=True, reads=[IN_A_KERNEL])  # kept: tests/conftest.py


def test_a_notebook_runs_in_a_jupyter_kernel_with_its_stored_outputs(started_here):
    assert make_notebooks.printed(started_here) == make_notebooks.stored_outputs(IN_A_KERNEL)
