"""Print how long each chapter's code takes, and how long the site build takes.

    python tools/bench.py

A chapter's time is one fresh process running all of its units in order, the way a reader
runs the page top to bottom: `import torch` is counted once, in "start". This prints
numbers and asserts nothing: timings are a benchmark, not a test.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.docs_pages import DOCS, ROOT, pages, units  # noqa: E402

# Each unit runs in its own empty working directory, as in the tests.
RUNNER = r"""
import contextlib, io, json, os, sys, tempfile, time
t0 = time.perf_counter(); import torch; start = time.perf_counter() - t0
times = []
for code in json.load(sys.stdin):
    with tempfile.TemporaryDirectory() as workdir:
        os.chdir(workdir)
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "<docs block>", "exec"), {"__MODULE__": "__main__"})
        times.append(time.perf_counter() - t)
        os.chdir("/")
print(json.dumps({"start": start, "units": times}))
"""


def main() -> int:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'chapter':<32}{'units':>6}{'start s':>9}{'code s':>9}{'total s':>9}")
    grand = 0.0
    for page in pages("ko"):
        codes = [u.code for u in units(page)]
        if not codes:
            continue
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(codes),
                              capture_output=True, text=True, cwd=ROOT,
                              env=dict(os.environ, MPLBACKEND="Agg"))
        wall = time.perf_counter() - t
        if proc.returncode:
            print(f"{page.relative_to(DOCS)} failed:\n{proc.stderr}", file=sys.stderr)
            return 1
        r = json.loads(proc.stdout.splitlines()[-1])
        grand += wall
        name = str(page.relative_to(DOCS / "ko"))
        print(f"{name:<32}{len(codes):>6}{r['start']:>9.2f}{sum(r['units']):>9.2f}{wall:>9.2f}")
    print(f"{'all chapters':<32}{'':>6}{'':>9}{'':>9}{grand:>9.2f}")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir",
                    str(ROOT / ".cache" / "bench-site")], cwd=ROOT, check=True)
    print(f"mkdocs build --strict: {time.perf_counter() - t:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
