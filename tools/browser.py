"""The local Chromium and the one static server, shared by the browser tests, make diagrams,
make page-budget, the search check and make publish-local, so all drive and serve the same way."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

# Headless and offline: no sandbox (root in containers), no background or update traffic, and
# no host but 127.0.0.1 resolves (a request to another fails at once; the tests record it).
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


def chromium() -> str | None:
    """$CHROMIUM, else Debian's chromium; None lets Playwright use its own build."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium(), args=ARGS)


def open_settled(page, url: str) -> None:
    """Open `url` in a Playwright page and wait until Material's script has asked for the search
    index and the network is quiet: under load that request comes after a 500 ms network pause,
    which "networkidle" alone takes for the end."""
    with page.expect_request(lambda r: "/search/search_index" in r.url):
        page.goto(url)
    page.wait_for_load_state("networkidle")


class QuietServer(http.server.ThreadingHTTPServer):
    """A static server that does not print a traceback when a browser cancels a download
    (it does whenever it leaves a page before the search index or an image arrived)."""

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path, handler: type = QuietHandler, port: int = 0) -> tuple[QuietServer, str]:
    """`folder` served on 127.0.0.1 from a background thread: (server, "http://127.0.0.1:PORT/").
    `handler`: a SimpleHTTPRequestHandler subclass (gzip, a test's injected page)."""
    server = QuietServer(("127.0.0.1", port), functools.partial(handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"
