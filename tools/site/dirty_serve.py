"""MkDocs hook: `make serve` rebuilds only the pages that changed, and stays strict.

`make serve` runs `mkdocs serve --dirty`: after an edit MkDocs rebuilds the edited page, not
both languages of the whole site. The price, which MkDocs states as a warning on every such
build, is that other pages' navigation is not rebuilt (a changed title shows there after a
restart). mkdocs.yml is strict, so that warning would stop the server; this drops that one
message. Every other warning still stops the build, as in `make build` and the publish job.
"""

import logging

DIRTY_NOTICE = "A 'dirty' build is being performed"


def on_startup(command, dirty):
    if command == "serve" and dirty:
        logging.getLogger("mkdocs.commands.build").addFilter(
            lambda record: not record.getMessage().startswith(DIRTY_NOTICE))
