"""axe-core over every page of the built site, in both palettes.

    python -m tools.checks.accessibility [--www DIR] [--json FILE] [--no-cache]

Serves the version folder the publish steps built (default: build/publish/latest, the site
`make test` published) on 127.0.0.1, opens every page (404 included) in headless Chromium
with the light and the dark palette, runs axe-core (npm, pinned in the Makefile: `make axe`)
with the WCAG 2.0 A/AA and 2.1 A/AA rules, and prints each page's violations per palette.
tests/test_accessibility.py runs the same audit and fails on any violation.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools import facts
from tools.browser import launch, serve
from tools.checks.page_budget import page_urls
from tools.facts import ROOT

AXE_VERSION = "4.14.1"  # the Makefile's AXE_VERSION: `make axe` installs exactly this one
AXE = ROOT / ".cache" / f"axe-{AXE_VERSION}" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PALETTES = {"light": ("light", "default"), "dark": ("dark", "slate")}  # name: (prefers-color-scheme, Material scheme)

RUN = """async tags => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return {version: axe.version, violations: result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length,
    target: v.nodes[0].target.join(" "), html: v.nodes[0].html.slice(0, 200),
    summary: (v.nodes[0].failureSummary || "").slice(0, 300)}))};
}"""


def page_paths(site: Path) -> list[str]:
    """Every built page of a version folder, as a path below it: "", "intro/", …, "404.html"."""
    return page_urls(site) + sorted(str(p.relative_to(site)) for p in site.rglob("404.html"))


def audit(base: str, paths: list[str], browser=None) -> dict[tuple[str, str], list[dict]]:
    """{(path, palette): violations} for every page in both palettes (a Playwright browser
    may be given; else one is started).

    One tab, each page loaded once: axe runs in the palette the page opened with, then the
    palette toggle is clicked (as a reader does) with the system setting switched to match,
    and axe runs again. The next page opens in that palette (Material keeps the choice), so
    the palettes take turns being the first. Material's CSS reads only body's
    data-md-color-* attributes (no prefers-color-scheme query), checked after every switch:
    the state is the one a reader with that system setting gets on a first visit. A page
    that does not show the palette asked for gets a `palette-not-applied` violation, one
    whose version selector never appears a `version-selector-missing` one."""
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            started = launch(p)
            try:
                return audit(base, paths, started)
            finally:
                started.close()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if not AXE.exists():
        raise SystemExit(f"error: {AXE.relative_to(ROOT)} is missing: run `make axe`")
    found = {}
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    context.add_init_script(AXE.read_text(encoding="utf-8"))
    # Material's search worker downloads and indexes the whole site's text on every page
    # load (~0.3 s of CPU here); its results appear only after a query is typed, never in
    # the page axe sees. An empty index saves that. (Search itself: test_published_site.py.)
    context.route("**/search/search_index*.json", lambda route: route.fulfill(
        content_type="application/json", body=json.dumps({"config": {"lang": ["en"], "separator": "[\\s]+"}, "docs": []})))
    tab = context.new_page()
    palette = "light"
    try:
        for path in paths:
            tab.goto(base + path, wait_until="load")
            # The version selector is built once versions.json has arrived: audit the page whole.
            ready = tab.locator(".md-version__current")
            with contextlib.suppress(PlaywrightTimeout):  # reported below, in both palettes
                ready.wait_for(state="attached", timeout=10_000)
            for turn in range(2):
                if turn:
                    palette = "dark" if palette == "light" else "light"
                    tab.emulate_media(color_scheme=PALETTES[palette][0])
                    tab.locator("form[data-md-component=palette] label:visible").first.click()
                    tab.wait_for_function("!document.body.hasAttribute('data-md-color-switching')")
                shown = tab.evaluate("document.body.getAttribute('data-md-color-scheme')")
                result = tab.evaluate(RUN, TAGS)
                if result["version"] != AXE_VERSION:
                    raise RuntimeError(f"axe-core {result['version']} ran, {AXE_VERSION} is pinned")
                found[path, palette] = result["violations"]
                if not ready.count():
                    found[path, palette].insert(0, {
                        "id": "version-selector-missing", "impact": "serious", "nodes": 1, "target": ".md-header",
                        "html": "", "summary": "Material's version selector did not appear within 10 s (versions.json?)"})
                if shown != PALETTES[palette][1]:  # not the palette we meant to check: say so
                    found[path, palette].insert(0, {
                        "id": "palette-not-applied", "impact": "serious", "nodes": 1, "target": "body",
                        "html": f'<body data-md-color-scheme="{shown}">',
                        "summary": f"the {palette} palette was asked for, the page shows {shown!r}"})
                    palette = {v[1]: k for k, v in PALETTES.items()}.get(shown, palette)
    finally:
        context.close()
    return found


CACHE = ROOT / ".cache" / "axe-results.json"
LOOK = {".css", ".js", ".woff", ".woff2", ".ttf", ".otf"}  # what a page's DOM and styles come from
UNSEEN = ("search/", "sitemap.xml")  # not in any page axe sees (the index is stubbed above)


def page_keys(site: Path, www: Path, paths: list[str], browser_version: str) -> dict[str, str]:
    """A key per page for everything its audit depends on: the page's HTML, what shapes the
    DOM and its computed styles (every stylesheet, script and font of the version),
    versions.json, axe and its rules, this file, and the browser. Equal key, equal result:
    the audit is deterministic. Images, notebooks and the chapters' .py files are not in it:
    axe reads an image's alt text from the HTML, not its pixels, so a chapter whose code
    changed re-audits its own pages only."""
    shared = hashlib.sha256()
    for f in sorted(site.rglob("*")):
        rel = f.relative_to(site).as_posix()
        if f.is_file() and f.suffix in LOOK and not rel.startswith(UNSEEN):
            shared.update(rel.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    for f in sorted(www.rglob("versions.json")):
        shared.update(f.read_bytes())
    for part in (AXE.read_bytes(), json.dumps(TAGS).encode(), Path(__file__).read_bytes(), browser_version.encode()):
        shared.update(hashlib.sha256(part).digest())
    common = shared.hexdigest()
    keys = {}
    for path in paths:
        html = site / (path if path.endswith(".html") else path + "index.html")
        keys[path] = hashlib.sha256(common.encode() + html.read_bytes()).hexdigest()
    return keys


def run(www: Path, cache: bool = True, workers: int = 2) -> dict:
    """The audit of the version the publish steps put under www (gh-pages as served): every
    page, both palettes. Served from www itself: 404.html's links are site-absolute.

    Pages whose key (page_keys) is the same as in the last run take that run's result from
    .cache/axe-results.json: a `make test` after changing one page audits that page (a
    change to a stylesheet, a script or the navigation changes every page's key). The first
    run, and every CI run (a fresh checkout), audits all of them."""
    from playwright.sync_api import sync_playwright

    site = www / facts.site_path().strip("/") / facts.torch_minor()
    if not site.is_dir():
        raise SystemExit(f"error: no built site at {site}: run `make test` (or python -m tools.checks.publish_local)")
    paths = page_paths(site)
    known = {}
    if cache and CACHE.exists():
        with contextlib.suppress(ValueError):  # a file that can't be read: every page is audited
            known = json.loads(CACHE.read_text(encoding="utf-8"))
    server, root = serve(www)
    start = time.perf_counter()
    try:
        with sync_playwright() as p:
            browser = launch(p)
            keys = page_keys(site, www, paths, browser.version)
            browser.close()
        todo = [path for path in paths if keys[path] not in known]
        # Two browsers, each with every other page: when the other tests leave a core idle,
        # the audit takes it. (Each thread has its own Playwright, as its sync API requires.)
        base = root + str(site.relative_to(www)) + "/"
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = pool.map(lambda share: audit(base, share), [todo[i::workers] for i in range(workers) if todo[i::workers]])
            found = {k: v for part in parts for k, v in part.items()}
    finally:
        server.shutdown()
    results = {keys[path]: known.get(keys[path]) or {palette: found[path, palette] for palette in PALETTES}
               for path in paths}
    if cache:
        from tools.pages.generated import write_atomically

        write_atomically(CACHE, json.dumps(results, ensure_ascii=False))
    return {"axe": AXE_VERSION, "tags": TAGS, "seconds": round(time.perf_counter() - start, 1),
            "built": len(paths), "audited": len(todo), "from_cache": len(paths) - len(todo),
            "pages": [{"path": path, "palette": palette, "violations": results[keys[path]][palette]}
                      for path in paths for palette in PALETTES]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--www", type=Path, default=facts.LATEST / "www",
                        help="gh-pages as published (default: what `make test` published)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-cache", action="store_true", help="audit every page, even those unchanged since the last run")
    parser.add_argument("--workers", type=int, default=2, help="browsers auditing side by side (default: 2)")
    args = parser.parse_args(argv)
    report = run(args.www.resolve(), cache=not args.no_cache, workers=max(1, args.workers))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    bad = [p for p in report["pages"] if p["violations"]]
    for p in bad:
        rules = ", ".join(f"{v['id']} ({v['nodes']})" for v in p["violations"])
        print(f"{'/' + p['path']:45} {p['palette']:5}  {rules}")
    print(f"axe-core {report['axe']} ({', '.join(report['tags'])}): {report['built']} pages x 2 palettes, "
          f"{report['audited']} audited in {report['seconds']} s, {report['from_cache']} unchanged since the last "
          f"run; {len(bad)} page-palette pairs with violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
