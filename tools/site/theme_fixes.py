"""MkDocs hook: small fixes to the frame Material and mkdocs-static-i18n put around every page.

- Language-switcher links relative to the site root instead of absolute: the plugin gives
  home pages absolute links built from site_url's path ("/repo/en/"), and mike serves each
  version under "/repo/<version>/", where those links leave the version (or 404). A
  root-relative link is made page-relative by the theme's `url` filter.
- No <head> hreflang links: Material's script fetches "sitemap.xml" next to each of them, and
  with per-page links that is a 404 on every page load. The language menu is untouched.
- Material's search dialog gets a name: a dialog without one is announced as just "dialog"
  by screen readers (Lighthouse's aria-dialog-name).
- The 404 page is a theme template, not a page (on_post_page never sees it): its base lacked
  its final slash, so Material's script looked for versions.json and the search index one
  folder too high and never set up the palette toggle; its language links and <head> links
  pointed at whichever page the i18n plugin built last.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority

HEAD_ALTERNATE = re.compile(r'\s*<link rel="alternate" href="[^"]*" hreflang="[^"]*">')
SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'
SEARCH_NAME = {"ko": "검색", "en": "Search"}
LANGUAGE_HOME = {"ko": "", "en": "en/"}
CONFIG_BASE = re.compile(r'"base": "[^"]*"')
SWITCHER_LINK = re.compile(r'<a href="[^"]*" hreflang="(\w+)"')


def _root(config) -> str:
    return urlsplit(config.site_url or "").path.rstrip("/") + "/"


@event_priority(-100)  # after mkdocs-static-i18n has filled in extra.alternate
def on_page_context(context, page, config, nav):
    base = _root(config)
    for alternate in getattr(config.extra, "alternate", None) or []:
        link = alternate["link"]
        if link.startswith(base):
            alternate["link"] = link[len(base):] or "./"
    return context


def _frame(output: str, lang: str) -> str:
    output = HEAD_ALTERNATE.sub("", output)
    if 'data-md-component="search"' in output and SEARCH_DIALOG not in output:  # Material's markup moved
        raise PluginError(f"Material's search dialog is no longer {SEARCH_DIALOG!r}: update tools/site/theme_fixes.py")
    return output.replace(SEARCH_DIALOG, SEARCH_DIALOG.replace(
        'role="dialog">', f'role="dialog" aria-label="{SEARCH_NAME[lang]}">'))


def on_post_page(output, page, config):
    return _frame(output, "en" if page.file.src_uri.startswith("en/") else "ko")


def on_post_template(output, template_name, config):
    if template_name != "404.html":
        return output
    root = _root(config)
    output = CONFIG_BASE.sub(f'"base": "{root}"', output, count=1)
    output = SWITCHER_LINK.sub(lambda m: f'<a href="{root}{LANGUAGE_HOME[m.group(1)]}" hreflang="{m.group(1)}"', output)
    lang = re.search(r'<html lang="(\w+)"', output)
    return _frame(output, lang.group(1) if lang and lang.group(1) in SEARCH_NAME else "ko")
