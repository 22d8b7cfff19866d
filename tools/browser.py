"""The local Chromium and a static server, shared by the browser tests, make diagrams and
make page-budget, so all three drive the same browser the same way."""

from __future__ import annotations

import http.server
import os
import shutil
import sys

# Headless and offline: no sandbox (root in containers), no background or update traffic.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


def chromium() -> str | None:
    """$CHROMIUM, else Debian's chromium; None lets Playwright use its own build."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium(), args=ARGS)


class QuietServer(http.server.ThreadingHTTPServer):
    """A static server that does not print a traceback when a browser cancels a download
    (it does whenever it leaves a page before the search index or an image arrived)."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)
