"""Search as readers get it, in Chromium on a built site: for each query of
tests/search_queries.yml and each term of tools/pages/glossary.yml, is the page that teaches it
among the first three results, and is every result in the language of the page searched from?

    python -m tools.checks.search_check [--site DIR]

Each language's home page is opened as a reader opens it; the search index it fetches is
handed to Material's own search worker (the one the page starts), and every query goes
through it: the same code and index as typing in the box, without a page load per query.
Prints the hit rate per language and each miss; exit 1 when a query misses.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

import yaml

from tools.pages import glossary
from tools.browser import launch, open_settled
from tools.pages.docs_pages import DOCS, ROOT, url

QUERIES = ROOT / "tests" / "search_queries.yml"
TOP = 3


@dataclass(frozen=True)
class Query:
    lang: str
    text: str
    page: str  # the URL path of the teaching page below the site root: "autograd/", "en/autograd/"


def queries() -> list[Query]:
    """The glossary's terms in both languages, then the extra queries (duplicates dropped)."""
    out = {}
    terms, _ = glossary.load()
    for term in terms:
        page = term.where.partition("#")[0]
        out[("ko", term.ko)] = url(DOCS / "ko" / page)
        english = re.sub(r"\s*\(.*\)$", "", term.en)  # "gradient clipping", not its gloss
        out[("en", english)] = url(DOCS / "en" / page)
    extra = yaml.safe_load(QUERIES.read_text(encoding="utf-8"))
    for lang, items in extra.items():
        for text, page in items.items():
            if not (DOCS / lang / page).is_file():
                raise SystemExit(f"error: {QUERIES.relative_to(ROOT)}: {text!r}: no page docs/{lang}/{page}")
            out[(lang, str(text))] = url(DOCS / lang / page)
    return [Query(lang, text, page) for (lang, text), page in out.items()]


# Material's worker protocol (search/worker/message): 0 setup, 1 ready, 2 query, 3 result.
RUN_QUERIES = """async ({indexUrl, queries}) => {
  const config = JSON.parse(document.getElementById("__config").textContent);
  const index = await (await fetch(indexUrl)).json();
  const worker = new Worker(new URL(config.search, location.href));
  const call = message => new Promise(resolve => {
    worker.onmessage = event => resolve(event.data);
    worker.postMessage(message);
  });
  await call({type: 0, data: {config: index.config, docs: index.docs, options: {suggest: false}}});
  const out = {};
  for (const q of queries) {
    const result = await call({type: 2, data: q});
    out[q] = result.data.items.map(group => group.map(item => item.location));
  }
  worker.terminate();
  return out;
}"""


def page_of(location: str) -> str:
    return location.split("#", 1)[0]


def lang_of(location: str) -> str:
    return "en" if location.startswith("en/") else "ko"


def run(browser, site_url: str, qs: list[Query]) -> dict[Query, dict]:
    """site_url: the root of one built version ("http://127.0.0.1:8000/2.14/").
    Per query: the result pages in order, and whether it is answered."""
    out = {}
    root_path = urlsplit(site_url).path
    for lang in ("ko", "en"):
        mine = [q for q in qs if q.lang == lang]
        page = browser.new_page()
        fetched = []
        page.on("request", lambda r: "search_index" in r.url and fetched.append(r.url))
        open_settled(page, site_url + ("" if lang == "ko" else "en/"))
        if len(fetched) != 1:
            raise SystemExit(f"error: the {lang} home page fetched {len(fetched)} search indexes: {fetched}")
        found = page.evaluate(RUN_QUERIES, {"indexUrl": fetched[0], "queries": [q.text for q in mine]})
        page.close()
        for q in mine:
            groups = found[q.text]
            pages = [page_of(g[0]) for g in groups]
            foreign = sorted({page_of(loc) for g in groups for loc in g if lang_of(loc) != lang})
            out[q] = {"pages": pages, "foreign": foreign,
                      "hit": q.page in pages[:TOP] and not foreign,
                      "index": urlsplit(fetched[0]).path.removeprefix(root_path)}
    return out


def report(results: dict[Query, dict]) -> list[str]:
    lines = []
    for lang in ("ko", "en"):
        mine = {q: r for q, r in results.items() if q.lang == lang}
        hits = sum(r["hit"] for r in mine.values())
        top = sum(q.page in r["pages"][:TOP] for q, r in mine.items())
        alone = sum(not r["foreign"] for r in mine.values())
        index = next(iter(mine.values()))["index"] if mine else "-"
        lines.append(f"{lang}: {hits}/{len(mine)} queries answered; teaching page in the first {TOP}: "
                     f"{top}, no result in another language: {alone} ({index})")
        for q, r in mine.items():
            if not r["hit"]:
                lines.append(f"  miss {q.text!r}: wants /{q.page}, first {TOP}: "
                             f"{['/' + p for p in r['pages'][:TOP]]}"
                             + (f", other language: {len(r['foreign'])} pages" if r["foreign"] else ""))
    return lines


def main(argv=None) -> int:
    from playwright.sync_api import sync_playwright

    from tools.checks.page_budget import parse_site_args, serve

    args = parse_site_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]), argv)
    server, base = serve(args.site)
    with sync_playwright() as pw:
        browser = launch(pw)
        results = run(browser, base, queries())
        browser.close()
    server.shutdown()
    print("\n".join(report(results)))
    return 0 if all(r["hit"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
