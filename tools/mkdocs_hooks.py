"""MkDocs hooks (mkdocs.yml `hooks:`), each a small fix to a plugin's behaviour."""

from __future__ import annotations

from urllib.parse import urlsplit

from mkdocs.plugins import event_priority


@event_priority(-100)  # after mkdocs-static-i18n has filled in extra.alternate
def on_page_context(context, page, config, nav):
    """Language-switcher links relative to the site root instead of absolute.

    mkdocs-static-i18n gives home pages absolute links built from site_url's path
    ("/repo/en/"). mike serves each version under "/repo/<version>/", where those links
    leave the version (or 404). A root-relative link is made page-relative by the
    theme's `url` filter, so it stays inside whatever folder the site is served from.
    """
    base = urlsplit(config.site_url or "").path.rstrip("/") + "/"
    # the plugin sets the attribute (what the theme's `config.extra.alternate` reads)
    for alternate in getattr(config.extra, "alternate", None) or []:
        link = alternate["link"]
        if link.startswith(base):
            alternate["link"] = link[len(base):] or "./"
    return context
