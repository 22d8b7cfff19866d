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
source by Jinja), instead of compiling the same templates again for every notebook.

NOTEBOOK_CACHE=off builds exactly as mkdocs-jupyter does alone (tests compare the two);
NOTEBOOK_CACHE_DIR=path moves the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import jinja2

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
    # every installed distribution's name and version, as its metadata folder names them
    # ("nbconvert-7.17.2.dist-info"): a listing per import folder, not a read per package
    installed = sorted(name for folder in sys.path if os.path.isdir(folder)
                       for name in os.listdir(folder) if name.endswith((".dist-info", ".egg-info")))
    h.update("\n".join(installed).encode())
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


def view_key(fingerprint: str, kind: str, nb_path, args, kwargs) -> str:
    from mkdocs_jupyter import nbconvert2

    h = hashlib.sha256(f"{fingerprint}\0{kind}\0".encode())
    h.update(Path(nb_path).read_bytes())
    # kernel_lang: mkdocs-jupyter's module global, kept from the previous notebook when a
    # notebook names no language; it picks the highlighter, so it is part of the input
    call = {"args": args, "kwargs": kwargs, "kernel_lang": nbconvert2.kernel_lang}
    h.update(json.dumps(call, sort_keys=True, default=repr).encode())
    return h.hexdigest()


# ---- the cache --------------------------------------------------------------------------

class ViewCache:
    """Views by key, one JSON file each; a file that can't be read is a miss. A view is
    touched when used, so its file's time says when a build last asked for it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.fingerprint = renderer_fingerprint()

    def wrap(self, kind: str, render):
        from mkdocs_jupyter import nbconvert2

        def cached(nb_path, *args, **kwargs):
            path = self.folder / f"{view_key(self.fingerprint, kind, nb_path, args, kwargs)}.json"
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
                os.utime(path)
            except (OSError, ValueError):
                log.info(f"notebook view rendered, not in the cache: {kind} {nb_path}")
                entry = {"view": render(nb_path, *args, **kwargs), "kernel_lang": nbconvert2.kernel_lang}
                self._store(path, entry)
            nbconvert2.kernel_lang = entry["kernel_lang"]  # as the render leaves it
            return entry["view"]

        cached.__wrapped__ = render
        return cached

    def _store(self, path: Path, entry: dict) -> None:
        """Whole or not at all: another build may read the folder at the same time."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(entry, f, ensure_ascii=False)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    def prune(self, since: float) -> None:
        """Drop the views no build asked for since `since` (a notebook's older contents)."""
        for path in self.folder.glob("*.json"):
            try:
                if path.stat().st_mtime < since:
                    path.unlink()
            except OSError:
                pass


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
_started = time.time()


def on_config(config):
    """Put the cache in front of the two renders mkdocs-jupyter's plugin calls
    (`convert.nb2html` for the view, `convert.nb2md` for its title), once per process:
    `mkdocs serve` loads this file again for every rebuild."""
    global _cache
    if os.environ.get("NOTEBOOK_CACHE", "on") == "off":
        return config
    from mkdocs_jupyter import convert

    root = Path(config.config_file_path).parent
    folder = Path(os.environ.get("NOTEBOOK_CACHE_DIR") or root / VIEWS)
    _cache = ViewCache(folder)  # a fresh fingerprint for every build (and language)
    for kind in ("nb2html", "nb2md"):
        render = getattr(convert, kind)
        setattr(convert, kind, _cache.wrap(kind, getattr(render, "__wrapped__", render)))
    _share_compiled_templates()
    return config


def on_shutdown():
    """Once, when `mkdocs build` or `mkdocs serve` ends (every language built by then)."""
    if _cache is not None:
        _cache.prune(_started)
