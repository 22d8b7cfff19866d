"""MkDocs hook: executed-notebook pages load nothing from another host.

nbconvert's page template (through mkdocs-jupyter) carries a module script that imports
Mermaid and its ELK layout from cdnjs.cloudflare.com whenever a notebook has a diagram: a
request to another host, and raw diagram text for a reader offline. The diagrams are
already the chapter's drawn SVGs on these pages (tools/diagrams.py, called from
tools/mkdocs_hooks.py), so the script has nothing left to draw: it is dropped.
"""

from __future__ import annotations

import re

from mkdocs.exceptions import PluginError

REMOTE_MODULE = re.compile(r'<script type="module">(?:(?!</script>).)*?import\("https://(?:(?!</script>).)*</script>\s*', re.S)


def on_page_content(html, page, config, files):
    if not page.file.src_uri.endswith(".ipynb"):
        return html
    html, n = REMOTE_MODULE.subn("", html)
    if n > 1:
        raise PluginError(f"{page.file.src_uri}: {n} remote module scripts, expected nbconvert's one")
    return html
