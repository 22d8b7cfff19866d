"""MkDocs hook: each code block is highlighted once per content, not once per build.

Pygments takes about a third of a build, and the same blocks come back in both languages, in
each build `make test` makes and in every rebuild of `make serve`. The HTML pygments.highlight
returns is a function of the code, the lexer and the formatter (each a class and its options),
so it is kept under highlight/ in the notebook views' folder (tools/site/notebook_cache.py: the
same NOTEBOOK_CACHE switches), keyed on those, every installed distribution and this file.
tests/test_notebook_cache.py compares a build from the cache with the publish build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from pymdownx import highlight

from tools import facts
from tools.pages.generated import write_atomically
from tools.site import notebook_cache

log = logging.getLogger("mkdocs.hooks.highlight_cache")
_started_at = time.time()
_cache: dict = {}  # folder, fingerprint, counts: set by on_config


def _key(code: str, lexer, formatter) -> str:
    parts = [_cache["fingerprint"], code]
    for obj in (lexer, *lexer.filters, formatter):
        parts += [f"{type(obj).__module__}.{type(obj).__qualname__}", json.dumps(obj.options, sort_keys=True, default=repr)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _highlight(code, lexer, formatter, outfile=None):
    """pygments.highlight as pymdownx calls it (by its name in pymdownx.highlight), from the cache."""
    if not _cache or outfile is not None:
        return _highlight.__wrapped__(code, lexer, formatter, outfile)
    path = _cache["folder"] / f"{_key(code, lexer, formatter)}.json"
    try:
        html = json.loads(path.read_text(encoding="utf-8"))
        os.utime(path)  # asked for: kept by prune()
        _cache["counts"][0] += 1
    except (OSError, ValueError):
        html = _highlight.__wrapped__(code, lexer, formatter)
        write_atomically(path, json.dumps(html, ensure_ascii=False))  # another build may read it meanwhile
        _cache["counts"][1] += 1
    return html


# pygments' own, also when this file is loaded a second time (a test imports it)
_highlight.__wrapped__ = getattr(highlight.highlight, "__wrapped__", highlight.highlight)
highlight.highlight = _highlight


def on_config(config):
    folder = notebook_cache.folder(config)
    _cache.clear()
    if folder is not None:
        (folder / "highlight").mkdir(parents=True, exist_ok=True)
        fingerprint = hashlib.sha256("\n".join(facts.installed()).encode() + Path(__file__).read_bytes())
        _cache.update(folder=folder / "highlight", fingerprint=fingerprint.hexdigest(), counts=[0, 0])
    return config


def on_post_build(config):
    if _cache:  # once per language, as the notebook views say theirs
        log.info(f"code blocks: {_cache['counts'][0]} from the cache, {_cache['counts'][1]} highlighted")


def on_shutdown():
    if _cache and any(_cache["counts"]):  # a build, not a process that only read the config (mike)
        notebook_cache.prune(_cache["folder"], _started_at)
