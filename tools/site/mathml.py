"""Formulas typeset once, at build time, as MathML: browsers draw it themselves (no script,
no font download, no other host).

Pages write LaTeX as `$…$` inline and `$$…$$` as a paragraph of its own, which Jupyter and
Colab render too, so the generated notebooks carry the same text. On the site,
pymdownx.arithmatex (generic mode, mkdocs.yml) marks each formula and `page_html` turns it
into MathML with latex2mathml; executed-notebook pages (nbconvert leaves `$…$` as text) go
through `notebook_html`. A formula latex2mathml cannot read is reported as page:line (a
warning under the "mkdocs" logger, so the strict build fails) and left as it was.
"""

from __future__ import annotations

import html
import logging
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from latex2mathml.converter import convert

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # mkdocs restores sys.path after loading a hook
from tools.pages import docs_pages  # noqa: E402

log = logging.getLogger("mkdocs.hooks")  # under "mkdocs": a strict build fails on its warnings


class MathError(ValueError):
    pass


# latex2mathml is lenient: `\frac{a}` or `\tahn` come out as wrong MathML, not as an error
ARGUMENTS = {"mfrac": 2, "msub": 2, "msup": 2, "msubsup": 3, "mroot": 2, "munder": 2, "mover": 2, "munderover": 3}


def to_mathml(latex: str, display: bool = False) -> str:
    if re.sub(r"\\.", "", latex).count("{") != re.sub(r"\\.", "", latex).count("}"):
        raise MathError("unbalanced { }")
    try:
        out = convert(latex, display="block" if display else "inline")
    except Exception as e:  # latex2mathml's own exceptions carry little text: name them
        raise MathError(f"{type(e).__name__} {e}".strip()) from None
    for el in ET.fromstring(out).iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if (el.text or "").startswith("\\"):
            raise MathError(f"unknown command {el.text}")
        if len(el) < ARGUMENTS.get(tag, 0):
            raise MathError(f"missing argument ({tag})")
    # in HTML the namespace is implied, and inline is the default
    return out.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "").replace(' display="inline"', "")


def _typeset(original: str, latex: str, display: bool, source: str, where: str) -> str:
    """The formula as MathML in arithmatex's element; one latex2mathml cannot read is
    reported as page:line (`source`: the page's Markdown) and left as `original`."""
    latex = html.unescape(latex)
    try:
        math = to_mathml(latex, display)
    except MathError as e:
        found = source.find(latex.strip())
        line = source.count("\n", 0, found) + 1 if found >= 0 else "?"
        log.warning(f"{where}:{line}: LaTeX error in `{latex.strip()}`: {e}")
        return original
    tag = "div" if display else "span"
    return f'<{tag} class="arithmatex">{math}</{tag}>'


MARKED = re.compile(r'<(span|div) class="arithmatex">\\[(\[](.*?)\\[)\]]</\1>', re.S)


def page_html(text: str, source: str, where: str) -> str:
    """MathML for arithmatex's marks in a page's HTML."""
    return MARKED.sub(lambda m: _typeset(m.group(0), m.group(2), m.group(1) == "div", source, where), text)


# nbconvert's page: `$$…$$` and `$…$` as text, outside code, scripts, styles and the code
# mkdocs-jupyter keeps for its copy button
NOTEBOOK_MATH = re.compile(r'<(pre|code|script|style)\b.*?</\1>|<div class="clipboard-copy-txt".*?</div>|'
                           r"\$\$(.+?)\$\$|\$(?![\s$])([^$<]+?)(?<![\s\\])\$", re.S)
NBCONVERT_MATHJAX = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S)


def notebook_html(text: str, source: str, where: str) -> str:
    """MathML for the formulas of an executed notebook's page; nbconvert's MathJax loader (an
    empty URL here: mkdocs-jupyter's default) goes."""
    def sub(m):
        if m.group(2) is None and m.group(3) is None:
            return m.group(0)
        display = m.group(2) is not None
        return _typeset(m.group(0), m.group(2) if display else m.group(3), display, source, where)

    return NOTEBOOK_MATH.sub(sub, NBCONVERT_MATHJAX.sub("", text))


# ---- the MkDocs hook (mkdocs.yml `hooks:`): every page's formulas, as each page is built ----

def on_page_content(text, page, config, files):
    notebook = page.file.src_uri.endswith(".ipynb")
    src = Path(page.file.abs_src_path)
    if notebook:  # its formulas come from its chapter's page: report that page's line
        lang, _, rest = page.file.src_uri.partition(f"/{docs_pages.NOTEBOOKS}/")
        src = docs_pages.DOCS / lang / Path(rest).with_suffix(".md")
    source = src.read_text(encoding="utf-8") if src.exists() else ""
    return (notebook_html if notebook else page_html)(text, source, docs_pages.rel(src))
