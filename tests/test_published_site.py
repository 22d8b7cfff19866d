"""The site as readers get it: gh-pages as the publish steps left it (tests/conftest.py,
next to an older version), served over HTTP on 127.0.0.1 under site_url's path as GitHub
Pages serves it, checked for links and anchors on every page, and used in a real Chromium
(Playwright) on a representative set of pages (tests/test_site.py checks every page's HTML).

Screenshots of the home page and one chapter, in both languages and both palettes, are
saved under build/screenshots/ (the workflow uploads them).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tools import facts
from tools import browser as browser_tools
from tools.checks import built_page, page_budget, publish_local, search_check
from tools.pages.docs_pages import DOCS, ROOT, pages
from tools.pages.docs_pages import url as url_of

OLDER = publish_local.OLDER
VERSION = facts.torch_minor()
SHOTS = ROOT / "build" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def served(published):
    """(base URL of gh-pages, the folder it is served from)."""
    server, base = browser_tools.serve(published["www"])
    yield f"{base}{facts.site_path().lstrip('/')}", published["www"]
    server.shutdown()


# ---- publishing (no browser needed) ----

def test_versions_json_lists_both_versions(served):
    base, _ = served
    versions = json.load(urllib.request.urlopen(base + "versions.json"))
    assert {v["version"] for v in versions} == {VERSION, OLDER}
    assert next(v for v in versions if v["version"] == VERSION)["aliases"] == ["latest"]


def test_root_redirects_to_latest(served):
    base, _ = served
    html = urllib.request.urlopen(base).read().decode()
    assert 'url=latest/' in html and 'window.location.replace(\n      "latest/"' in html


def test_switcher_stays_inside_the_version(served):
    base, _ = served
    for page in pages("ko") + pages("en"):
        url = f"{base}{VERSION}/{url_of(page)}"
        html = urllib.request.urlopen(url).read().decode()
        for href, lang in re.findall(r'<a href="([^"]*)" hreflang="(\w+)"', html):
            target = urljoin(url, href)
            twin = DOCS.joinpath(lang, *page.relative_to(DOCS).parts[1:])
            assert target == f"{base}{VERSION}/{url_of(twin)}", (url, lang, href)
            assert urllib.request.urlopen(target).status == 200


@functools.cache
def ids(html: Path) -> set[str]:
    return set(built_page.parse(html).xpath("//@id"))


def test_no_broken_internal_links_or_anchors(served):
    _, www = served
    www = www.resolve()
    broken = []
    # `latest` is mike's alias, a link to the version's folder: each page's links are checked once
    pages = {html.resolve() for version in (VERSION, "latest") for html in (www / facts.site_path().strip("/") / version).rglob("*.html")}
    for html in sorted(pages):
        for href in built_page.parse(html).xpath("//a/@href | //img/@src | //script/@src | //link/@href"):
            if re.match(r"^(https?:|mailto:|//|data:)", href):
                continue
            path, anchor = urldefrag(href)
            link = urlsplit(path).path
            # "/2.14/x/" (404.html's links are site-absolute) is relative to the server root
            base = www if link.startswith("/") else html.parent
            target = (base / link.lstrip("/")).resolve() if path else html
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{html.relative_to(www)}: {href}")
            elif anchor and target.suffix == ".html" and unquote(anchor) not in ids(target):
                broken.append(f"{html.relative_to(www)}: {href} (no such anchor)")
    assert not broken, "\n".join(broken[:20])


# ---- in a real browser ----

@pytest.fixture(scope="module")
def visitor(browser, served):
    """One tab for the module's tests (each new one cost Chromium about 1 CPU-s): it records
    console errors and the requests to other hosts, which fail (tools/browser.ARGS)."""
    context = browser.new_context(viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=re.match(r"http://[^/]+", served[0]).group(0))
    page = context.new_page()
    page.errors, page.foreign = [], []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))

    def failed(r):  # tools/browser.ARGS: no other host resolves
        if urlsplit(r.url).hostname not in ("127.0.0.1", None):
            page.foreign.append(r.url)

    page.on("requestfailed", failed)
    yield page
    context.close()


@pytest.fixture
def tab(visitor):
    """The module's tab as a new one: blank, desktop-sized, no storage, nothing recorded."""
    visitor.errors.clear()
    visitor.foreign.clear()
    visitor.set_viewport_size(DESKTOP)
    yield visitor
    if visitor.url.startswith("http"):
        visitor.evaluate("localStorage.clear(); sessionStorage.clear()")  # Material keeps the palette there
    visitor.goto("about:blank")


# In the browser, one page of each kind (tests/test_site.py checks every page's HTML): the
# homes, chapters with figures, a drawn diagram, annotations and tabs, a how-to, and
# executed-notebook views (nbconvert's page would import Mermaid from a CDN).
IN_THE_BROWSER = [DOCS / p for p in (
    "ko/index.md", "en/index.md", "ko/linear-regression.md", "en/gpu-distributed.md", "ko/tensors.md", "ko/cnn.md",
    "en/how-to/data.md", "ko/notebooks/intro.ipynb", "ko/notebooks/rnn.ipynb", "en/notebooks/how-to/data.ipynb")]


@pytest.mark.parametrize("page", IN_THE_BROWSER, ids=[str(p.relative_to(DOCS)) for p in IN_THE_BROWSER])
def test_page_loads_clean_and_downloads_its_own_language_index_only(tab, served, page):
    base, _ = served
    fetched = []

    def search_request(r):
        if "/search/" in r.url:
            fetched.append(r.url.rsplit("/", 1)[-1])

    tab.on("request", search_request)
    try:
        browser_tools.open_settled(tab, f"{base}{VERSION}/{url_of(page)}")
    finally:
        tab.remove_listener("request", search_request)
    assert tab.locator("article h1").count() == 1
    assert fetched == [f"search_index.{page.relative_to(DOCS).parts[0]}.json"], fetched
    assert not tab.errors, tab.errors
    assert not tab.foreign, f"requests to other hosts: {tab.foreign}"


def test_a_request_to_another_host_is_refused_and_recorded(tab):
    """What `not tab.foreign` relies on: Chromium resolves no host but this one (tools/browser.ARGS)."""
    tab.set_content('<img src="https://example.com/pixel.png">')
    tab.wait_for_load_state("networkidle")
    assert tab.foreign == ["https://example.com/pixel.png"]


def search(tab, url: str, query: str) -> list[str]:
    tab.goto(url, wait_until="networkidle")
    box = tab.locator("input.md-search__input")
    box.fill(query)
    # Material reads the query on focus, on keyup and when its index is ready; `fill` sends
    # only input events, so when the index was ready first the query went unread (the old
    # flakiness). A reader's last keystroke sends keyup, and so does this one.
    box.press("End")
    tab.wait_for_selector(".md-search-result__item", state="attached", timeout=30_000)
    return [a.get_attribute("href") for a in tab.locator(".md-search-result__link").all()]


@pytest.mark.parametrize("lang, query, expected", [
    ("ko", "텐서", "tensors/"),
    ("ko", "자동 미분", "autograd/"),
    ("en", "tensor", "en/tensors/"),
])
def test_search_finds_the_chapter(tab, served, lang, query, expected):
    base, _ = served
    start = f"{base}{VERSION}/" + ("" if lang == "ko" else "en/")
    found = {urlsplit(urljoin(start, h))._replace(query="", fragment="").geturl() for h in search(tab, start, query)}
    assert f"{base}{VERSION}/{expected}" in found, sorted(found)


# ---- search: one index per language, queries readers type (tools/checks/search_check.py) ----

@pytest.fixture(scope="module")
def search_results(browser, served):
    base, _ = served
    return search_check.run(browser, f"{base}{VERSION}/", search_check.queries())


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_query_finds_its_teaching_page_and_nothing_in_the_other_language(search_results, lang):
    """tests/search_queries.yml and every glossary term: the teaching page among the first
    three results, no result in the other language."""
    mine = {q: r for q, r in search_results.items() if q.lang == lang}
    assert len(mine) >= {"ko": 30, "en": 15}[lang]
    assert all(r["index"] == f"search/search_index.{lang}.json" for r in mine.values())
    misses = [line for line in search_check.report(mine) if line.startswith("  miss")]
    assert not misses, "\n".join(misses)


@pytest.mark.parametrize("path, query, expected", [("", "자동미분", "autograd/"),
                                                   ("en/", "backpropagation", "en/autograd/")])
def test_a_pasted_query_searches_without_a_key(tab, served, path, query, expected):
    """A paste with the mouse is an input event and no key; Material alone waits for keyup
    (overrides/main.html gives it one)."""
    base, _ = served
    start = f"{base}{VERSION}/{path}"
    tab.goto(start, wait_until="networkidle")
    tab.locator("input.md-search__input").click()
    tab.wait_for_timeout(500)  # the index is set up and the empty box read on focus
    tab.evaluate("q => document.execCommand('insertText', false, q)", query)  # an input event only
    first = tab.locator(".md-search-result__item .md-search-result__link").first
    first.wait_for(state="attached", timeout=10_000)
    href = urlsplit(urljoin(start, first.get_attribute("href")))._replace(query="", fragment="").geturl()
    assert href == f"{base}{VERSION}/{expected}"


def test_first_visit_bytes_are_what_chromium_downloads(browser, published):
    """tests/test_site.py holds every page to the budget with page_budget.first_visit, read
    from the HTML; here it is checked against a first visit in Chromium, served with gzip, on
    both homes and the three heaviest pages."""
    site = published["site"] / VERSION
    totals = {p: sum(page_budget.first_visit(site, p).values()) for p in page_budget.page_urls(site)}
    heaviest = sorted(totals, key=totals.get)[-3:]
    server, base = page_budget.serve(published["www"])  # as gh-pages: versions.json beside the versions
    try:
        tab = page_budget.cold_tab(browser)
        for path in dict.fromkeys(["", "en/", *heaviest]):
            measured = page_budget.measure(tab, f"{base}{facts.site_path().strip('/')}/{VERSION}/{path}")
            assert not measured["foreign"], measured["foreign"]
            # lazy figures beyond the first screen may stay unloaded: the model is the upper bound
            assert 0.8 * totals[path] <= measured["transferred"] <= totals[path], (path, measured, totals[path])
    finally:
        server.shutdown()


def test_language_switcher_round_trip(tab, served):
    base, _ = served
    tab.goto(f"{base}{VERSION}/intro/", wait_until="networkidle")
    tab.locator(".md-header__option .md-select").first.hover()
    tab.click("a[hreflang=en]")
    tab.wait_for_url(f"{base}{VERSION}/en/intro/")
    tab.locator(".md-header__option .md-select").first.hover()
    tab.click("a[hreflang=ko]")
    tab.wait_for_url(f"{base}{VERSION}/intro/")


def test_version_selector_switches_versions(tab, served):
    base, _ = served
    tab.goto(f"{base}{VERSION}/intro/", wait_until="networkidle")
    selector = tab.locator(".md-version")
    selector.wait_for(timeout=10_000)
    assert VERSION in selector.inner_text()
    tab.hover(".md-version")  # the list opens on hover
    tab.locator(".md-version__link", has_text=OLDER).click()
    # the older release has no intro page: Material lands on that version's home
    tab.wait_for_url(re.compile(rf"{re.escape(base)}{OLDER}/"))


def test_copy_button_copies_the_exact_code(tab, served):
    base, _ = served
    tab.goto(f"{base}{VERSION}/intro/", wait_until="networkidle")
    first_python = tab.locator(".language-python").first
    first_python.hover()
    first_python.locator('button[data-md-type="copy"]').click()
    copied = tab.evaluate("navigator.clipboard.readText()")
    source = (DOCS / "ko" / "intro.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", source, re.S).group(1)
    assert copied.strip("\n") == block.strip("\n")


def test_palette_toggle_and_screenshots(tab, served):
    base, _ = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    for path in ("", "intro/", "en/", "en/intro/"):
        tab.goto(f"{base}{VERSION}/{path}", wait_until="networkidle")
        lang = "en" if path.startswith("en/") else "ko"
        name = f"{path.removeprefix('en/').strip('/') or 'home'}-{lang}"
        schemes = []
        for palette in ("light", "dark"):
            schemes.append(tab.evaluate("document.body.getAttribute('data-md-color-scheme')"))
            tab.screenshot(path=str(SHOTS / f"{name}-{palette}.png"), full_page=False)
            tab.locator("form[data-md-component=palette] label:visible").first.click()
            tab.wait_for_timeout(200)
        assert schemes[0] != schemes[1], schemes


def test_formula_page_in_both_palettes_at_phone_width(tab, served):
    """The convolution output-size formula (the widest on the site) is MathML, readable in both
    palettes, and at phone width it scrolls inside its box instead of widening the page."""
    base, _ = served
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.set_viewport_size({"width": 375, "height": 812})
    tab.goto(f"{base}{VERSION}/cnn/", wait_until="networkidle")
    box = tab.locator("div.arithmatex", has=tab.locator("math")).first
    box.scroll_into_view_if_needed()
    for palette in ("light", "dark"):
        tab.screenshot(path=str(SHOTS / f"formula-cnn-ko-375-{palette}.png"), full_page=False)
        width = tab.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"the page is {width[0]} px wide in a {width[1]} px viewport"
        sizes = box.evaluate("b => [b.scrollWidth, b.clientWidth, getComputedStyle(b).overflowX]")
        assert sizes[0] > sizes[1] and sizes[2] == "auto", sizes  # wider than the phone: it scrolls
        colors = tab.evaluate("""() => [getComputedStyle(document.querySelector('div.arithmatex math')).color,
                                        getComputedStyle(document.body).backgroundColor]""")
        assert colors[0] != colors[1], colors
        tab.locator("form[data-md-component=palette] label:visible").first.click()
        tab.wait_for_timeout(200)
    assert not tab.errors and not tab.foreign, (tab.errors, tab.foreign)


PHONE_READABLE = """() => {
  const boxes = [...document.querySelectorAll('.diagram, div.arithmatex, .md-typeset__scrollwrap')]
    .filter(b => b.offsetParent && b.scrollWidth > b.clientWidth);
  return {
    page: [document.documentElement.scrollWidth, innerWidth],
    unreachable: boxes.filter(b => b.tabIndex !== 0).map(b => b.className),
    diagramText: [...document.querySelectorAll('.diagram svg')].map(s =>
      +(parseFloat(getComputedStyle(s.querySelector('.nodeLabel')).fontSize)
        * s.getBoundingClientRect().width / s.viewBox.baseVal.width).toFixed(1)),
    labelBreak: [...document.querySelectorAll('.diagram .nodeLabel')].map(l => getComputedStyle(l).wordBreak),
  };
}"""


@pytest.mark.parametrize("path", ["intro/", "autograd/", "en/autograd/", "glossary/"])
def test_wide_content_on_a_phone_stays_readable_and_scrolls_in_its_box(tab, served, path):
    """A diagram keeps its text at 11 px or more at phone width (it scrolls instead of
    shrinking), Korean labels break between words, every box that scrolls sideways is a Tab
    stop, and a table's first column stays in view while the rest scrolls."""
    base, _ = served
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto(f"{base}{VERSION}/{path}", wait_until="networkidle")
    # The page's script makes a box a Tab stop on load and on resize; this tab was resized to
    # phone width just before, and that resize can come after the network settles (1 load in 12).
    with contextlib.suppress(PlaywrightTimeout):  # if it never comes, the assertion below names the boxes
        tab.wait_for_function(f"() => ({PHONE_READABLE})().unreachable.length === 0", timeout=5_000)
    seen = tab.evaluate(PHONE_READABLE)
    assert seen["page"][0] <= seen["page"][1], f"the page is {seen['page'][0]} px wide in a {seen['page'][1]} px viewport"
    assert not seen["unreachable"], f"boxes that scroll but Tab never reaches: {seen['unreachable']}"
    assert all(px >= 11 for px in seen["diagramText"]), f"diagram text at {seen['diagramText']} px"
    assert set(seen["labelBreak"]) <= {"keep-all"}, seen["labelBreak"]
    if path == "glossary/":
        wrap = tab.locator(".md-typeset__scrollwrap").first
        first = tab.locator(".md-typeset__scrollwrap td:first-child").first
        wrap.evaluate("w => { w.scrollLeft = 200 }")
        assert wrap.evaluate("w => w.scrollLeft") > 0
        assert first.bounding_box()["x"] >= wrap.bounding_box()["x"] - 1, "the term column scrolled away"
    assert not tab.errors and not tab.foreign, (tab.errors, tab.foreign)
