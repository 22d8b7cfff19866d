"""Mermaid diagrams drawn once into SVG, so a reader's browser never downloads Mermaid
(3.5 MB of JavaScript, 1 MB gzipped: three times the page budget on its own).

A ```mermaid fence is shown as docs/assets/diagrams/<key>.svg, inlined into the page; the SVG
keeps Material's CSS variables, so it follows the light/dark palette like a live diagram.
The key hashes the diagram's source with the Mermaid and Material versions that drew it.

    python -m tools.pages.diagrams       (make diagrams)

draws the missing SVGs in headless Chromium with our copy of Mermaid and the settings
Material itself gives Mermaid (read from Material's bundle while it runs), and deletes SVGs
no page uses. Until a diagram is drawn, the page shows it live (Mermaid from our copy) and
the build warns, which fails `mkdocs build --strict`.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from importlib.metadata import version
from pathlib import Path

from tools.facts import ROOT

from tools.pages.docs_pages import DOCS, LANGS, DocsError, pages, rel, scan_fences
from tools.browser import launch
from tools.pages.generated import write_atomically

STORE = DOCS / "assets" / "diagrams"
MERMAID = next((DOCS / "assets" / "javascripts").glob("mermaid-*.min.js"))
log = logging.getLogger("mkdocs.diagrams")  # under "mkdocs": --strict counts its warnings


# Ours on top of Material's Mermaid settings. Korean labels break between words, never
# inside one ("기록/됨"): Mermaid sizes each box with this CSS in effect, so the box fits the
# text. Group titles get room above and below instead of touching their border.
OURS = {"themeCSS": ".nodeLabel, .edgeLabel, .cluster-label { word-break: keep-all; }",
        "flowchart": {"subGraphTitleMargin": {"top": 8, "bottom": 8}}}
DRAWN_BY = f"{MERMAID.name}\nmkdocs-material {version('mkdocs-material')}\n{json.dumps(OURS, sort_keys=True)}\n"


def key(source: str) -> str:
    return hashlib.sha256((DRAWN_BY + normal(source)).encode()).hexdigest()[:16]


def normal(source: str) -> str:
    return textwrap.dedent(source).strip()


VIEWBOX_WIDTH = re.compile(r'<svg [^>]*viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ')


def inline(path: Path) -> str:
    """The SVG in a box that knows its drawn width: extra.css keeps its text readable on a
    phone (a minimum share of that width, scrolling sideways) instead of shrinking it."""
    svg = path.read_text(encoding="utf-8")
    width = VIEWBOX_WIDTH.match(svg)
    style = f' style="--diagram-width: {width.group(1)}px"' if width else ""
    return f'<div class="diagram"{style}>{svg}</div>'


def drawn(source: str, where: str) -> str | None:
    """The diagram's drawn SVG to inline, or None after a warning (which fails the strict build)."""
    path = STORE / f"{key(source)}.svg"
    if path.is_file():
        return inline(path)
    log.warning("%s: mermaid diagram has no drawn SVG (%s): run `make diagrams`", where, rel(path))
    return None


def fence(source, language, class_name, options, md, **kwargs):
    """pymdownx.superfences formatter for ```mermaid (see mkdocs.yml)."""
    from pymdownx.superfences import fence_code_format

    first = " / ".join(normal(source).splitlines()[:2])
    return drawn(source, f"{first!r}…") or fence_code_format(source, language, class_name, options, md, **kwargs)


JUPYTER_MERMAID = re.compile(r'<div class="jp-Mermaid"><pre class="mermaid">(.*?)</pre>', re.S)


def inline_notebook_diagrams(page_html: str, where: str) -> str:
    """The same drawn SVGs in an executed-notebook page (nbconvert's ```mermaid output)."""
    def replace(m: re.Match) -> str:
        svg = drawn(html.unescape(m.group(1)), where)
        # nbconvert's CSS hides a jp-Mermaid until its script marks it rendered: drawn, it is
        return f'<div class="jp-Mermaid jp-RenderedMermaid">{svg}' if svg else m.group(0)

    return JUPYTER_MERMAID.sub(replace, page_html)


def diagrams_in_docs() -> dict[str, tuple[str, str]]:
    """key -> (source, "page:line") for every ```mermaid fence of every page."""
    found = {}
    for page in [p for lang in LANGS for p in pages(lang)]:
        for f in scan_fences(page):  # the page model dedents and checks the fence's end
            if f.info == "mermaid":
                source = f.body.removesuffix("\n")
                found[key(source)] = (source, f"{rel(page)}:{f.line}")
    return found


# Material only hands Mermaid its settings when a page has a diagram: a one-page site with
# one gives us those settings (themeCSS with Material's CSS variables) from the real bundle.
HOST_CONFIG = """site_name: diagrams
theme: {{name: material, font: false, custom_dir: {overrides}}}
plugins: []
markdown_extensions:
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          class: mermaid
          format: !!python/name:pymdownx.superfences.fence_code_format
"""
CAPTURE = """Object.defineProperty(globalThis, "mermaid", {configurable: true,
  get() { return this.__mermaid },
  set(m) { const init = m.initialize.bind(m);
           m.initialize = (config) => { globalThis.__mermaidConfig = config; init(config) };
           this.__mermaid = m } })"""


def host_site(tmp: Path) -> Path:
    (tmp / "docs" / "assets" / "javascripts").mkdir(parents=True)
    shutil.copy(MERMAID, tmp / "docs" / "assets" / "javascripts" / MERMAID.name)
    (tmp / "docs" / "index.md").write_text("```mermaid\nflowchart LR\n  a --> b\n```\n")
    (tmp / "mkdocs.yml").write_text(HOST_CONFIG.format(overrides=ROOT / "overrides"))
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet", "-f", str(tmp / "mkdocs.yml")],
                          capture_output=True, text=True, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    if proc.returncode:
        sys.exit(f"error: building the one-page site that draws the diagrams failed:\n{proc.stderr}")
    return tmp / "site" / "index.html"


def draw(todo: dict[str, tuple[str, str]]) -> dict[str, str]:
    from playwright.sync_api import sync_playwright

    drawn = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        index = host_site(Path(tmp))
        browser = launch(pw)
        page = browser.new_page()
        page.add_init_script(CAPTURE)
        page.goto(index.as_uri())
        page.wait_for_function("globalThis.__mermaidConfig !== undefined", timeout=30_000)
        page.evaluate("""ours => { const c = globalThis.__mermaidConfig;
          mermaid.initialize({...c, themeCSS: (c.themeCSS || "") + ours.themeCSS,
                              flowchart: {...c.flowchart, ...ours.flowchart}}) }""", OURS)
        for k, (source, where) in todo.items():
            try:
                drawn[k] = page.evaluate("async ([id, src]) => (await mermaid.render(id, src)).svg",
                                         [f"diagram-{k}", normal(source)])
            except Exception as e:  # Mermaid's parse error, with its line and column
                message = str(e).split("\n    at ")[0].removeprefix("Page.evaluate: ")
                sys.exit(f"{where}: Mermaid could not draw this diagram (nothing was written):\n{message}")
        browser.close()
    return drawn


def out_of_date() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]], list[Path]]:
    """(wanted, missing, unused): every page's diagram by key, those not drawn yet, and drawn
    SVGs no page uses."""
    wanted = diagrams_in_docs()
    missing = {k: v for k, v in wanted.items() if not (STORE / f"{k}.svg").is_file()}
    return wanted, missing, [p for p in STORE.glob("*.svg") if p.stem not in wanted]


def main() -> int:
    try:
        wanted, todo, unused = out_of_date()
    except DocsError as e:
        sys.exit(f"error: {e}")
    for k, svg in (draw(todo) if todo else {}).items():
        # Mermaid writes coordinates with 13 decimals; 2 look the same and are 7x smaller
        write_atomically(STORE / f"{k}.svg", re.sub(r"(\d\.\d\d)\d+", r"\1", svg) + "\n")
    for p in unused:
        p.unlink()
    print(f"diagrams: {len(wanted)}, {len(todo)} drawn, {len(unused)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
