"""MkDocs hook: an output that varies by CPU says so, in the page's language, in the title bar
of its ```text block. The page writes <!--output-varies: ±0.03--> above the block
(tools/pages/docs_pages.py: VARIES); the line readers see comes from docs_pages.varies_note, the same
line the notebooks carry (tools/pages/make_notebooks.py)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

# mkdocs restores sys.path after loading a hook, so import what we need now.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools.pages import docs_pages  # noqa: E402

MARKED_FENCE = re.compile(r"^[ \t]*<!--\s*output-varies:\s*(.*?)\s*-->[ \t]*\n(?:[ \t]*\n)*([ \t]*)```text[ \t]*$", re.M)


def on_page_markdown(markdown, page, config, files):
    lang = "en" if page.file.src_uri.startswith("en/") else "ko"

    def titled(m):
        note = docs_pages.varies_note(lang, docs_pages.Tolerance.parse(m.group(1)))
        return f'{m.group(2)}```text title="{note}"'

    return MARKED_FENCE.sub(titled, markdown)
