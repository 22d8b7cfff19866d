"""Accessible in both palettes. axe-core (WCAG 2.0 A/AA and 2.1 A/AA rules, pinned in the
Makefile) finds nothing on any page of the site the publish steps built, 404 included, in the
light and the dark palette; a keyboard reaches every control of a chapter page, in document
order, each with a visible focus ring.

The audit of every page (tools/checks/accessibility.py) is the expensive part, ~1.6 s of CPU per page
for both palettes: it runs in its own process with two browsers, started in the background
as soon as the build is done (a job on the publish, tests/conftest.py), so it
overlaps the other tests; the tests here read its report. A page whose HTML, assets, axe,
audit code and browser are all unchanged since the last run keeps that run's result
(.cache/axe-results.json); a fresh checkout, as in CI, audits every page.
"""

from __future__ import annotations

import atexit
import json
import re
import subprocess
import sys
from pathlib import Path
from textwrap import shorten
from urllib.parse import urlsplit

import pytest

from tools import facts
from tools.checks import accessibility
from tools import browser as browser_tools
from tools.pages.docs_pages import DOCS, ROOT, pages
from tools.pages.docs_pages import url as url_of

VERSION = facts.torch_minor()
SHOTS = ROOT / "build" / "screenshots"
NOTEBOOKS = sorted(DOCS.glob("*/notebooks/**/*.ipynb"))
EXPECTED = [url_of(p) for p in pages("ko") + pages("en") + NOTEBOOKS] + ["404.html"]


def start_in_background(folder: Path, published: dict):
    """Audit every page of this session's build (conftest starts this once the build is
    done), in a process of its own."""
    www = published["www"]
    out, log = folder / "axe.json", (folder / "axe.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "tools.checks.accessibility", "--www", str(www), "--json", str(out)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    atexit.register(proc.kill)  # a session that ends early (-x, -k) does not leave it running
    return www, proc, out, folder / "axe.log"


pytestmark = pytest.mark.background(start=start_in_background, published=True)


@pytest.fixture(scope="module")
def report(started_here):
    www, proc, out, log = started_here
    proc.wait(timeout=900)
    if proc.returncode not in (0, 1) or not out.exists():  # 1: it found violations
        pytest.fail(f"the axe audit failed (exit {proc.returncode}):\n{log.read_text()[-3000:]}", pytrace=False)
    return json.loads(out.read_text(encoding="utf-8"))


def test_axe_is_the_pinned_version_and_ran_on_every_page_in_both_palettes(report, published):
    pinned = re.search(r"^AXE_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert report["axe"] == pinned == accessibility.AXE_VERSION
    assert report["tags"] == ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
    site = published["site"] / VERSION
    built = accessibility.page_paths(site)
    audited = {(p["path"], p["palette"]) for p in report["pages"]}
    assert audited == {(path, palette) for path in built for palette in ("light", "dark")}
    assert sorted(built) == sorted(EXPECTED), "the built pages are not the docs' pages plus 404.html"


def test_a_page_keeps_its_cached_result_only_while_nothing_it_shows_changed(tmp_path):
    site = tmp_path / "pytorch-usage" / VERSION
    for name, text in {"index.html": "home", "intro/index.html": "intro", "assets/extra.css": "a{}",
                       "search/search_index.json": "{}"}.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    paths = ["", "intro/"]

    def keys(browser="chromium 1"):
        return accessibility.page_keys(site, tmp_path, paths, browser)

    before = keys()
    (site / "search" / "search_index.json").write_text('{"docs": []}')  # not in what axe sees
    (site / "intro" / "intro.py").write_text("print(1)")  # a chapter's code: only its pages change
    assert keys() == before
    (site / "intro" / "index.html").write_text("intro, edited")
    edited = keys()
    assert edited[""] == before[""] and edited["intro/"] != before["intro/"]
    (site / "assets" / "extra.css").write_text("a{color:red}")
    restyled = keys()
    assert all(restyled[p] != edited[p] for p in paths)
    assert all(keys("chromium 2")[p] != restyled[p] for p in paths)  # another browser: every page again


@pytest.mark.parametrize("path", EXPECTED, ids=[p or "home" for p in EXPECTED])
def test_no_axe_violation_in_either_palette(report, path):
    url = f"{facts.site_path()}{VERSION}/{path}"  # as served (the audit's own server)
    found = [p for p in report["pages"] if p["path"] == path]
    assert {p["palette"] for p in found} == {"light", "dark"}, f"{url} was not audited in both palettes"
    problems = [f"{url} ({p['palette']} palette): {v['id']} on {v['nodes']} element(s), first "
                f"{v['target']}: {shorten(v['html'], 160, placeholder='…')}\n    {shorten(v['summary'], 240, placeholder='…')}"
                for p in found for v in p["violations"]]
    assert not problems, "\n".join(problems)


# ---- in the foreground: the audit's own check, and the keyboard ----

CANARY = "__canary__.html"
# Dark grey text is fine on white and unreadable on the dark palette; an empty link and a box
# that scrolls but cannot be focused are wrong in both.
DEFECTS = ('<p style="color:#3b3f48">Dark grey text</p><p><a href="#x"><span></span></a></p>'
           '<div style="overflow:auto;width:10em;white-space:nowrap">' + "a box too narrow for its text " * 3 + "</div>")


class CanaryHandler(browser_tools.QuietHandler):
    """gh-pages as published, plus the 404 page with known defects at CANARY."""

    def do_GET(self):
        if not urlsplit(self.path).path.endswith("/" + CANARY):
            return super().do_GET()
        page = Path(self.directory, facts.site_path().strip("/"), VERSION, "404.html").read_text(encoding="utf-8")
        body = page.replace('<article class="md-content__inner md-typeset">',
                            '<article class="md-content__inner md-typeset">' + DEFECTS, 1).encode()
        assert DEFECTS.encode() in body
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def served(published):
    """The base URL of this build's version folder (404 page defects at CANARY)."""
    server, base = browser_tools.serve(published["www"], CanaryHandler)
    yield f"{base}{facts.site_path().lstrip('/')}{VERSION}/"
    server.shutdown()


def test_the_audit_finds_known_defects_and_checks_the_dark_palette_in_dark(browser, served):
    found = accessibility.audit(served, [CANARY], browser)
    rules = {palette: {v["id"] for v in found[CANARY, palette]} for palette in ("light", "dark")}
    assert {"link-name", "scrollable-region-focusable"} <= rules["light"] & rules["dark"], rules
    assert "color-contrast" in rules["dark"] and "color-contrast" not in rules["light"], rules
    assert "palette-not-applied" not in rules["light"] | rules["dark"], rules


# What Tab must reach on a chapter page, in this order (first of each), with a focus ring.
CONTROLS = {
    "version selector": ".md-version__current",
    "palette toggle": "input.md-option",
    "language switch": ".md-select > button",
    "search": "input.md-search__input",
    "download buttons": ".chapter-links a.md-button",
    "copy buttons": "button.md-code__button",
    "annotations": "aside.md-annotation",
}
FOCUSED = """controls => {
  const e = document.activeElement;
  // the palette toggle is a hidden radio button: the label shown is what must be ringed
  const shown = e.matches("input.md-option") ? e.parentElement.querySelector("label:not([hidden])") : e;
  const s = getComputedStyle(shown), box = shown.getBoundingClientRect();
  const prev = window.__focused; window.__focused = e;
  return {
    control: Object.keys(controls).find(k => e.matches(controls[k])) || null,
    element: e.outerHTML.slice(0, 120),
    forward: !prev || Boolean(prev.compareDocumentPosition(e) & Node.DOCUMENT_POSITION_FOLLOWING),
    ring: (!["none", "hidden"].includes(s.outlineStyle) && parseFloat(s.outlineWidth) >= 1
           && !/rgba\\(.*, 0\\)$/.test(s.outlineColor)) || s.boxShadow !== "none",
    outline: `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`,
    visible: box.width > 0 && box.height > 0,
  };
}"""


@pytest.mark.parametrize("palette", ["light", "dark"])
def test_keyboard_reaches_every_control_in_order_with_a_focus_ring(browser, served, palette):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=palette)
    tab = context.new_page()
    try:
        tab.goto(served + "tensors/", wait_until="load")
        tab.locator(".md-version__current").wait_for(state="attached")  # built from versions.json
        assert tab.evaluate("document.body.getAttribute('data-md-color-scheme')") == accessibility.PALETTES[palette][1]
        first, problems = {}, []
        for press in range(400):
            tab.keyboard.press("Tab")
            f = tab.evaluate(FOCUSED, CONTROLS)
            if not (f["forward"] and f["ring"] and f["visible"]):
                problems.append(f"Tab {press + 1}: {f['element']} (forward in the page: {f['forward']}, "
                                f"focus ring: {f['outline']}, visible: {f['visible']})")
            if f["control"] and f["control"] not in first:
                first[f["control"]] = press
                if f["control"] == "annotations":
                    SHOTS.mkdir(parents=True, exist_ok=True)
                    shot = SHOTS / f"keyboard-annotation-tensors-ko-{palette}.png"
                    tab.screenshot(path=str(shot))
            if len(first) == len(CONTROLS):
                break
        assert not problems, "\n".join(problems[:10])
        assert list(first) == list(CONTROLS), f"first reached in this order: {first}; expected {list(CONTROLS)}"
        # the screenshot shows the palette: a dark page is dark
        from PIL import Image, ImageStat

        brightness = ImageStat.Stat(Image.open(shot).convert("L")).mean[0]
        assert (brightness > 150) if palette == "light" else (brightness < 80), f"{shot}: mean brightness {brightness:.0f}"
    finally:
        context.close()
