"""Page budget: what a reader's browser downloads on a first visit (cold cache).

    python -m tools.checks.page_budget [--site DIR] [--lighthouse]

Serves the built site on 127.0.0.1 with gzip, as GitHub Pages does, opens every page in
headless Chromium with an empty cache and prints, per page: bytes transferred (response
bodies as sent, gzip), bytes after decompression, number of requests, requests to other
hosts, and the first contentful paint. The home pages and the heaviest page are summarised
against the budget (400 KB, zero third-party requests).

`first_visit()` computes the same bytes from a page's HTML alone: tests/test_site.py holds
every page to the budget with it, tests/test_published_site.py checks it against this
Chromium measurement on the heaviest pages.

--lighthouse also runs Lighthouse (npm package, pinned in the Makefile) with the same
Chromium on the home page and the heaviest page and prints its performance and
accessibility scores.
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import io
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from tools import browser as browser_tools
from tools import facts
from tools.browser import chromium, launch
from tools.checks import built_page
from tools.facts import ROOT

BUDGET = 400 * 1024
COMPRESSED = {".html", ".css", ".js", ".json", ".svg", ".xml", ".txt", ".map"}


class GzipHandler(browser_tools.QuietHandler):
    """Static files, gzipped for clients that accept it (GitHub Pages does the same).
    Counts the body bytes it sends: the browser's own figures miss the search worker."""

    sent: list[int] = []

    def send_header(self, keyword, value):
        if keyword == "Content-Length":
            GzipHandler.sent.append(int(value))
        super().send_header(keyword, value)

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir() and urlsplit(self.path).path.endswith("/"):
            path = path / "index.html"
        if (not path.is_file() or path.suffix not in COMPRESSED
                or "gzip" not in self.headers.get("Accept-Encoding", "")):
            return super().send_head()  # redirects, 404s, images: as the standard server does
        body = gzip.compress(path.read_bytes(), compresslevel=6)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    return browser_tools.serve(site, GzipHandler)  # as GitHub Pages: gzipped


def page_urls(site: Path) -> list[str]:
    """Every page of the site, executed notebooks included, as a path below its root:
    "", "intro/", "en/intro/", "notebooks/intro/"…"""
    folders = [html.parent.relative_to(site).as_posix() for html in sorted(site.rglob("index.html"))]
    return ["" if rel == "." else f"{rel}/" for rel in folders]


FETCHED_LINKS = {"stylesheet", "icon", "preload", "modulepreload"}


def loads(page: Path) -> tuple[list[str], str, dict]:
    """What a page's HTML makes the browser fetch, its language, and the settings Material's
    script reads."""
    tree = built_page.parse(page)
    urls = tree.xpath("//script/@src")
    urls += [link.get("href") for link in tree.xpath("//link[@href]") if set((link.get("rel") or "").split()) & FETCHED_LINKS]
    urls += [(img.get("src") or img.get("srcset")).split()[0] for img in tree.xpath("//img[@src or @srcset] | //source[@src or @srcset]")]
    config = tree.xpath('//script[@id="__config"]/text()')
    return urls, tree.get("lang", "en"), json.loads(config[0]) if config else {}


@cache  # a published site doesn't change while it is measured; most pages share their assets
def served_bytes(path: Path) -> int:
    body = path.read_bytes()
    return len(gzip.compress(body, compresslevel=6)) if path.suffix in COMPRESSED else len(body)


@cache  # tests/test_site.py and tests/test_published_site.py both read every page of one site
def first_visit(site: Path, path: str) -> dict[str, int]:
    """Bytes a first visit to `path` downloads, per file (site-relative), gzipped as served:
    the page, what its HTML loads (images all counted, lazy or not; of figures shown in one
    palette only, the heavier palette's), and what Material's
    script then fetches: search, and mike's versions.json for the version selector. Data URLs and other hosts are not counted here (other
    hosts fail tests/test_site.py on their own)."""
    page = site / path / "index.html" if not path.endswith(".html") else site / path
    urls, lang, config = loads(page)
    here = page.parent
    files = {page}
    by_palette = {"only-light": set(), "only-dark": set()}  # a visit shows one palette's figures
    for url in urls:
        if url.startswith(("data:", "http:", "https:", "//")):
            continue
        path = (here / urlsplit(url).path).resolve()
        by_palette.get(urlsplit(url).fragment, files).add(path)
    files |= max(by_palette.values(), key=lambda fs: sum(served_bytes(f) for f in fs if f.is_file()))
    search = config.get("search")
    if search:  # Material's search: the worker, the index of the page's language, lunr for it
        worker = (here / search).resolve()
        files.add(worker)
        base = (here / config["base"]).resolve()
        index = base / "search" / f"search_index.{lang}.json"
        files.add(index)
        langs = json.loads(index.read_text(encoding="utf-8"))["config"]["lang"]
        lunr = worker.parent.parent / "lunr" / "min"
        if langs != ["en"]:
            files.add(lunr / "lunr.stemmer.support.min.js")
            files.update(lunr / f"lunr.{lang}.min.js" for lang in langs if lang != "en")
        if len(langs) > 1:
            files.add(lunr / "lunr.multi.min.js")
    if config.get("version"):  # the version selector, where mike publishes the site
        versions = (here / config["base"]).resolve().parent / "versions.json"
        if versions.is_file():
            files.add(versions)
    missing = sorted(str(f) for f in files if not f.is_file())
    if missing:
        raise FileNotFoundError(f"{page}: loads missing files {missing}")
    return {f.relative_to(site.resolve()).as_posix() if f.is_relative_to(site.resolve()) else str(f): served_bytes(f)
            for f in files}


def cold_tab(browser):
    """A tab whose every visit is a first visit: Chromium's cache is off. A new context per
    visit downloaded the same bytes in as many requests, and cost Chromium about 1 CPU-s more."""
    tab = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    cdp = tab.context.new_cdp_session(tab)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    return tab


def measure(tab, url: str) -> dict:
    """One first visit in a cold_tab. Waits until the network is idle, so the search index
    that Material's worker fetches on load is counted too."""
    requests = []
    GzipHandler.sent.clear()

    def seen(r):  # finished, or failed: other hosts resolve nowhere (tools/browser.ARGS)
        requests.append(r)  # (a def: Playwright sets an attribute on its handlers, requests.append takes none)

    for event in ("requestfinished", "requestfailed"):
        tab.on(event, seen)
    try:
        browser_tools.open_settled(tab, url)
    finally:
        for event in ("requestfinished", "requestfailed"):
            tab.remove_listener(event, seen)
    fcp = tab.evaluate("() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null")
    host = urlsplit(url).hostname
    decoded = sum(len(r.response().body()) for r in requests if r.response() is not None)
    foreign = [r.url for r in requests if urlsplit(r.url).hostname not in (host, None)]
    return {"transferred": sum(GzipHandler.sent), "decoded": decoded, "requests": len(GzipHandler.sent) + len(foreign),
            "foreign": foreign, "fcp_ms": fcp}


def kb(n: int) -> str:
    return f"{n / 1024:,.0f} KB"


def lighthouse(url: str, exe: str) -> dict:
    binary = ROOT / ".cache" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        sys.exit(f"error: {binary.relative_to(ROOT)} is missing: run `make page-budget` "
                 "(it installs the pinned Lighthouse from npm)")
    flags = "--headless=new --no-sandbox --disable-gpu --disable-background-networking"
    proc = subprocess.run(
        [str(binary), url, "--quiet", "--output=json", "--output-path=stdout",
         "--only-categories=performance,accessibility", f"--chrome-flags={flags}"],
        capture_output=True, text=True, env=dict(os.environ, CHROME_PATH=exe), timeout=300)
    if proc.returncode:
        sys.exit(f"error: lighthouse failed on {url}:\n{proc.stderr[-2000:]}")
    return {name: round(cat["score"] * 100) for name, cat in json.loads(proc.stdout)["categories"].items()}


def parse_site_args(parser: argparse.ArgumentParser, argv) -> argparse.Namespace:
    """`parser`'s arguments plus --site, a built site that must be there (this and search_check)."""
    published = facts.LATEST / "www" / facts.site_path().strip("/") / facts.torch_minor()
    parser.add_argument("--site", type=Path, default=published,
                        help="a built site (default: the version `make test` or `make publish-local` published)")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        sys.exit(f"error: --site {args.site}: no index.html there; run `make test` or `make publish-local` first")
    return args


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lighthouse", action="store_true", help="also run Lighthouse")
    args = parse_site_args(p, argv)
    from playwright.sync_api import sync_playwright

    # a version mike published is served from gh-pages' root, with versions.json beside it
    mike = (args.site.parent / "versions.json").is_file()
    server, base = serve(args.site.parent if mike else args.site)
    prefix = f"{args.site.name}/" if mike else ""
    results = {}
    with sync_playwright() as pw:
        browser = launch(pw)
        tab = cold_tab(browser)
        for path in page_urls(args.site):
            results[path] = measure(tab, base + prefix + path)
        browser.close()

    print(f"{'page':40} {'transferred':>12} {'uncompressed':>13} {'requests':>8} {'other hosts':>11} {'first paint':>11}")
    for path, r in sorted(results.items(), key=lambda kv: -kv[1]["transferred"]):
        fcp = f"{r['fcp_ms']:.0f} ms" if r["fcp_ms"] is not None else "-"
        flag = "  over budget" if r["transferred"] > BUDGET else ""
        print(f"{'/' + path:40} {kb(r['transferred']):>12} {kb(r['decoded']):>13} "
              f"{r['requests']:>8} {len(r['foreign']):>11} {fcp:>11}{flag}")
    heaviest = max(results, key=lambda k: results[k]["transferred"])
    print(f"\nbudget {kb(BUDGET)} per first visit, no other hosts; heaviest page: /{heaviest}")
    for path in dict.fromkeys(["", "en/", heaviest]):
        r = results[path]
        verdict = "within" if r["transferred"] <= BUDGET and not r["foreign"] else "OVER"
        print(f"  /{path}: {kb(r['transferred'])}, {r['requests']} requests, "
              f"{len(r['foreign'])} to other hosts, first contentful paint {r['fcp_ms']:.0f} ms: {verdict}")
    if args.lighthouse:
        for path in dict.fromkeys(["", heaviest]):
            scores = lighthouse(base + prefix + path, chromium())
            print(f"  lighthouse /{path}: " + ", ".join(f"{k} {v}" for k, v in scores.items()))
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
