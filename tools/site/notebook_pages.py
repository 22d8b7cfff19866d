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
- Only the CSS a view uses: mkdocs-jupyter inlines all of JupyterLab's stylesheet (574 KB,
  86 KB gzipped) into every view; the rules whose classes the view has are kept (about 130 KB),
  which put the CNN notebook view back within the page budget. Screenshots of the CNN view, both
  palettes, were pixel-identical before and after.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.toc import TableOfContents

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # mkdocs restores sys.path after loading a hook
from tools import facts  # noqa: E402
from tools.pages import diagrams  # noqa: E402

REMOTE_MODULE = re.compile(r'<script type="module">(?:(?!</script>).)*?import\("https://(?:(?!</script>).)*</script>\s*', re.S)
LAB_CSS = re.compile(r'(<style type="text/css">\s*)(@charset "UTF-8";\.jupyter-wrapper\{.*?)(</style>)', re.S)
# one CSS rule: an @-rule with a block of rules or declarations, an @-statement, or selectors { declarations }
CSS_RULE = re.compile(r"\s*(?:(@[^{};]+)\{((?:[^{}]*\{[^{}]*\})*[^{}]*)\}|(@[^{};]+;)|([^{};]+)\{([^{}]*)\})", re.S)
NEGATED = re.compile(r":(?:not|where|is|has)\([^()]*\)")
CSS_CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
TOP_COMMA = re.compile(r",(?![^()]*\))")
ADDED_BY_SCRIPTS = ("md-", "jp-mod-")  # classes Material's and JupyterLab's scripts add after load
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
    html = used_css_only(html, page.file.src_uri)
    return focusable_code_boxes(html, "en" if page.file.src_uri.startswith("en/") else "ko")


def used_css_only(html: str, where: str) -> str:
    lab = LAB_CSS.search(html)
    if not lab:
        raise PluginError(f"{where}: mkdocs-jupyter's inlined JupyterLab CSS moved: update tools/site/notebook_pages.py")
    classes = {c for value in re.findall(r"""class=["']([^"']*)["']""", html) for c in value.split()}
    try:
        rules = _rules(lab.group(2))
    except ValueError as e:
        raise PluginError(f"{where}: cannot read the notebook CSS at {e}: update tools/site/notebook_pages.py") from None
    return html[:lab.start(2)] + _rules_used(rules, classes) + html[lab.end(2):]


@functools.cache  # every view inlines the same stylesheet: read once per process, its @media blocks too
def _rules(css: str) -> tuple:
    """The rules of `css`: (text kept whole), (@media or @supports, its rules) or
    ((selector, the classes it needs)..., declarations)."""
    out, pos = [], 0
    for m in CSS_RULE.finditer(css):
        if m.start() != pos:
            break
        pos = m.end()
        at, inner, statement, selectors, declarations = m.groups()
        if at and at.startswith(("@media", "@supports")):
            out.append((at, _rules(inner)))
        elif at or statement:
            out.append((m.group(0).strip(),))
        else:
            out.append((tuple((s, frozenset(c for c in CSS_CLASS.findall(NEGATED.sub("", s)) if not c.startswith(ADDED_BY_SCRIPTS)))
                              for s in TOP_COMMA.split(selectors)), declarations))
    if css[pos:].strip():
        raise ValueError(repr(css[pos:pos + 60]))
    return tuple(out)


def _rules_used(rules: tuple, classes: set[str]) -> str:
    """The rules with the selectors whose classes all occur in the page (@media and @supports
    pruned inside; @keyframes, @font-face and the like kept whole)."""
    out = []
    for rule in rules:
        if len(rule) == 1:
            out.append(rule[0])
        elif isinstance(rule[1], tuple):
            kept = _rules_used(rule[1], classes)
            out.append(f"{rule[0]}{{{kept}}}" if kept else "")
        else:
            used = [s for s, needs in rule[0] if needs <= classes]
            out.append(f"{','.join(used)}{{{rule[1]}}}" if used else "")
    return "".join(out)


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
