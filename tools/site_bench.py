"""How long an author waits for the site: build cold and warm, `make serve`'s first page, an edit.

    python -m tools.site_bench        (part of `make bench`)

Everything runs in a scratch copy of the working tree (what a clone would hold) with its own
notebook-view cache (tools/notebook_cache.py): the pages edited are the copy's, never the real
ones, and "cold" means no cached view at all, as in a fresh checkout.

- build, cold: `mkdocs build` with an empty cache (every notebook view rendered);
- build, warm: the same again (every view from the cache);
- serve, first page: `mkdocs serve` as `make serve` starts it, until its home page answers;
- serve, edit: a sentence added to one page's prose, until the served page has it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tools.docs_pages import ROOT

EDITED = "docs/ko/intro.md"  # the page the edit goes to, and its URL under the site's path
EDITED_URL = "intro/"


def scratch_copy(dest: Path) -> Path:
    """The working tree as a clone would have it (tracked and new files, not ignored)."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, names):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode("utf-8")
    except OSError:
        return None


def wait_for(check, limit: float, what: str) -> float:
    """Seconds until check() is true, polling every 0.1 s; an error after `limit` seconds."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if check():
            return time.perf_counter() - start
        time.sleep(0.1)
    raise TimeoutError(f"{what}: not within {limit:.0f} s")


def timed_build(copy: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(copy / "site")],
                   cwd=copy, env=env, check=True)
    return time.perf_counter() - start


def serve_latency(copy: Path, env: dict, limit: float = 120) -> tuple[float, float]:
    """(seconds to the first page, seconds from an edit to the page that shows it), with the
    server started as `make serve` starts it (Makefile), on a free port."""
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    args = next(line.split("-m mkdocs ", 1)[1] for line in make.splitlines() if "-m mkdocs serve" in line)
    port = free_port()
    args = args.replace("127.0.0.1:8000", f"127.0.0.1:{port}").split()
    from tools.publish_local import site_path

    base = f"http://127.0.0.1:{port}{site_path()}"
    log = copy / "serve.log"  # a file, not a pipe: a full pipe would stop the server
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "mkdocs", *args], cwd=copy, env=env,
                                  stdout=out, stderr=out, start_new_session=True)
    try:
        first = wait_for(lambda: server.poll() is None and fetch(base) is not None, limit, "first page")
        page = copy / EDITED
        marker = f"Edited at {time.time_ns()} for the benchmark."
        text = page.read_text(encoding="utf-8")
        assert "\n## " in text, f"{EDITED} has no second-level heading to put the edit before"
        time.sleep(1.1)  # a later modification time even where a file system keeps whole seconds
        page.write_text(text.replace("\n## ", f"\n{marker}\n\n## ", 1), encoding="utf-8")
        edit = wait_for(lambda: marker in (fetch(base + EDITED_URL) or ""), limit, "edited page")
        return first, edit
    except TimeoutError as e:
        _stop(server)
        raise TimeoutError(f"{e}; mkdocs serve said:\n{log.read_text()[-2000:]}") from None
    finally:
        _stop(server)


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def measure() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="site-bench-") as tmp:
        copy = scratch_copy(Path(tmp) / "src")
        (copy / ".venv").symlink_to(Path(sys.prefix))
        env = {k: v for k, v in os.environ.items() if k != "NOTEBOOK_CACHE"}
        env.update(NOTEBOOK_CACHE_DIR=str(Path(tmp) / "views"), NO_MKDOCS_2_WARNING="1")
        cold = timed_build(copy, env)
        warm = timed_build(copy, env)
        first, edit = serve_latency(copy, env)
    return {"cold": cold, "warm": warm, "first": first, "edit": edit}


def report() -> dict[str, float]:
    t = measure()
    for label, key in (("mkdocs build, cold (no notebook view cached, a fresh checkout)", "cold"),
                       ("mkdocs build, warm (every notebook view cached)", "warm"),
                       ("make serve: start to the first page", "first"),
                       (f"make serve: an edit of {EDITED} to the page showing it", "edit")):
        print(f"{label:<62}{t[key]:>11.2f}")
    return t


if __name__ == "__main__":
    print(f"load {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    report()
