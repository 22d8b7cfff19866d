"""`make bench`: how long the chapters' code, the site and the test suite take.

    python -m tools.checks.bench [PAGE ...]          compute per chapter and script (one chapter
                                                     at a time with every core: the bare compute)
    python -m tools.checks.bench --site --suite      make bench: every chapter, the site's times
                                                     below, and `make test`'s wall time (with
                                                     CHAPTER_CACHE=off, against that compute: the
                                                     overhead; else unchanged chapters come cached)

The site's times, in what an author waits for:

Everything runs in a scratch copy of the working tree (what a clone would hold) with its own
notebook-view cache (tools/site/notebook_cache.py): the pages edited are the copy's, never the real
ones, and "cold" means no cached view at all, as in a fresh checkout.

- build, cold: `mkdocs build` with an empty cache (every notebook view rendered);
- build, warm: the same again (every view from the cache);
- serve, first page: `mkdocs serve` as `make serve` starts it, until its home page answers;
- serve, edit: a sentence added to one page's prose, until the served page has it.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tools import facts
from tools.pages.docs_pages import ROOT, all_units, rel
from tools.run import runner

EDITED = "docs/ko/intro.md"  # the page the edit goes to, and its URL under the site's path
EDITED_URL = "intro/"


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


def serve_latency(copy: Path, env: dict, limit: float = 120, look=None) -> tuple[float, float]:
    """(seconds to the first page, seconds from an edit to the page that shows it), with the
    server started as `make serve` starts it (Makefile), on a free port. `look(base URL)` runs
    once the first page is served (tests/test_notebook_cache.py checks the served site)."""
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    args = next(line.split("-m mkdocs ", 1)[1] for line in make.splitlines() if "-m mkdocs serve" in line)
    port = free_port()
    args = args.replace("127.0.0.1:8000", f"127.0.0.1:{port}").split()
    base = f"http://127.0.0.1:{port}{facts.site_path()}"
    log = copy / "serve.log"  # a file, not a pipe: a full pipe would stop the server
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "mkdocs", *args], cwd=copy, env=env,
                                  stdout=out, stderr=out, start_new_session=True)
    try:
        def up(url: str, marker: str = "") -> bool:
            if server.poll() is not None:
                raise TimeoutError(f"mkdocs serve exited ({server.returncode})")
            served = fetch(url)
            return served is not None and marker in served

        first = wait_for(lambda: up(base), limit, "first page")
        if look:
            look(base)
        page = copy / EDITED
        marker = f"Edited at {time.time_ns()} for the benchmark."
        text = page.read_text(encoding="utf-8")
        assert "\n## " in text, f"{EDITED} has no second-level heading to put the edit before"
        time.sleep(1.1)  # a later modification time even where a file system keeps whole seconds
        page.write_text(text.replace("\n## ", f"\n{marker}\n\n## ", 1), encoding="utf-8")
        edit = wait_for(lambda: up(base + EDITED_URL, marker), limit, "edited page")
        return first, edit
    except TimeoutError as e:
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


def scratch_checkout(dest: Path, views: Path) -> tuple[Path, dict]:
    """(the working tree copied to dest with this venv, an environment with its own notebook-view cache)"""
    copy = facts.copy_checkout(dest)
    (copy / ".venv").symlink_to(Path(sys.prefix))
    env = {k: v for k, v in os.environ.items() if k not in ("TIMINGS_CUDA", "NOTEBOOK_CACHE")}
    return copy, {**env, "NOTEBOOK_CACHE_DIR": str(views), "NO_MKDOCS_2_WARNING": "1"}


def site_report() -> float:
    """Print the site's times; return the cold build's."""
    with tempfile.TemporaryDirectory(prefix="site-bench-") as tmp:
        copy, env = scratch_checkout(Path(tmp) / "src", Path(tmp) / "views")
        cold = timed_build(copy, env)
        warm = timed_build(copy, env)  # every view from the cache the cold build filled
        first, edit = serve_latency(copy, env)
    for label, seconds in (("mkdocs build, cold (no notebook view cached, a fresh checkout)", cold),
                           ("mkdocs build, warm (every notebook view cached)", warm),
                           ("make serve: start to the first page", first),
                           (f"make serve: an edit of {EDITED} to the page showing it", edit)):
        print(f"{label:<62}{seconds:>11.2f}")
    return cold


def chapters_report(runs: dict, wall: float, site: bool, suite: bool) -> None:
    cores = os.cpu_count() or 1
    print(f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'chapter / script (```sh unit)':<56}{'units':>6}{'compute s':>11}")
    compute = 0.0
    for page, run in sorted(runs.items()):
        units = all_units(page)
        py = sum(r.seconds for u, r in zip(units, run.units) if u.syntax == "python")
        print(f"{rel(page):<56}{sum(u.syntax == 'python' for u in units):>6}{py:>11.2f}")
        for u, r in zip(units, run.units):
            if u.syntax != "python":
                print(f"  {u.code.strip().splitlines()[-1][:52]:<54}{'sh':>6}{r.seconds:>11.2f}")
        compute += run.seconds
    print(f"{'all chapters: summed compute (each alone, ' + str(cores) + ' threads)':<62}{compute:>11.2f}")
    print(f"{'all chapters: wall, one after another, with process start':<62}{wall:>11.2f}")
    build = site_report() if site else 0.0  # builds (executing no notebook), `make serve`, an edit
    if suite:
        start = time.perf_counter()
        proc = subprocess.run(["make", "--no-print-directory", "test"], cwd=ROOT, capture_output=True, text=True)
        suite_wall = time.perf_counter() - start
        print(f"{'test suite (make test): wall':<62}{suite_wall:>11.2f}"
              + ("" if proc.returncode == 0 else "  (it FAILED)"))
        # tests/conftest.py's line: how many chapters ran and how many came from tools/run/chapter_cache.py
        print(next((line for line in proc.stdout.splitlines() if line.startswith("chapters: ")), ""))
        if os.environ.get("CHAPTER_CACHE") == "off":  # every chapter ran in the suite
            work = compute + build
            print(f"overhead = suite wall / ((chapters' compute + build) / {cores} cores) = "
                  f"{suite_wall:.1f} / ({work:.1f} / {cores}) = {suite_wall / (work / cores):.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, help="Korean pages (default: all)")
    parser.add_argument("--site", action="store_true", help="also time the site: builds, make serve, an edit")
    parser.add_argument("--suite", action="store_true", help="also time the test suite (pytest as make test runs it)")
    args = parser.parse_args(argv)
    todo = runner.chapter_pages(args.pages)
    keep = Path(tempfile.mkdtemp(prefix="chapters-"))
    try:
        runs, wall, failed = runner.run_and_check(todo, 1, keep)
    finally:
        shutil.rmtree(keep, ignore_errors=True)
    chapters_report(runs, wall, args.site, args.suite)
    if failed:
        print("\n\n".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
