"""MkDocs hook: the executed-notebook pages (mkdocs-jupyter) as readers should get them.

- mkdocs-static-i18n re-creates the files as plain File objects, which drops mkdocs-jupyter's
  "this notebook is a page" and lets notebooks through as raw JSON (mkdocs-static-i18n#198):
  they are marked as pages again.
- Out of search: they repeat their chapter's text and code, crowd the chapter out of the
  results and double the index readers download.
- No table of contents: mkdocs-jupyter builds it with other anchors than the ones nbconvert
  puts on the headings (Korean ones become "#_1"), so every entry was a broken link. The
  chapter page has the working one.
- Nothing from another host: their diagrams are the chapter's drawn SVGs, and nbconvert's
  module script that would import Mermaid from cdnjs.cloudflare.com is dropped.
- Their links to the published site (the notebooks are also opened in Colab) point at this
  build instead, so images and links stay in its version.
- Keyboard users can scroll a wide code cell (see focusable_code_boxes).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.toc import TableOfContents

# mkdocs restores sys.path after loading a hook, so import what we need now.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools import facts  # noqa: E402
from tools.pages import diagrams  # noqa: E402

REMOTE_MODULE = re.compile(r'<script type="module">(?:(?!</script>).)*?import\("https://(?:(?!</script>).)*</script>\s*', re.S)
NOTEBOOK_CODE_BOX = re.compile(r'<div class="(highlight-ipynb[^"]*)">|<div class="highlight"><pre>')
CODE_BOX_NAME = {"ko": "코드", "en": "Code"}


@event_priority(-200)  # after mkdocs-static-i18n, which rebuilds every File
def on_files(files, config):
    for f in files:
        if f.src_uri.endswith(".ipynb"):
            f.is_documentation_page = lambda: True
    return files


def on_page_content(html, page, config, files):
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    page.meta["search"] = {"exclude": True}
    page.toc = TableOfContents([])
    html = diagrams.inline_notebook_diagrams(html, page.file.src_uri)
    html, n = REMOTE_MODULE.subn("", html)
    if n > 1:
        raise PluginError(f"{page.file.src_uri}: {n} remote module scripts, expected nbconvert's one")
    html = html.replace(facts.published_root(), "../" * page.url.count("/"))
    return focusable_code_boxes(html, "en" if page.file.src_uri.startswith("en/") else "ko")


def focusable_code_boxes(html: str, lang: str) -> str:
    """mkdocs-jupyter's stylesheet makes each code cell's `.highlight-ipynb` box (and nbconvert's
    `.highlight pre` in Markdown cells) scroll (`overflow: auto`), while nbconvert's lab template
    puts tabindex="0" only on the cell's outer `.jp-Cell-inputWrapper`, which does not scroll:
    arrow keys never reach the box (WCAG 2.1.1, axe scrollable-region-focusable). Material does
    this for its own code blocks (squidfunk/mkdocs-material#1514); here each box becomes a named,
    focusable region."""
    attrs = f'tabindex="0" role="region" aria-label="{CODE_BOX_NAME[lang]}"'

    def named(m):
        return f'<div class="{m.group(1)}" {attrs}>' if m.group(1) else f'<div class="highlight"><pre {attrs}>'

    html, n = NOTEBOOK_CODE_BOX.subn(named, html)
    if not n and "jp-CodeCell" in html:  # nbconvert's or mkdocs-jupyter's markup moved
        raise PluginError("a notebook page has code cells but no code box this hook knows: update tools/site/notebook_pages.py")
    return html
