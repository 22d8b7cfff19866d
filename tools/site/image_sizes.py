"""MkDocs hook: every figure of a page states its size, and all but the first load lazily.

`width`/`height` from the PNG itself let the browser reserve the figure's box before the
image arrives, so the text does not jump while a page loads (the theme's `height: auto` and
`max-width: 100%` still scale it). `loading="lazy"` keeps figures further down the page out
of a first visit until the reader scrolls towards them; the first figure, often in view at
once, loads as before (on a chapter page; a notebook view's figures are all further down).

A figure saved at a higher density (`savefig(..., dpi=160)`, which matplotlib writes into the PNG's
pHYs chunk) keeps the size it has at 80 dpi, the pages' figure scale: 160 dpi is drawn with two
device pixels per CSS pixel, sharp on high-density screens at the same size on the page.
"""

from __future__ import annotations

import posixpath
import re
import struct

IMG = re.compile(r"<img\b[^>]*>")
SRC = re.compile(r'\ssrc="([^"]+)"')


CSS_DPI = 80  # a figure's inch on the page, in CSS pixels


def png_size(path: str) -> tuple[int, int] | None:
    """The size to show a PNG at, in CSS pixels."""
    with open(path, "rb") as f:
        head = f.read(24)
        if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", head[16:24])
        f.seek(8 + 8 + 13 + 4)  # signature, IHDR; pHYs comes before the image data
        while len(chunk := f.read(8)) == 8 and chunk[4:8] != b"IDAT":
            length = struct.unpack(">I", chunk[:4])[0]
            data = f.read(length + 4)[:length]
            if chunk[4:8] == b"pHYs" and data[8] == 1:  # unit: metre
                scale = max(1.0, struct.unpack(">I", data[:4])[0] * 0.0254 / CSS_DPI)
                return round(width / scale), round(height / scale)
    return width, height


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
