"""The notebook-view cache (tools/site/notebook_cache.py) can't serve a stale view.

A view is rendered again when the notebook, an installed renderer's version or a template
changes; a build that takes every view from the cache is byte for byte the publish build,
which rendered the views the cache lacked. The same holds for highlighted code blocks
(tools/site/highlight_cache.py), kept in the same folder.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from mkdocs_jupyter import nbconvert2

from tools import facts
from tools.site import highlight_cache, notebook_cache
from tools.checks import bench
from tools.pages.docs_pages import DOCS, ROOT

NOTEBOOK = DOCS / "ko" / "notebooks" / "intro.ipynb"  # the smallest
OPTIONS = {"remove_tag_config": {"remove_cell_tags": ["install"]}, "custom_mathjax_url": ""}


@pytest.fixture
def notebook(tmp_path):
    (tmp_path / "nb").mkdir()
    return Path(shutil.copy(NOTEBOOK, tmp_path / "nb"))


@pytest.fixture
def counted(tmp_path):
    """A cached nb2html over a fresh folder, and the list of the renders it really made."""
    renders = []

    def render(path, **kw):
        renders.append(path)
        return nbconvert2.nb2html(path, **kw)

    def cached():  # a new ViewCache: the renderer's fingerprint is taken again
        return notebook_cache.ViewCache(tmp_path / "views").wrap("nb2html", render)

    return cached, renders


def test_same_inputs_render_once_and_give_the_renderers_view(notebook, counted):
    cached, renders = counted
    first = cached()(notebook, **OPTIONS)
    again = cached()(notebook, **OPTIONS)
    assert len(renders) == 1
    assert first == again == nbconvert2.nb2html(notebook, **OPTIONS)


def test_a_block_is_highlighted_once_per_code_lexer_and_formatter(tmp_path, monkeypatch):
    """The HTML pymdownx gets is pygments'; the same code, lexer and formatter again come from
    the cache, and other code, another lexer option or another formatter option do not."""
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    from pymdownx import highlight

    monkeypatch.setenv("NOTEBOOK_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(highlight_cache, "_cache", {})
    highlight_cache.on_config(SimpleNamespace(config_file_path=str(ROOT / "mkdocs.yml")))
    for code, lexer, formatter in [("x = 1", {}, {}), ("x = 1", {}, {}), ("x = 2", {}, {}),
                                   ("x = 1", {"stripnl": False}, {}), ("x = 1", {}, {"linenos": "table"})]:
        html = highlight.highlight(code, PythonLexer(**lexer), HtmlFormatter(**formatter))
        assert html == highlight.highlight.__wrapped__(code, PythonLexer(**lexer), HtmlFormatter(**formatter))
    assert highlight_cache._cache["counts"] == [1, 4]  # from the cache, highlighted


# What changes a view, each made after a first render: (render options, text the new view shows)

def edit_the_notebook(notebook, tmp_path, monkeypatch):
    nb = nbformat.read(notebook, as_version=4)
    next(c for c in nb.cells if c.cell_type == "markdown").source += "\n\nA sentence the cache has not seen."
    nbformat.write(nb, notebook)
    return OPTIONS, "A sentence the cache has not seen."


def other_render_options(notebook, tmp_path, monkeypatch):
    return {**OPTIONS, "no_prompt": True}, None


def another_renderer_version(notebook, tmp_path, monkeypatch):
    """pip installing another nbconvert replaces its metadata folder; the key reads those."""
    (tmp_path / "site-packages" / "nbconvert-99.0.0.dist-info").mkdir(parents=True)
    monkeypatch.setattr(facts, "IMPORT_PATH", [str(tmp_path / "site-packages"), *facts.IMPORT_PATH])
    return OPTIONS, None


def a_changed_template(notebook, tmp_path, monkeypatch):
    """A template override where nbconvert looks for templates (JUPYTER_PATH)."""
    from jupyter_core.paths import jupyter_path

    lab = next(Path(p) / "lab" for p in jupyter_path("nbconvert", "templates") if (Path(p) / "lab").is_dir())
    override = tmp_path / "jupyter" / "nbconvert" / "templates" / "lab" / "base.html.j2"
    override.parent.mkdir(parents=True)
    text = (lab / "base.html.j2").read_text(encoding="utf-8")
    block = "{% block markdowncell scoped %}"
    assert block in text
    override.write_text(text.replace(block, block + "<!-- overridden -->"), encoding="utf-8")
    monkeypatch.setenv("JUPYTER_PATH", str(override.parents[3]))
    return OPTIONS, "<!-- overridden -->"


@pytest.mark.parametrize("change", [edit_the_notebook, other_render_options, another_renderer_version,
                                    a_changed_template], ids=lambda f: f.__name__)
def test_a_changed_input_renders_again(notebook, counted, tmp_path, monkeypatch, change):
    cached, renders = counted
    before = cached()(notebook, **OPTIONS)
    options, shown = change(notebook, tmp_path, monkeypatch)
    after = cached()(notebook, **options)
    assert len(renders) == 2
    assert shown is None or (shown in after and shown not in before)


def test_a_view_leaves_the_renderer_as_its_render_would(notebook, counted, monkeypatch):
    """mkdocs-jupyter keeps the last notebook's kernel language in a module global, read when
    the next notebook names none: a cached view sets it as the render did."""
    cached, _ = counted
    monkeypatch.setattr(nbconvert2, "kernel_lang", "python")
    cached()(notebook, **OPTIONS)
    monkeypatch.setattr(nbconvert2, "kernel_lang", "julia")  # a different state, a different key
    cached()(notebook, **OPTIONS)
    assert nbconvert2.kernel_lang == "python"  # the notebook names python


def test_an_unreadable_entry_is_a_miss(notebook, counted, tmp_path):
    cached, renders = counted
    cached()(notebook, **OPTIONS)
    for entry in (tmp_path / "views").glob("*.json"):
        entry.write_text('{"view": "trunc')
    assert cached()(notebook, **OPTIONS) == nbconvert2.nb2html(notebook, **OPTIONS)
    assert len(renders) == 2


RENDER = """
import json, os, sys
from mkdocs_jupyter import nbconvert2
options, paths = json.loads(sys.argv[1]), sys.argv[2:]
if os.environ["VIEWS"] == "plain":  # mkdocs-jupyter alone
    views = [nbconvert2.nb2html(p, **options) for p in paths]
else:  # the hook's way: compiled templates shared, the views rendered by a worker process
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from pathlib import Path
    from tools.site import notebook_cache
    notebook_cache._share_compiled_templates()
    cache = notebook_cache.ViewCache(Path(os.environ["VIEWS"]))
    pool = cache.prefetch([("nb2html", p, options) for p in paths],
                          lambda n: ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")))
    assert pool is not None and len(cache.started) == len(paths)
    for begun, _ in cache.started.values():
        begun.result()  # each view taken below is the worker's
    cached = cache.wrap("nb2html", None)  # None: a render in this process would fail
    views = [cached(p, **options) for p in paths]
print(json.dumps(views))
"""


def test_worker_renders_with_shared_templates_are_mkdocs_jupyters_own(tmp_path):
    """What a cold build stores (rendered in a worker, nbconvert's compiled templates shared)
    is what mkdocs-jupyter renders alone, in a process the hook never touched."""
    paths = [str(DOCS / "en" / "notebooks" / "linear-regression.ipynb"), str(NOTEBOOK)]

    def views(mode):
        proc = subprocess.run([sys.executable, "-c", RENDER, json.dumps(OPTIONS), *paths], cwd=ROOT,
                              capture_output=True, text=True, timeout=300, env={**os.environ, "VIEWS": mode})
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout)

    assert views(str(tmp_path / "views")) == views("plain")


def build_and_serve(folder: Path, published: dict) -> dict:
    """The two builds the last tests read, made beside the other tests once the publish is
    done (tests/conftest.py): the site built from the views the publish rendered, as mike
    builds it (its plugin puts the version into site_url), and `make serve` as a reader
    starts it, with an edit to a page (tools/checks/bench.py times the same steps)."""
    from mike import mkdocs_utils

    # a copy: mike writes its config beside ours
    copy, env = bench.scratch_checkout(folder / "src", published["notebook_views"])
    with mkdocs_utils.inject_plugin(str(copy / "mkdocs.yml")) as config_file:
        build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--config-file", config_file,
                                "--site-dir", str(folder / "site")], cwd=copy, capture_output=True, text=True,
                               env={**env, "MIKE_DOCS_VERSION": facts.torch_minor()}, timeout=300)
    indexes = {}

    def look(base):
        for lang in ("ko", "en"):
            index = json.loads(bench.fetch(f"{base}search/search_index.{lang}.json") or '{"docs": []}')
            indexes[lang] = [d["location"] for d in index["docs"]]

    try:
        bench.serve_latency(copy, env, look=look)  # each step fails with the server's log after 120 s
        served = None
    except (TimeoutError, AssertionError) as e:
        served = str(e)
    return {"build": build, "site": folder / "site", "serve_error": served, "indexes": indexes}


pytestmark = pytest.mark.background(start=build_and_serve, published=True)


def test_a_cached_build_is_the_published_build(started_here, published):
    """The publish build (the CI job's own steps) rendered every view its cache folder lacked:
    all of them in a fresh clone (as in CI) or with CHAPTER_CACHE=off, the changed notebooks'
    otherwise (the others were compared so when they were rendered). The build from that folder
    takes every view from it and gives the same site, file for file and byte for byte."""
    proc = started_here["build"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = [line for line in proc.stderr.splitlines() if "notebook views:" in line]
    notebooks = len(list(DOCS.glob("*/notebooks/**/*.ipynb")))
    assert len(said) == 2 and all(" 0 rendered" in line for line in said), said  # ko, en
    assert sum(int(line.split("notebook views: ")[1].split()[0]) for line in said) == 2 * notebooks
    # tools/site/highlight_cache.py: "code blocks: N from the cache, 0 highlighted", once a language
    blocks = [line.split("code blocks: ")[1].split() for line in proc.stderr.splitlines() if "code blocks:" in line]
    assert len(blocks) == 2 and all(int(b[0]) > 0 and b[4] == "0" for b in blocks), blocks
    built, published_site = started_here["site"], published["site"] / facts.torch_minor()
    names = {p.relative_to(built) for p in built.rglob("*") if p.is_file()}
    assert names == {p.relative_to(published_site) for p in published_site.rglob("*") if p.is_file()}
    differ = [str(n) for n in sorted(names) if (built / n).read_bytes() != (published_site / n).read_bytes()]
    assert not differ, differ[:10]


def test_make_serve_serves_the_site_and_shows_an_edit(started_here):
    """`make serve` answers its home page and shows an edit to a page's prose, and each
    language's search index lists every section once (mkdocs serve hands the default
    language's pages to the search plugin twice)."""
    assert started_here["serve_error"] is None, started_here["serve_error"]
    for lang, locations in started_here["indexes"].items():
        assert len(locations) == len(set(locations)) > 100, lang
    assert set(started_here["indexes"]) == {"ko", "en"}
