"""MkDocs hook: each executed-notebook view is rendered once per content, not once per build.

mkdocs-jupyter renders every notebook through nbconvert on every build (about 60% of the
build). A view is a function of the notebook's bytes, the options the plugin passes and the
renderer, so it is stored under .cache/notebook-views/ keyed on all three: the key hashes
the notebook, the call's arguments, the renderer's module state, the version of every
installed distribution, the files of mkdocs-jupyter (code and templates), every nbconvert
template folder and nbconvert config file Jupyter would read, and this file. A view that is
served from the cache is therefore one the renderer would make now; anything else is a miss.

Its own plugin `cache:` stays off: its key leaves out the renderer's versions, and with
mkdocs-static-i18n each language's build evicts the other language's entries.

A miss renders as the plugin does, with one change that cannot alter output: nbconvert's
Jinja environments share compiled templates in memory (checked against each template's
source by Jinja), instead of compiling the same templates again for every notebook. A
build that finds views missing (a fresh checkout, CI) renders them in a worker process per
core while it builds the pages. tests/test_notebook_cache.py compares these renders
with mkdocs-jupyter's own, and a build from the cache with the publish build.

NOTEBOOK_CACHE=off builds exactly as mkdocs-jupyter does alone; NOTEBOOK_CACHE_DIR=path
moves the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path

import jinja2

from tools import facts
from tools.pages.generated import write_atomically

log = logging.getLogger("mkdocs.hooks.notebook_cache")
VIEWS = ".cache/notebook-views"


# ---- the key ----------------------------------------------------------------------------

def _files(root: Path, pattern: str = "**/*") -> list[tuple[str, Path]]:
    """(name under root, path) of the files under root: named so, two checkouts agree."""
    return [(p.relative_to(root).as_posix(), p) for p in sorted(root.glob(pattern))
            if p.is_file() and "__pycache__" not in p.parts] if root.is_dir() else []


def renderer_fingerprint() -> str:
    """Everything besides the notebook and the call that shapes a view."""
    import mkdocs_jupyter
    from jupyter_core.paths import jupyter_config_dir, jupyter_config_path, jupyter_path

    h = hashlib.sha256(sys.version.encode())
    h.update("\n".join(facts.installed()).encode())
    roots = {"mkdocs_jupyter": _files(Path(mkdocs_jupyter.__file__).parent),
             "this hook": [("notebook_cache.py", Path(__file__))]}
    # the template folders nbconvert searches, and the config files NbConvertApp reads
    for i, folder in enumerate(jupyter_path("nbconvert", "templates")):
        roots[f"templates {i}"] = _files(Path(folder))
    for i, folder in enumerate([jupyter_config_dir(), *jupyter_config_path()]):
        roots[f"config {i}"] = _files(Path(folder), "jupyter_*config.*")
    for root, files in roots.items():
        for name, path in files:
            h.update(f"\0{root}\0{name}\0".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


# ---- the cache --------------------------------------------------------------------------

class ViewCache:
    """Views by key, one JSON file each; a file that can't be read is a miss. A view is
    touched when used, so its file's time says when a build last asked for it."""

    def __init__(self, folder: Path, started: dict | None = None):
        self.folder = folder
        self.fingerprint = renderer_fingerprint()
        self.started = {} if started is None else started  # key -> (Future, language), prefetch()
        self.hits = self.rendered = 0

    def path(self, kind: str, nb_path, args, kwargs, kernel_lang) -> Path:
        """The view's file, named by its key: the renderer, the render, the notebook, the call."""
        h = hashlib.sha256(f"{self.fingerprint}\0{kind}\0{Path(nb_path).name}\0".encode())
        h.update(Path(nb_path).read_bytes())
        # kernel_lang: mkdocs-jupyter's module global, kept from the previous notebook when a
        # notebook names no language; it picks the highlighter, so it is part of the input
        call = {"args": args, "kwargs": kwargs, "kernel_lang": kernel_lang}
        h.update(json.dumps(call, sort_keys=True, default=repr).encode())
        return self.folder / f"{h.hexdigest()}.json"

    def wrap(self, kind: str, render):
        from mkdocs_jupyter import nbconvert2

        def cached(nb_path, *args, **kwargs):
            path = self.path(kind, nb_path, args, kwargs, nbconvert2.kernel_lang)
            early, lang = self.started.pop(path.name, (None, None))
            if early is not None and early.cancel():  # not begun yet: render it here
                early = lang = None
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
                os.utime(path)
                self.hits += 1
            except (OSError, ValueError):
                view = early.result() if early is not None else render(nb_path, *args, **kwargs)
                entry = {"view": view, "kernel_lang": lang or nbconvert2.kernel_lang}
                # whole or not at all: another build may read the folder at the same time
                write_atomically(path, json.dumps(entry, ensure_ascii=False))
                os.chmod(path, 0o644)  # a plain file's mode, not the temporary file's owner-only one
                self.rendered += 1
            nbconvert2.kernel_lang = entry["kernel_lang"]  # as the render leaves it
            return entry["view"]

        cached.__wrapped__ = render
        return cached

    def prefetch(self, calls, start_pool):
        """Start rendering the views `calls` will ask for that are not stored, in worker
        processes (`start_pool(n)` for n views), in the order they will be asked for; return
        the pool, or None when at most one view is missing. A guess that misses (the plugin
        asks with other arguments) costs only a worker's time: the key decides. Only notebooks
        that name their language: their view doesn't depend on the one rendered before
        (mkdocs-jupyter's kernel_lang), so a worker's render is this process's render."""
        from mkdocs_jupyter import nbconvert2

        todo = []
        for kind, nb_path, kwargs in calls:
            path = self.path(kind, nb_path, (), kwargs, nbconvert2.kernel_lang)
            spec = json.loads(Path(nb_path).read_bytes()).get("metadata", {}).get("kernelspec", {})
            if not path.exists() and path.name not in self.started and spec.get("language"):
                # nb2html sets kernel_lang to the notebook's language; nb2md leaves it
                todo.append((path.name, kind, nb_path, kwargs, spec["language"] if kind == "nb2html" else None))
        if len(todo) < 2:
            return None
        pool = start_pool(len(todo))
        for name, kind, nb_path, kwargs, lang in todo:
            self.started[name] = (pool.submit(getattr(nbconvert2, kind), nb_path, **kwargs), lang)
        return pool


def prune(folder: Path, since: float) -> None:
    """Drop the entries no build asked for since `since` (a notebook's or a block's older contents)."""
    for path in folder.glob("*.json"):
        with contextlib.suppress(OSError):  # gone already: another build pruned it
            if path.stat().st_mtime < since:
                path.unlink()


def folder(config) -> Path | None:
    """Where the views are kept (None: NOTEBOOK_CACHE=off); tools/site/highlight_cache.py keeps
    its blocks in highlight/ under it."""
    if os.environ.get("NOTEBOOK_CACHE", "on") == "off":
        return None
    return Path(os.environ.get("NOTEBOOK_CACHE_DIR") or Path(config.config_file_path).parent / VIEWS)


# ---- compiled templates shared between nbconvert's exporters -----------------------------

class MemoryBytecode(jinja2.BytecodeCache):
    """Jinja's own bytecode cache, in memory: Jinja checks each entry against the template
    source's checksum before using it, so an edited template is compiled again."""

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket):
        self.code[bucket.key] = bucket.bytecode_to_string()


def _share_compiled_templates() -> None:
    from nbconvert.exporters.templateexporter import TemplateExporter

    create = TemplateExporter._create_environment
    if getattr(create, "__wrapped__", None):
        return
    shared = MemoryBytecode()

    def create_environment(self):
        env = create(self)
        env.bytecode_cache = shared
        return env

    create_environment.__wrapped__ = create
    TemplateExporter._create_environment = create_environment


# ---- hooks ------------------------------------------------------------------------------

_cache: ViewCache | None = None
_started_at = time.time()
_early: dict = {}  # views begun in worker processes, by key (ViewCache.prefetch)
_pool = None
_pool_started = False
_built = False


def on_config(config):
    """Put the cache in front of the two renders mkdocs-jupyter's plugin calls
    (`convert.nb2html` for the view, `convert.nb2md` for its title). MkDocs loads a hook
    file once per process and calls this before each build (each language, each rebuild
    of `mkdocs serve`), so every build takes the renderer's fingerprint again."""
    global _cache
    if folder(config) is None:
        return config
    from mkdocs_jupyter import convert

    _cache = ViewCache(folder(config), _early)
    for kind in ("nb2html", "nb2md"):
        render = getattr(convert, kind)
        setattr(convert, kind, _cache.wrap(kind, getattr(render, "__wrapped__", render)))
    _share_compiled_templates()
    return config


def on_pre_build(config):
    """Only a build gets here: mike, for one, loads the config (on_config, on_shutdown)
    in its own process before and after it starts `mkdocs build`."""
    global _built
    _built = True
    if _cache is not None:
        _start_workers(config)


def _start_workers(config) -> None:
    """A cold build (a fresh checkout): render the missing views in worker processes, one
    per core, while this process builds the pages. Once per process, on the first
    build, with the arguments the plugin passes (its on_pre_page) when it executes nothing."""
    global _pool, _pool_started
    plugin = config.plugins.get("mkdocs-jupyter")
    # one per core, not per spare core: this process mostly waits for them once it reaches the
    # notebooks (2 cores, cold build: 18.4 s with two workers, 21.7 s with one, 18.8 s with three)
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if _pool_started or plugin is None or plugin.config["execute"] or workers < 2:
        return
    _pool_started = True
    from types import SimpleNamespace

    options = ("kernel_name", "theme", "allow_errors", "show_input", "no_input", "no_prompt",
               "remove_tag_config", "highlight_extra_classes", "include_requirejs", "custom_mathjax_url")
    kwargs = {"execute": False, **{k: plugin.config[k] for k in options}}
    docs = Path(config.docs_dir)
    first = docs / str(config.theme.get("language") or "")  # the language built first
    notebooks = sorted((p for p in docs.rglob("*.ipynb")
                        if plugin.should_include(SimpleNamespace(abs_src_path=str(p)))),
                       key=lambda p: (first not in p.parents, p))
    calls = [(kind, str(p), kwargs if kind == "nb2html" else {}) for p in notebooks for kind in ("nb2html", "nb2md")]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    fork = multiprocessing.get_context("fork")  # the workers start with this process's modules
    _pool = _cache.prefetch(calls, lambda n: ProcessPoolExecutor(min(workers, n), mp_context=fork))


def on_post_build(config):
    """Say what the cache did (once per language: mkdocs-static-i18n builds each on its own).
    The workers end once every view they began was taken (`mkdocs serve` keeps running)."""
    global _pool
    if _pool is not None and not _early:
        _pool.shutdown(wait=False)
        _pool = None
    if _cache is not None:
        log.info(f"notebook views: {_cache.hits} from the cache, {_cache.rendered} rendered "
                 f"({_cache.folder}, renderer {_cache.fingerprint[:12]})")


def on_shutdown():
    """Once, when `mkdocs build` or `mkdocs serve` ends (every language built by then)."""
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
    if _cache is not None and _built:
        prune(_cache.folder, _started_at)
