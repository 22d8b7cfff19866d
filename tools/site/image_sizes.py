"""MkDocs hook: every figure of a page states its size, and all but the first load lazily.

`width`/`height` from the PNG itself let the browser reserve the figure's box before the
image arrives, so the text does not jump while a page loads (the theme's `height: auto` and
`max-width: 100%` still scale it). `loading="lazy"` keeps figures further down the page out
of a first visit until the reader scrolls towards them; the first figure, often in view at
once, loads as before (on a chapter page; a notebook view's figures are all further down).
"""

from __future__ import annotations

import posixpath
import re
import struct

IMG = re.compile(r"<img\b[^>]*>")
SRC = re.compile(r'\ssrc="([^"]+)"')


def png_size(path: str) -> tuple[int, int] | None:
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def on_page_content(html, page, config, files):
    seen = 0

    def sized(m: re.Match) -> str:
        nonlocal seen
        tag = m.group(0)
        src = SRC.search(tag)
        if not src or re.match(r"^(data:|https?:|//)", src.group(1)) or " width=" in tag:
            return tag
        path = posixpath.normpath(posixpath.join(posixpath.dirname(page.url.rstrip("/") + "/x"), src.group(1)))
        f = files.get_file_from_path(path)
        size = png_size(f.abs_src_path) if f and f.abs_src_path and path.endswith(".png") else None
        if not size:
            return tag
        seen += 1
        # a notebook view opens on its title, intro and install cell: no figure is in view at first
        lazy = seen > 1 or page.file.src_uri.endswith(".ipynb")
        extra = f' width="{size[0]}" height="{size[1]}"' + (' loading="lazy"' if lazy else "")
        return tag[:4] + extra + tag[4:]

    return IMG.sub(sized, html)
