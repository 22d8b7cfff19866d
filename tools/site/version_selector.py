"""MkDocs hook: Material's version selector only where mike builds the site.

With `extra.version.provider: mike`, Material's script requests `../versions.json` on every
page. mike writes that file next to the versions it publishes; a plain `mkdocs build` or
`mkdocs serve` has none, and every page logged a 404 in the console. mike adds its own
plugin to the config it builds with (mike 2.x `inject_plugin`), so without that plugin the
selector, and its request, are left out.
"""

from __future__ import annotations


def on_config(config):
    if "mike" not in config.plugins:
        config.extra.pop("version", None)
    return config
