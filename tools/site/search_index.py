"""MkDocs hook: one search index per language, Korean terms found as readers type them, and
only what a reader searches for in the index.

- mkdocs-static-i18n builds each language into the same site and writes one index of both
  (its search integration can do no more, mkdocs-static-i18n#271), and Material's script
  fetches `<base>/search/search_index.json` on every page: a reader of either language
  downloaded both and got results in both. Here the merged index becomes
  `search/search_index.<lang>.json`, one per language, and the one line of Material's bundle
  that names the index asks for the page's language (`<html lang>`): a page under /en/ loads
  the English index only. Everything else of Material's search (its box, keyboard use,
  result list, highlighting) stays as it is.
- Material's search splits Korean only at spaces and matches each query word as a prefix:
  "자동미분" found nothing (the pages write "자동 미분") and "합성곱을" only pages that
  happen to write that form. Material applies one `separator` pattern to the pages and to
  the query alike; after a glossary word (tools/pages/glossary.yml) ours also drops a particle
  that ends the word and splits before another glossary word, so 텐서를 is 텐서 and
  자동미분 is 자동 + 미분 on both sides.
- Code blocks, their text outputs and tables of numbers are left out of the index
  (`data-search-exclude`, which Material's indexer honours): they were two thirds of its
  bytes, outputs match nothing a reader looks for, and the names a reader searches for
  (`DataLoader`, `state_dict`) are in the prose and headings that explain the code, which
  stay. Executed notebooks are excluded in tools/site/notebook_pages.py.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import CombinedEvent, event_priority

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # mkdocs restores sys.path
from tools.pages import glossary  # noqa: E402
from tools.pages.docs_pages import DOCS, url  # noqa: E402

INDEX = "search/search_index.json"
LANG_INDEX = "search/search_index.{lang}.json"

# Material's default separator for English (whitespace and punctuation, camelCase, dots
# between words, HTML entities), as in its language partials.
BASE_SEPARATOR = r'[\s\-,:!=\[\]()"/]+|(?!\b)(?=[A-Z][a-z])|\.(?!\d)|&[lg]t;'
# Particles and endings that follow a noun in the pages' prose (longest first in the pattern).
PARTICLES = """은 는 이 가 을 를 의 에 에서 에게 으로 로 와 과 도 만 까지 부터 처럼 보다 마다 만큼
    이나 나 이고 고 이며 며 이다 입니다 이라 라 이라는 라는 이란 란 에는 에서는 으로는 로는 와는 과는
    에도 으로도 로도 과도 와도 만을 만의 들 들을 들이 들은 들의 들로 들에 하는 한 할 하기 하고 하면
    해서 합니다 했습니다 된 되는 될 되어 되고 됩니다 적 적인 적으로""".split()
HANGUL = "[\uac00-\ud7a3]"


def korean_words() -> list[str]:
    """Every Hangul word of the glossary's Korean terms."""
    words = {w for t in _terms() for w in t.ko.split() if re.fullmatch(f"{HANGUL}+", w)}
    return sorted(words, key=lambda w: (-len(w), w))


def separator() -> str:
    """Material's separator plus, after a glossary word: a particle that ends the word is a
    separator itself (dropped, so 를 neither matches nor is highlighted on every page), and
    another glossary word starts a new word (JavaScript regex: Material's worker compiles it)."""
    words = "|".join(korean_words())
    particles = "|".join(sorted(PARTICLES, key=lambda p: (-len(p), p)))
    return f"{BASE_SEPARATOR}|(?<=(?:{words}))(?:(?:{particles})(?!{HANGUL})|(?=(?:{words})))"


# ---- what is indexed ----------------------------------------------------------------------

CODE_BLOCK = re.compile(r'<div class="(language-[^"]*highlight)">')
TABLE = re.compile(r"<table>(.*?)</table>", re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)
NUMBER = re.compile(r"[\s\d.,%×x+\-−eE()\[\]]*")


def _numbers_only(table: str) -> bool:
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in CELL.findall(table)]
    numeric = [c for c in cells if c and NUMBER.fullmatch(c)]
    return bool(cells) and len(numeric) * 2 >= len(cells)


def on_page_content(html, page, config, files):
    """Mark code blocks, their outputs and number tables for Material's indexer to skip (it
    removes the attribute from the page afterwards)."""
    html = CODE_BLOCK.sub(r'<div class="\1" data-search-exclude>', html)
    return TABLE.sub(lambda m: m.group(0).replace("<table>", "<table data-search-exclude>", 1)
                     if _numbers_only(m.group(1)) else m.group(0), html)


# Material's indexer parses each page's whole HTML with html.parser, the code it then skips
# included: with pygments' thousands of spans that was 40 % of a warm build. It sees the page
# without its code (every <pre> is a code block or an output, all excluded above), and the page
# gets its code back before its template is rendered.
PRE = re.compile(r"<pre\b.*?</pre>", re.S)
FULL_CONTENT = "search_index_full_content"


@event_priority(100)  # before Material's search plugin (0)
def _index_without_code(context, page, config, nav):
    if page.content and not (page.meta.get("search") or {}).get("exclude"):
        page.meta[FULL_CONTENT], page.content = page.content, PRE.sub("<pre></pre>", page.content)
    return context


@event_priority(-150)  # after it, and after mkdocs-static-i18n's (-100)
def _page_with_code(context, page, config, nav):
    if FULL_CONTENT in page.meta:
        page.content = page.meta.pop(FULL_CONTENT)
    return context


on_page_context = CombinedEvent(_index_without_code, _page_with_code)


# ---- one index per language ---------------------------------------------------------------

BUNDLE_INDEX = re.compile(r'new URL\("search/search_index\.json",(\w+)\.base\)')
BUNDLE_PATCHED = 'new URL("search/search_index."+document.documentElement.lang+".json",{}.base)'


def languages(config) -> tuple[str, list[str]]:
    """(default language, every language) from mkdocs-static-i18n's settings."""
    langs = config.plugins["i18n"].config.languages
    return next(lang.locale for lang in langs if lang.default), [lang.locale for lang in langs]


def language_of(location: str, default: str, langs: list[str]) -> str:
    first = location.split("/", 1)[0]  # the default language is at the root, the others in a folder
    return first if first in langs else default


KEYWORDS = {"keywords": {"boost": 3000.0}}  # above a heading: the glossary names the section that teaches a term


@cache
def _terms() -> tuple:
    return tuple(glossary.load()[0])  # read once per build (the separator needs them too)


def keywords(docs: list[dict], default: str) -> dict[str, dict[str, str]]:
    """lang -> index location -> the glossary terms its section teaches (tools/pages/glossary.yml
    `where`), so that a query for a term finds the section that teaches it before the pages
    that only use it. The other languages' section is the one at the same place in the
    twin page (their headings match one to one: tests/test_glossary.py); English terms
    without their gloss ("parameter", not "parameter (of a model)")."""
    sections: dict[str, list[str]] = {}  # page URL -> its entries' locations, in order
    for d in docs:
        sections.setdefault(d["location"].partition("#")[0], []).append(d["location"])
    out: dict[str, dict[str, list[str]]] = {}
    for term in _terms():
        page, _, anchor = term.where.partition("#")
        home = url(DOCS / default / page)
        own = sections.get(home, [])
        place = own.index(f"{home}#{anchor}") if f"{home}#{anchor}" in own else 0  # 0: the page's title
        for lang, word in ((default, term.ko), ("en", re.sub(r"\s*\(.*\)$", "", term.en))):
            twin = sections.get(url(DOCS / lang / page), [])
            if len(twin) != len(own) or not own:
                raise PluginError(f"search_index hook: glossary {term.where}: docs/{lang}/{page} has not "
                                  f"the sections of docs/{default}/{page} in the search index")
            out.setdefault(lang, {}).setdefault(twin[place], []).append(word)
    return {lang: {loc: " ".join(words) for loc, words in m.items()} for lang, m in out.items()}


def split(site: Path, default: str, langs: list[str], sep: str) -> None:
    merged = json.loads((site / INDEX).read_text(encoding="utf-8"))
    # `mkdocs serve` hands the default language's pages to the search plugin twice: keep one
    seen: set[str] = set()
    merged["docs"] = [d for d in merged["docs"] if not (d["location"] in seen or seen.add(d["location"]))]
    if {language_of(d["location"], default, langs) for d in merged["docs"]} != set(langs):
        return  # mkdocs-static-i18n's inner build of one language: the merged index comes later
    taught = keywords(merged["docs"], default)
    for lang in langs:
        docs = [{**d, "keywords": taught[lang][d["location"]]} if d["location"] in taught[lang] else d
                for d in merged["docs"] if language_of(d["location"], default, langs) == lang]
        config = {**merged["config"], "lang": [lang], "separator": sep}
        index = {"config": {**config, "fields": {**config["fields"], **KEYWORDS}}, "docs": docs}
        text = json.dumps(index, ensure_ascii=False, separators=(",", ":"))
        (site / LANG_INDEX.format(lang=lang)).write_text(text, encoding="utf-8")
    (site / INDEX).unlink()


def patch_bundle(site: Path) -> None:
    """Material's script fetches the index named after the page's language."""
    bundles = list((site / "assets" / "javascripts").glob("bundle.*.min.js"))
    if len(bundles) != 1:
        raise PluginError(f"search_index hook: expected one Material bundle, found {bundles}")
    text = bundles[0].read_text(encoding="utf-8")
    found = BUNDLE_INDEX.findall(text)
    if len(found) != 1:
        if BUNDLE_PATCHED.format("") in re.sub(r",\w+\.base\)", ",.base)", text):
            return  # patched by this hook during the same build
        raise PluginError("search_index hook: Material's bundle no longer fetches "
                          f"search/search_index.json the way this hook expects ({len(found)} matches)")
    bundles[0].write_text(BUNDLE_INDEX.sub(lambda m: BUNDLE_PATCHED.format(m.group(1)), text), encoding="utf-8")


@event_priority(-200)  # after mkdocs-static-i18n (-100) has written the merged index
def on_post_build(config):
    site = Path(config.site_dir)
    if not (site / INDEX).exists():
        return
    default, langs = languages(config)
    split(site, default, langs, separator())
    patch_bundle(site)
