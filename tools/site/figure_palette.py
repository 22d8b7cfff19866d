"""MkDocs hook: a figure with a dark twin (`loss.png` and `loss.dark.png`, tools/dark_figures.py)
shows the twin that matches the reader's palette.

Material hides `img[src$="#only-light"]` in the dark (slate) palette and `#only-dark` in the light
one, so the page gets both <img>, each with its fragment. Both load lazily: a browser does not
fetch a lazy image that is hidden, so a visit downloads one of the two. Runs after
tools/image_sizes.py (mkdocs.yml's order), so both carry the same width and height.
"""

from __future__ import annotations

import posixpath
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # mkdocs restores sys.path
from tools.pages.dark_figures import SUFFIX, dark_name  # noqa: E402

IMG = re.compile(r'<img\b[^>]*\ssrc="([^"#]+\.png)"[^>]*>')


def on_page_content(html, page, config, files):
    def twins(m: re.Match) -> str:
        tag, src = m.group(0), m.group(1)
        if src.endswith(SUFFIX) or re.match(r"^(data:|https?:|//)", src):
            return tag
        path = posixpath.normpath(posixpath.join(posixpath.dirname(page.url.rstrip("/") + "/x"), dark_name(src)))
        if files.get_file_from_path(path) is None:
            return tag
        if ' loading="lazy"' not in tag:
            tag = tag[:4] + ' loading="lazy"' + tag[4:]
        light = tag.replace(f'src="{src}"', f'src="{src}#only-light"')
        dark = tag.replace(f'src="{src}"', f'src="{dark_name(src)}#only-dark"')
        return light + dark

    return IMG.sub(twins, html)
