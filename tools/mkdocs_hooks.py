"""MkDocs hooks (mkdocs.yml `hooks:`), each a small fix to a plugin's behaviour."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from mkdocs.plugins import event_priority

# mkdocs restores sys.path after loading a hook, so import what we need now.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import compat, diagrams, docs_pages, make_notebooks, mathml  # noqa: E402

log = logging.getLogger("mkdocs.hooks")  # under "mkdocs": a strict build fails on its warnings


def on_config(config):
    """```mermaid fences are shown as their stored SVG (tools/diagrams.py). Set here, not
    with `!!python/name:` in mkdocs.yml: `tools` is not importable when mkdocs loads it."""
    for fence in config.mdx_configs.get("pymdownx.superfences", {}).get("custom_fences", []):
        if fence["name"] == "mermaid":
            fence["format"] = diagrams.fence
    return config


@event_priority(-100)  # after mkdocs-static-i18n has filled in extra.alternate
def on_page_context(context, page, config, nav):
    """Language-switcher links relative to the site root instead of absolute.

    mkdocs-static-i18n gives home pages absolute links built from site_url's path
    ("/repo/en/"). mike serves each version under "/repo/<version>/", where those links
    leave the version (or 404). A root-relative link is made page-relative by the
    theme's `url` filter, so it stays inside whatever folder the site is served from.
    """
    base = urlsplit(config.site_url or "").path.rstrip("/") + "/"
    # the plugin sets the attribute (what the theme's `config.extra.alternate` reads)
    for alternate in getattr(config.extra, "alternate", None) or []:
        link = alternate["link"]
        if link.startswith(base):
            alternate["link"] = link[len(base):] or "./"
    return context


# ---- notebooks (mkdocs-jupyter) ---------------------------------------------------------

@event_priority(-200)  # after mkdocs-static-i18n, which rebuilds every File
def on_files(files, config):
    """mkdocs-static-i18n re-creates the files as plain File objects, which drops
    mkdocs-jupyter's "this notebook is a page" and lets notebooks through as raw JSON
    (mkdocs-static-i18n#198). Mark them as pages again."""
    for f in files:
        if f.src_uri.endswith(".ipynb"):
            f.is_documentation_page = lambda: True
    return files


def on_page_content(html, page, config, files):
    """Keep executed notebooks out of search: they repeat their chapter's text and code,
    crowd the chapter out of the results and double the index readers download.
    And give them no table of contents: mkdocs-jupyter builds it with other anchors than
    the ones nbconvert puts on the headings (Korean ones become "#_1"), so every entry
    was a broken link. The chapter page has the working one.
    Their diagrams are the chapter's drawn SVGs too: nbconvert's page would import Mermaid
    from cdnjs.cloudflare.com, a third-party request and no diagram offline. And their
    links to the published site become relative.
    Every page: formulas become MathML (tools/mathml.py), a LaTeX error is reported as page:line."""
    html = _typeset_math(html, page)
    if page.file.src_uri.endswith(".ipynb"):
        from mkdocs.structure.toc import TableOfContents

        page.meta["search"] = {"exclude": True}
        page.toc = TableOfContents([])
        html = diagrams.inline_notebook_diagrams(html, page.file.src_uri)
        # The notebooks link to the published site (they are also opened in Colab); inside
        # the site, point at this build instead, so images and links stay in its version.
        html = html.replace(make_notebooks.published_root(), "../" * page.url.count("/"))
        html = _focusable_code_boxes(html, _lang(page))
    return html


NOTEBOOK_CODE_BOX = re.compile(r'<div class="(highlight-ipynb[^"]*)">|<div class="highlight"><pre>')
CODE_BOX_NAME = {"ko": "코드", "en": "Code"}


def _focusable_code_boxes(html: str, lang: str) -> str:
    """Keyboard users can scroll a notebook's wide code: mkdocs-jupyter's stylesheet makes each
    code cell's `.highlight-ipynb` box (and nbconvert's `.highlight pre` in Markdown cells)
    scroll (`overflow: auto`), while nbconvert's lab template puts tabindex="0" only on the
    cell's outer `.jp-Cell-inputWrapper`, which does not scroll: arrow keys never reach the
    box (WCAG 2.1.1, axe scrollable-region-focusable). Material does this for its own code
    blocks (squidfunk/mkdocs-material#1514); here each box becomes a named, focusable region."""
    attrs = f'tabindex="0" role="region" aria-label="{CODE_BOX_NAME[lang]}"'

    def named(m):
        return f'<div class="{m.group(1)}" {attrs}>' if m.group(1) else f'<div class="highlight"><pre {attrs}>'

    return NOTEBOOK_CODE_BOX.sub(named, html)


def _typeset_math(html, page):
    notebook = page.file.src_uri.endswith(".ipynb")
    src = Path(page.file.abs_src_path)
    if notebook:  # its formulas come from its chapter's page: report that page's line
        lang, _, rest = page.file.src_uri.partition(f"/{make_notebooks.NOTEBOOKS}/")
        src = docs_pages.DOCS / lang / Path(rest).with_suffix(".md")
    problems = []
    source = src.read_text(encoding="utf-8") if src.exists() else ""
    html = (mathml.notebook_html if notebook else mathml.page_html)(html, source, docs_pages.rel(src), problems)
    for problem in problems:
        log.warning(problem)
    return html


# ---- take the code along: script, notebook, Colab, executed view, run time ---------------

LABELS = {
    "ko": {"script": "스크립트 (.py)", "notebook": "노트북 (.ipynb)", "colab": "Colab에서 열기",
           "view": "실행된 노트북 보기",
           "cpu": "이 장의 코드 실행 시간: CPU {s} 초 ({machine}, 노트북의 출력을 만든 실행에서 측정)",
           "cuda": "CUDA {s} 초 ({device})",
           "cuda_none": "CUDA: 실행하지 않음"},
    "en": {"script": "Script (.py)", "notebook": "Notebook (.ipynb)", "colab": "Open in Colab",
           "view": "Executed notebook",
           "cpu": "Run time of this chapter's code: CPU {s} s ({machine}, measured by the run that made the notebook's outputs)",
           "cuda": "CUDA {s} s ({device})",
           "cuda_none": "CUDA: not run"},
}


def _lang(page):
    return "en" if page.file.src_uri.startswith("en/") else "ko"


def _chapter_of(page):
    """(lang, chapter, notebook path) for a chapter page that has code, else None."""
    src = Path(page.file.abs_src_path or "")
    if src.suffix != ".md" or docs_pages.DOCS not in src.parents:
        return None
    notebook = docs_pages.notebook_path(src)
    if not notebook.exists():
        return None
    return docs_pages.lang_of(src), docs_pages.chapter(src), notebook


def on_page_markdown(markdown, page, config, files):
    """Under the chapter's title: download the script and the notebook, open it in Colab
    (the notebook of the page's language), see it executed; and a line for run times.
    The install page also gets the table of torch versions each chapter ran on."""
    if compat.PLACEHOLDER in markdown:  # from the result files of real runs (tools/compat.py)
        markdown = compat.fill(markdown, Path(page.file.abs_src_path))
    found = _chapter_of(page)
    if not found:
        return markdown
    lang, name, notebook = found
    t = LABELS[lang]
    up = "../" * (name.count("/") + 1)  # from the chapter's folder to the language root
    stem = name.rsplit("/", 1)[-1]
    links = (
        '<p class="chapter-links">'
        f'<a class="md-button" href="{stem}.py" download>{t["script"]}</a> '
        f'<a class="md-button" href="{up}notebooks/{name}/{stem}.ipynb" download>{t["notebook"]}</a> '
        f'<a class="md-button" href="{make_notebooks.colab_url(Path(page.file.abs_src_path))}">{t["colab"]}</a> '
        f'<a class="md-button" href="{up}notebooks/{name}/">{t["view"]}</a>'
        "</p>\n"
        f'<p class="chapter-runtime" data-chapter="{name}"></p>\n'
    )
    head, _, rest = markdown.partition("\n")
    return f"{head}\n\n{links}{rest}" if head.startswith("# ") else links + markdown


HEAD_ALTERNATE = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')
SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'
SEARCH_NAME = {"ko": "검색", "en": "Search"}


def on_post_page(output, page, config):
    """Fill in the run times, and write the chapter's code as one script beside the page.

    Also drop the <head> hreflang links: Material's script fetches "sitemap.xml" next to
    each of them, and with per-page links (mkdocs-static-i18n) that is a 404 on every
    page load. The language menu's own links are untouched.
    And name Material's search dialog: a dialog without a name is announced as just
    "dialog" by screen readers (Lighthouse's aria-dialog-name)."""
    output = HEAD_ALTERNATE.sub("", output)
    output = _name_search(output, _lang(page))
    found = _chapter_of(page)
    if not found:
        return output
    lang, name, notebook = found
    t = LABELS[lang]
    measured = docs_pages.notebook_record(notebook)  # written by `make outputs` (tools/runner.py)
    if not measured:
        raise SystemExit(f"error: {docs_pages.rel(notebook)} has no outputs: run `make outputs`")
    cpu = t["cpu"].format(s=measured["seconds"], machine=measured["machine"])
    cuda_file = os.environ.get("TIMINGS_CUDA")  # from the GPU job, see .github/workflows/ci.yml
    cuda = json.loads(Path(cuda_file).read_text()).get(name) if cuda_file and Path(cuda_file).exists() else None
    gpu = t["cuda"].format(s=cuda["seconds"], device=cuda["device"]) if cuda else t["cuda_none"]
    empty = f'<p class="chapter-runtime" data-chapter="{name}"></p>'
    output = output.replace(empty, empty.replace("></p>", f">{cpu} · {gpu}</p>"))

    # The Korean page is the source; both languages carry the same code.
    source = docs_pages.DOCS / "ko" / f"{name}.md"
    parts = [f"# The code of {docs_pages.rel(source)}, unit by unit; each unit runs on its own.\n"]
    for n, unit in enumerate(docs_pages.units(source), 1):
        parts.append(f"\n# %% unit {n} (line {unit.lineno})\n{unit.code}")
    script = Path(page.file.abs_dest_path).parent / f"{name.rsplit('/', 1)[-1]}.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("".join(parts), encoding="utf-8")
    return output


def _name_search(output: str, lang: str) -> str:
    return output.replace(SEARCH_DIALOG, SEARCH_DIALOG.replace(
        'role="dialog">', f'role="dialog" aria-label="{SEARCH_NAME[lang]}">'))


LANGUAGE_HOME = {"ko": "", "en": "en/"}
CONFIG_BASE = re.compile(r'"base": "[^"]*"')
SWITCHER_LINK = re.compile(r'<a href="[^"]*" hreflang="(\w+)"')


def on_post_template(output, template_name, config):
    """The 404 page is a theme template, not a page: on_post_page never sees it. Its links are
    site-absolute, and so is the base it gives Material's script, but without the final
    slash ("/pytorch-usage/2.14"): the script then looked for versions.json and the search
    index one folder too high, failed, and never set up the palette toggle (it did nothing).
    Its language links and <head> alternates pointed at whichever page mkdocs-static-i18n
    built last. Here: the base with its slash, each language's home page, the <head> links
    dropped and the search dialog named, as on every page."""
    if template_name != "404.html":
        return output
    root = urlsplit(config.site_url or "").path.rstrip("/") + "/"
    output = HEAD_ALTERNATE.sub("", output)
    output = CONFIG_BASE.sub(f'"base": "{root}"', output, count=1)
    output = SWITCHER_LINK.sub(lambda m: f'<a href="{root}{LANGUAGE_HOME[m.group(1)]}" hreflang="{m.group(1)}"', output)
    lang = re.search(r'<html lang="(\w+)"', output)
    return _name_search(output, lang.group(1) if lang and lang.group(1) in SEARCH_NAME else "ko")
