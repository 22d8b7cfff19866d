"""Publish the site the way the CI publish job does, into a local bare git repository,
and serve the published gh-pages branch on 127.0.0.1.

    python tools/publish_local.py [--port 8001] [--older 2.13] [--no-serve] [--out DIR]

Steps, as in .github/workflows/ci.yml: snapshot the working tree into a scratch git
repository whose `origin` is a local bare repository; `mkdocs build --strict`;
`mike deploy --push --update-aliases <torch minor> latest`; `mike set-default --push latest`.
`--older X.Y` first deploys the same pages as version X.Y (a stand-in for an older
release, so the version selector has two entries). The gh-pages branch is then checked
out into DIR/www and served with a static HTTP server, like GitHub Pages would.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(cmd: list[str], cwd: Path, env: dict | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"error: `{' '.join(cmd)}` failed in {cwd}:\n{proc.stdout}{proc.stderr}")


def torch_minor() -> str:
    m = re.search(r"^torch==(\d+\.\d+)\.", (ROOT / "requirements.txt").read_text(), re.M)
    if not m:
        sys.exit("error: requirements.txt has no exact `torch==X.Y.Z` pin to name the version after")
    return m.group(1)


def publish(out: Path, port: int, older: str | None) -> Path:
    if out.exists():
        shutil.rmtree(out)
    src, remote, www = out / "src", out / "remote.git", out / "www"
    src.mkdir(parents=True)
    run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(remote)], cwd=out)
    # The working tree as a reader's clone would have it: tracked and new, not ignored.
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    git = ["git", "-c", "user.name=publish-local", "-c", "user.email=publish-local@127.0.0.1"]
    run(["git", "init", "--quiet", "--initial-branch=main"], cwd=src)
    run(["git", "add", "-A"], cwd=src)
    run(git + ["commit", "--quiet", "-m", "snapshot for publish-local"], cwd=src)
    run(["git", "remote", "add", "origin", str(remote)], cwd=src)
    run(["git", "push", "--quiet", "origin", "main"], cwd=src)

    from tools.docs_pages import notebook_cache_dir

    env = dict(os.environ, SITE_URL=f"http://127.0.0.1:{port}/", NO_MKDOCS_2_WARNING="1",
               NOTEBOOK_CACHE=str(notebook_cache_dir()),  # shared with the working tree's builds
               GIT_AUTHOR_NAME="publish-local", GIT_AUTHOR_EMAIL="publish-local@127.0.0.1",
               GIT_COMMITTER_NAME="publish-local", GIT_COMMITTER_EMAIL="publish-local@127.0.0.1")
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"  # mike runs `mkdocs` from PATH
    mkdocs, mike = str(bin_dir / "mkdocs"), str(bin_dir / "mike")
    run([mkdocs, "build", "--strict", "--quiet"], cwd=src, env=env)  # mike won't be strict
    if older:
        run([mike, "deploy", "--push", older], cwd=src, env=env)
    run([mike, "deploy", "--push", "--update-aliases", torch_minor(), "latest"], cwd=src, env=env)
    run([mike, "set-default", "--push", "latest"], cwd=src, env=env)

    www.mkdir()
    archive = subprocess.run(["git", "--git-dir", str(remote), "archive", "gh-pages"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(www)], input=archive, check=True)
    return www


def serve(www: Path, port: int) -> None:
    from tools.browser import QuietServer

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    with QuietServer(("127.0.0.1", port), handler) as server:
        print(f"serving the published site on http://127.0.0.1:{port}/ (Ctrl+C stops)")
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "publish")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--older", help="also deploy the pages as this older version, e.g. 2.13")
    parser.add_argument("--no-serve", action="store_true")
    args = parser.parse_args(argv)
    if not 1024 <= args.port <= 65535:
        parser.error(f"--port must be between 1024 and 65535, got {args.port}")
    if args.older and not re.fullmatch(r"\d+\.\d+", args.older):
        parser.error(f"--older must look like 2.13, got {args.older!r}")
    www = publish(args.out.resolve(), args.port, args.older)
    print(f"published {torch_minor()} (latest){' and ' + args.older if args.older else ''} to {www}")
    if not args.no_serve:
        serve(www, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
