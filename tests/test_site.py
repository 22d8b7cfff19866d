"""Look at the HTML of the site the publish steps built (tests/conftest.py: the session's one
build, mike's, strict): a build can pass while a page is broken (raw JSON, unrendered fences,
a third-party script). Every page of both languages is checked here, statically."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from tools import facts
from tools.pages import docs_pages
from tools.checks import built_page, page_budget
from tools.pages.docs_pages import DOCS, ROOT, pages, scan_fences, url

pytestmark = pytest.mark.site


@pytest.fixture(scope="module")
def site(published):
    return published["site"] / facts.torch_minor()


def built(site: Path, page: Path) -> Path:
    return site / url(page) / "index.html"


ALL = [p for lang in ("ko", "en") for p in pages(lang)]
ids = [str(p.relative_to(DOCS)) for p in ALL]


@pytest.mark.parametrize("page", ALL, ids=ids)
def test_page_is_built_in_its_language(site, page):
    html = built(site, page)
    assert html.exists(), f"{page.relative_to(ROOT)} was not built to {html.relative_to(site)}"
    assert built_page.parse(html).get("lang") == page.relative_to(DOCS).parts[0]


@pytest.mark.parametrize("page", ALL, ids=ids)
def test_language_switcher_lands_on_the_same_page(site, page):
    html = built(site, page)
    alternates = {a.get("hreflang"): a.get("href") for a in built_page.parse(html).xpath("//a[@hreflang]")}
    assert set(alternates) == {"ko", "en"}
    for lang, href in alternates.items():
        # relative, so that it stays inside /<version>/ under mike (tools/site/theme_fixes.py)
        assert not href.startswith(("/", "http")), f"{lang} link {href} on {html}"
        target = (html.parent / href).resolve() / "index.html"
        twin = DOCS.joinpath(lang, *page.relative_to(DOCS).parts[1:])
        assert target == built(site, twin).resolve(), f"{lang} link {href} on {html}"


@pytest.mark.parametrize("page", ALL, ids=ids)
def test_nothing_is_loaded_from_another_host(site, page):
    text = built(site, page).read_text(encoding="utf-8")
    remote = [u for u in page_budget.loads(built(site, page))[0] if re.match(r"^(https?:)?//", u)]
    assert not remote, remote
    assert "fonts.googleapis" not in text and "fonts.gstatic" not in text
    # Material fetches star counts from api.github.com for this component (overrides/)
    assert 'data-md-component="source"' not in text


@pytest.mark.parametrize("page", ALL, ids=ids)
def test_code_blocks_are_rendered(site, page):
    text = built(site, page).read_text(encoding="utf-8")
    fences = scan_fences(page)
    classes = built_page.parse(built(site, page)).xpath("//@class")
    for run, fenced in ((True, sum(f.info == "python" for f in fences)),
                        (False, sum(f.info.startswith("{.python") for f in fences))):
        # never run by pytest-codeblocks: {.python .no-run}, an exercise's starter and check
        rendered = sum(1 for c in classes
                       if c.split()[0] == "language-python" and (not {"no-run", "exercise", "check"} & set(c.split())) == run)
        assert rendered == fenced, f"{fenced} python fences (run={run}) on the page, {rendered} rendered"
    article = text.split('<article', 1)[1].split("</article>", 1)[0]
    visible = re.sub(r"<[^>]+>", "", article)
    leftovers = [line for line in visible.splitlines() if re.match(r"^\s*(```|~~~|!!! |=== \")", line)]
    assert not leftovers, f"Markdown left unrendered: {leftovers[:3]}"


@pytest.mark.parametrize("page", ALL, ids=ids)
def test_diagrams_are_drawn_svg_and_no_mermaid_is_loaded(site, page):
    text = built(site, page).read_text(encoding="utf-8")
    fences = sum(f.info == "mermaid" for f in scan_fences(page))
    assert len(re.findall(r'<div class="diagram" style="--diagram-width: [\d.]+px"><svg id="diagram-', text)) == fences
    assert 'class="mermaid"' not in text and "mermaid-11" not in text  # 1 MB gzipped saved


def heading_ids(html: Path) -> list[str]:
    return built_page.parse(html).xpath("//h1/@id | //h2/@id | //h3/@id | //h4/@id")


def test_korean_headings_get_readable_anchors(site):
    for page in pages("ko"):
        found = heading_ids(built(site, page))
        assert not [i for i in found if re.fullmatch(r"_\d*", i)], found
    assert "실행하며-정의define-by-run" in heading_ids(site / "intro" / "index.html")


def test_theme_features_and_versioning_are_on(site):
    text = (site / "index.html").read_text(encoding="utf-8")
    for feature in ("content.code.copy", "content.code.annotate", "search.highlight"):
        assert f'"{feature}"' in text
    assert '"provider": "mike"' in text
    assert 'href="https://github.com/' in text and "/edit/main/docs/ko/index.md" in text
    assert "__palette_1" in text  # the light/dark toggle


@pytest.mark.parametrize("home, lang", [("index.html", "ko"), ("en/index.html", "en")])
def test_interface_text_is_in_the_pages_language(site, home, lang):
    """Material's palette toggle and footer credit, and the navigation: no text of the other
    language, and no section named like the site (shown above the navigation)."""
    text = (site / home).read_text(encoding="utf-8")
    toggles = re.findall(r'<label class="md-header__button md-icon" title="([^"]+)"', text)
    credit = re.search(r'<div class="md-copyright">(.*?)</div>', text, re.S).group(1)
    credit = " ".join(re.sub(r"<[^>]+>", "", credit).split())
    assert len(toggles) == 2, toggles
    if lang == "ko":
        assert all(re.search("[가-힣]", t) and not re.search("[a-z]", t) for t in toggles), toggles
        assert credit == "Material for MkDocs로 만들었습니다", credit
    else:
        assert not [t for t in toggles if re.search("[가-힣]", t)], toggles
        assert credit == "Made with Material for MkDocs", credit
    site_name = re.search(r'<label class="md-nav__title" for="__drawer">.*?</a>\s*([^<]+?)\s*</label>', text, re.S).group(1)
    sections = re.findall(r'<label class="md-nav__link" for="__nav_\d+"[^>]*>\s*<span class="md-ellipsis">\s*([^<]+?)\s*</span>', text)
    assert sections and site_name not in sections, (site_name, sections)


@pytest.mark.parametrize("lang, other, heading", [("ko", "en", "설치 확인"), ("en", "ko", "Checking the install")])
def test_one_search_index_per_language_without_notebooks_code_or_outputs(site, lang, other, heading):
    """tools/site/search_index.py: each language's pages search their own index (the browser side
    is tests/test_published_site.py); what a reader does not search for is not in it."""
    assert not (site / "search" / "search_index.json").exists(), "the merged index of both languages is back"
    index = json.loads((site / "search" / f"search_index.{lang}.json").read_text(encoding="utf-8"))
    assert index["config"]["lang"] == [lang]
    docs = index["docs"]
    assert heading in json.dumps(docs, ensure_ascii=False)
    assert all(d["location"].startswith("en/") == (lang == "en") for d in docs)
    assert not [d["location"] for d in docs if "notebooks/" in d["location"]]
    assert not [d["location"] for d in docs if "<pre>" in d["text"]], "code blocks or outputs are indexed"
    autograd = next(d for d in docs if d["location"] == ("" if lang == "ko" else "en/") + "autograd/")
    assert autograd["title"] and "keywords" in index["config"]["fields"]


def test_material_fetches_the_index_of_the_pages_language(site):
    bundle = next((site / "assets" / "javascripts").glob("bundle.*.min.js")).read_text(encoding="utf-8")
    assert '"search/search_index."+document.documentElement.lang+".json"' in bundle
    assert '"search/search_index.json"' not in bundle


HTML_FILES = "**/*.html"
REMOTE = re.compile(r"""(?:https?:)?//(?!www\.w3\.org/)[a-z0-9.-]+\.[a-z]{2,}""", re.I)
CODE_TAG = re.compile(r"""<(?:script|iframe|embed|object)\b[^>]*\s(?:src|data)=["']((?:https?:)?//[^"']+)"""
                      r"""|<link\b[^>]*\srel=["'](?:stylesheet|preload|modulepreload|import)["'][^>]*\shref=["']((?:https?:)?//[^"']+)""", re.I)


def test_no_page_can_load_code_from_another_host(site):
    """Every HTML file of the build, executed notebooks and 404 included: no script, frame or
    stylesheet from another host, and no inline script or style that names one (nbconvert's
    page imported Mermaid from cdnjs.cloudflare.com at run time: tools/site/notebook_pages.py)."""
    found = []
    for page in sorted(site.glob(HTML_FILES)):
        text = page.read_text(encoding="utf-8")
        found += [f"{page.relative_to(site)}: {a or b}" for a, b in CODE_TAG.findall(text)]
        for body in re.findall(r"<(?:script|style)\b[^>]*>(.*?)</(?:script|style)>", text, re.S | re.I):
            found += [f"{page.relative_to(site)}: inline code names {u}" for u in REMOTE.findall(body)]
    assert not found, "\n".join(found[:20])


def test_every_page_is_within_the_first_visit_budget(site):
    """400 KB (gzip, as GitHub Pages serves it) on a first visit, search index included, every
    page (tools/page_budget.first_visit; the browser test checks it against Chromium)."""
    over = []
    for path in page_budget.page_urls(site):
        files = page_budget.first_visit(site, path)
        if sum(files.values()) > page_budget.BUDGET:
            top = sorted(files.items(), key=lambda kv: -kv[1])[:3]
            over.append(f"/{path}: {sum(files.values()) / 1024:.0f} KB, largest {[(f, b // 1024) for f, b in top]}")
    assert not over, "\n".join(over)


def notebook_pages():
    from tools.pages.make_notebooks import NOTEBOOKS

    return sorted(p for lang in ("ko", "en") for p in (DOCS / lang / NOTEBOOKS).rglob("*.ipynb"))


@pytest.mark.parametrize("notebook", notebook_pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_executed_notebook_is_a_rendered_page(site, notebook):
    # mkdocs-static-i18n turns notebook pages into raw JSON unless tools/site/notebook_pages.py
    # fixes it, and --strict passes either way: look at the HTML.
    page = built(site, notebook)
    text = page.read_text(encoding="utf-8")
    assert '"cell_type"' not in text, "raw notebook JSON instead of a page"
    assert text.count("jp-CodeCell") >= 1 and "jp-OutputArea-output" in text, "no executed cells"
    assert "%pip install" not in text  # the install cell is for Colab, not the build
    from tools.pages.make_notebooks import stored_outputs

    # the outputs shown are the stored ones (`make outputs`): the build executes nothing
    first = next(o for o in stored_outputs(notebook) if o.strip()).splitlines()[0]
    assert html.escape(first, quote=False) in text
    assert (page.parent / notebook.name).exists(), "the .ipynb to download is missing"


@pytest.mark.parametrize("page", ALL, ids=ids)
def test_chapter_pages_offer_script_notebook_colab_and_run_time(site, page):
    from tools.pages.docs_pages import notebook_path
    from tools.pages.make_notebooks import colab_url

    text = built(site, page).read_text(encoding="utf-8")
    if not notebook_path(page).exists():
        assert "chapter-links" not in text
        return
    assert colab_url(page) in text
    runtime = re.search(r'<p class="chapter-runtime"[^>]*>([^<]+)</p>', text)
    assert runtime and re.search(r"CPU (\d|0\.1 초 미만|under 0\.1 s)", runtime.group(1)), "the CPU run time is missing"
    # which PyTorch and which day, from the run that made the outputs (tools/run/outputs.py)
    assert re.search(r"PyTorch \d+\.\d+\.\d+\S*, .*\d{4}-\d\d-\d\d", runtime.group(1)), runtime.group(1)
    assert " 0.0 " not in runtime.group(1), "a time that rounds to 0.0 says it is under 0.1 s"
    script = re.search(r'href="([^"]+\.py)" download', text).group(1)
    assert (built(site, page).parent / script).exists()


def test_install_page_shows_each_torch_result_file(site):
    """The compatibility table is made from docs/assets/compat/ at build time (tools/run/compat.py)."""
    from tools.run import compat

    results = compat.load_results()
    assert len(results) >= 2, "the table needs the pinned torch and at least one other run"
    for lang in ("ko", "en"):
        text = built(site, DOCS / lang / "intro.md").read_text(encoding="utf-8")
        assert docs_pages.COMPAT_TABLE not in text
        for data in results:
            assert f"<th>torch {data['torch']}<br>" in text, f"{lang}: no column for torch {data['torch']}"
        table = text[text.index(f"<th>torch {results[0]['torch']}<br>"):]
        rows = table[:table.index("</table>")].count("<tr>")  # after the header row
        assert rows == len(compat.chapters()), f"{lang}: {rows} rows for {len(compat.chapters())} chapters"


def test_search_dialog_has_a_name(site):
    """Screen readers announce a dialog by its name (Lighthouse: aria-dialog-name)."""
    assert 'role="dialog" aria-label="검색"' in (site / "index.html").read_text(encoding="utf-8")
    assert 'role="dialog" aria-label="Search"' in (site / "en" / "index.html").read_text(encoding="utf-8")


PROSE = ("//article//text()[not(ancestor::pre or ancestor::code or ancestor::script or ancestor::style or "
         "ancestor::math or ancestor::div[contains(concat(' ', @class, ' '), ' clipboard-copy-txt ')])]")


def has_math(page: Path) -> bool:
    """The page's Markdown writes LaTeX ($…$ or $$…$$) outside code."""
    prose = re.sub(r"```.*?```|`[^`\n]*`", "", page.read_text(encoding="utf-8"), flags=re.S)
    return bool(re.search(r"\$[^\s$][^$]*\$", prose))


@pytest.mark.parametrize("page", ALL + notebook_pages(), ids=ids + [str(p.relative_to(DOCS)) for p in notebook_pages()])
def test_formulas_are_typeset_as_mathml(site, page):
    """tools/site/mathml.py: LaTeX becomes MathML at build time; none is left as raw LaTeX."""
    source = page
    if page.suffix == ".ipynb":  # its prose comes from its chapter's page
        lang, _, rest = page.relative_to(DOCS).as_posix().partition("/notebooks/")
        source = DOCS / lang / Path(rest).with_suffix(".md")
    tree = built_page.parse(built(site, page))
    # the article's prose: not code, nor mkdocs-jupyter's hidden copy of each code cell (PROSE)
    text = "".join(tree.xpath(PROSE))
    if has_math(source):
        assert tree.xpath("//math"), f"{page.relative_to(ROOT)} writes formulas but its page has no MathML"
    leftover = re.findall(r".{0,30}(?:\$|\\\(|\\\[).{0,30}", text)
    assert not leftover, f"raw LaTeX on the page: {leftover[:5]}"


@pytest.mark.parametrize("chapter", ["cnn", "attention", "en/debugging"])
def test_indexing_a_page_without_its_code_indexes_the_same(site, chapter):
    """tools/site/search_index.py hands Material's indexer each page without its <pre> blocks
    (a warm build 27 % faster): on a built chapter, with its code marked as the build marks it,
    Material's own parser finds the same sections with and without them."""
    from material.plugins.search.plugin import Parser

    from tools.site import search_index

    page = (site / chapter / "index.html").read_text(encoding="utf-8")
    article = re.search(r'<article class="md-content__inner md-typeset">(.*)</article>', page, re.S).group(1)
    marked = search_index.on_page_content(article, None, None, None)

    def sections(text: str) -> list[tuple]:
        parser = Parser()
        parser.feed(text)
        parser.close()
        return [(s.id, s.title, s.text) for s in parser.data if not s.is_excluded()]

    full = sections(marked)
    assert len(full) > 5 and full == sections(search_index.PRE.sub("<pre></pre>", marked))


@pytest.mark.parametrize("page", ALL, ids=ids)
def test_no_list_item_runs_into_the_one_before(site, page):
    """A display formula inside a list item ended the item's indentation once, and the next item
    became text of the paragraph before ("...입니다. - 평가 모드..."): no paragraph starts a line
    with a list marker. (A line "1. …" inside a paragraph is a list in Jupyter and Colab, whose
    CommonMark lets it interrupt the paragraph: rewrap it.)"""
    text = built(site, page).read_text(encoding="utf-8")
    swallowed = [p for p in re.findall(r"<p>(.*?)</p>", text, flags=re.S) if re.search(r"\n\s*(?:[-*+]|\d+\.) ", p)]
    assert not swallowed, f"{page.relative_to(ROOT)}: a list item inside a paragraph: {swallowed[0][:120]!r}"


@pytest.mark.parametrize("page", ALL, ids=ids)
def test_every_figure_comes_in_a_light_and_a_dark_twin_of_one_size(site, page):
    """tools/site/figure_palette.py: Material shows `#only-light` in the light palette and
    `#only-dark` in the dark one; both lazy, so a visit fetches one."""
    imgs = re.findall(r"<img\b[^>]*>", built(site, page).read_text(encoding="utf-8"))
    figures = [t for t in imgs if "assets/figures/" in t]
    attrs = [dict(re.findall(r'(\w+)="([^"]*)"', t)) for t in figures]
    light = [a for a in attrs if a["src"].endswith(".png#only-light")]
    dark = [a for a in attrs if a["src"].endswith(".dark.png#only-dark")]
    assert len(light) + len(dark) == len(figures), f"{page.relative_to(ROOT)}: a figure without its twin"
    for a, b in zip(light, dark, strict=True):
        assert b["src"] == a["src"].replace(".png#only-light", ".dark.png#only-dark")
        assert (a["width"], a["height"], a["loading"]) == (b["width"], b["height"], b["loading"]) and a["loading"] == "lazy"
