"""A page of the built site, parsed once per process for every check that reads it.

lxml, not the standard library's HTMLParser: our pages' highlighted code is thousands of
tags, and a pass over the site took about 5 s with HTMLParser, 0.7 s with lxml.
"""

from functools import cache
from pathlib import Path

from lxml import html

PARSER = html.HTMLParser(encoding="utf-8")


def parse(path: Path) -> html.HtmlElement:
    return _parse(Path(path).resolve())  # latest/ is mike's link to the version: one parse


@cache  # a built site doesn't change while it is checked
def _parse(path: Path) -> html.HtmlElement:
    return html.document_fromstring(path.read_bytes(), parser=PARSER)
