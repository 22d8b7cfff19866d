"""MkDocs hook: the install page's table of the torch versions each chapter ran on, made at
build time from the result files of real runs (tools/run/compat.py), where the page writes
the marker docs_pages.COMPAT_TABLE."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # mkdocs restores sys.path after loading a hook
from tools.pages.docs_pages import COMPAT_TABLE  # noqa: E402
from tools.run import compat  # noqa: E402


def on_page_markdown(markdown, page, config, files):
    if COMPAT_TABLE in markdown:
        markdown = compat.fill(markdown, Path(page.file.abs_src_path))
    return markdown
