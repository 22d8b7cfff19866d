"""Run the CI publish job's own steps here, the way a fresh GitHub runner runs them.

    python -m tools.checks.publish_local [--out DIR] [--serve PORT]

The `publish` job of .github/workflows/ci.yml is read with a YAML parser and its `run:` steps
run in order with bash, in a scratch clone of the working tree whose `origin` is a local bare
repository that already holds an older version (as the real gh-pages does), with a PATH
like a fresh runner's: a plain Python 3.11 standing in for actions/setup-python, no project
packages, no .venv/bin. The clone reuses this checkout's installed .venv (one build, not an
install). `uses:` steps are skipped; USES_STOOD_IN says what stands in for each. gh-pages is
then unpacked under www/<site path>/ and can be served as GitHub Pages serves it. The tests
(tests/conftest.py) publish once per session and check that site; `make page-budget` reads it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml
from filelock import FileLock

from tools.browser import serve
from tools.facts import LATEST, PUBLISHED, ROOT, checkout_files, copy_checkout, installed, site_path, torch_minor

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
DOCS_ONLY = Path(__file__).with_name("docs_only")
OLDER = "2.13"  # a stand-in for the previous release already on gh-pages
USES_STOOD_IN = {
    "actions/checkout": "the scratch clone (all branches fetched, as with fetch-depth: 0)",
    "actions/setup-python": "the base interpreter of this venv, alone on a fresh runner's PATH",
    "actions/download-artifact": "nothing: no GPU job ran here, so the pages say CUDA times are missing",
}
GIT_ID = {"GIT_AUTHOR_NAME": "publish-local", "GIT_AUTHOR_EMAIL": "publish-local@127.0.0.1",
          "GIT_COMMITTER_NAME": "publish-local", "GIT_COMMITTER_EMAIL": "publish-local@127.0.0.1"}


class PublishError(Exception):
    pass


def run(cmd, cwd: Path, env: dict | None = None, what: str | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise PublishError(f"{what or ' '.join(map(str, cmd))} failed (exit {proc.returncode}) in {cwd}:\n"
                           f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def publish_steps() -> tuple[dict, list[dict]]:
    """(environment, steps) of the publish job: the workflow's and the job's `env:` merged."""
    spec = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = spec["jobs"]["publish"]
    return {**spec.get("env", {}), **job.get("env", {})}, job["steps"]


def fresh_runner_env(tmp: Path) -> dict:
    """A fresh runner's environment: `python` is a plain 3.11, nothing of ours on PATH."""
    stand_in = tmp / "setup-python"
    stand_in.mkdir()
    for name in ("python", "python3"):
        (stand_in / name).symlink_to(getattr(sys, "_base_executable", sys.executable))
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "TMPDIR", "CHROMIUM")}
    return {**keep, **GIT_ID, "CI": "true", "PATH": f"{stand_in}:/usr/local/bin:/usr/bin:/bin"}


def commit_all(folder: Path, message: str, env: dict) -> None:
    """`folder` as a new repository, all of it committed on main."""
    run(["git", "init", "--quiet", "--initial-branch=main"], folder)
    run(["git", "add", "-A"], folder)
    run(["git", "commit", "--quiet", "-m", message], folder, env)


def snapshot(src: Path, remote: Path) -> None:
    """The working tree as a clone would have it, pushed as main."""
    commit_all(copy_checkout(src), "snapshot for the publish steps", dict(os.environ, **GIT_ID))
    run(["git", "push", "--quiet", str(remote), "main"], src)


def seed_older_version(tmp: Path, remote: Path) -> None:
    """gh-pages as a previous release left it: version OLDER, deployed by mike."""
    seed = tmp / "older"
    (seed / "docs").mkdir(parents=True)
    (seed / "docs" / "index.md").write_text(f"# Version {OLDER}\n")
    (seed / "mkdocs.yml").write_text(f"site_name: older {OLDER}\nextra:\n  version:\n    provider: mike\n")
    venv = dict(os.environ, **GIT_ID, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    commit_all(seed, f"release {OLDER}", venv)
    run(["git", "remote", "add", "origin", str(remote)], seed)
    run(["mike", "deploy", "--push", OLDER], seed, venv)


def fresh_folder() -> Path:
    PUBLISHED.mkdir(parents=True, exist_ok=True)
    prune()
    return Path(tempfile.mkdtemp(prefix="run-", dir=PUBLISHED))


def prune() -> None:
    """Earlier runs after an hour (one still in use is younger), but for the three kept publishes
    used last and the one `latest` names."""
    used = sorted(PUBLISHED.glob("kept-*/published.json"), key=lambda f: f.stat().st_mtime)
    keep = {f.parent for f in used[-3:]} | {LATEST.resolve()}
    for old in [*PUBLISHED.glob("run-*"), *PUBLISHED.glob("kept-*")]:
        if old.is_dir() and old not in keep and time.time() - old.stat().st_mtime > 3600:
            shutil.rmtree(old, ignore_errors=True)
            Path(f"{old}.lock").unlink(missing_ok=True)


def inputs_key() -> str:
    """Everything the publish reads: the files a clone has, the interpreter, the installed packages."""
    h = hashlib.sha256("\n".join([sys.version, *installed()]).encode())
    for name in checkout_files():
        h.update(f"\0{name}\0".encode() + (ROOT / name).read_bytes())
    return h.hexdigest()[:24]


def kept() -> dict:
    """publish() once per set of inputs, into build/publish/kept-<key>: the other test process of
    `make test` waits on the lock and takes it, and so does the next session if nothing changed.
    Its build starts from the notebook views of the publish taken last: it renders the changed ones."""
    PUBLISHED.mkdir(parents=True, exist_ok=True)
    out = PUBLISHED / f"kept-{inputs_key()}"
    done = out / "published.json"
    with FileLock(f"{out}.lock"):
        if not done.exists():
            result = publish(out, views_from=LATEST / "notebook-views")
            done.write_text(json.dumps({k: str(v.relative_to(out)) if isinstance(v, Path) else v
                                        for k, v in result.items()}), encoding="utf-8")
        os.utime(done)
        point_latest_at(out)
    prune()
    return {k: out / v if k in PATHS else v for k, v in json.loads(done.read_text(encoding="utf-8")).items()}


def publish(out: Path | None = None, views_from: Path | None = None) -> dict:
    """Run the publish job's steps; return what ran and where gh-pages was unpacked. The build
    starts with the notebook views in `views_from` (tools/site/notebook_cache.py, linked, not
    copied) and renders the ones missing; without it, every view, as on a fresh runner."""
    fresh = out is None  # a folder of its own: `latest` names it when done (kept() names its own)
    if fresh:
        out = fresh_folder()
    elif out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    views = out / "notebook-views"  # the build's own: it drops the views it did not ask for
    if views_from is not None and views_from.is_dir():
        shutil.copytree(views_from, views, copy_function=os.link)
    tmp = Path(tempfile.mkdtemp(prefix="publish-", dir=out))
    remote, src = out / "remote.git", tmp / "src"
    run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(remote)], out)
    seed_older_version(tmp, remote)
    snapshot(tmp / "snapshot", remote)
    run(["git", "clone", "--quiet", str(remote), str(src)], tmp)
    # the checkout's installed venv, and a requirements.txt no newer than its stamp
    (src / ".venv").symlink_to(Path(sys.prefix))
    stamp_file = Path(sys.prefix) / ".installed"
    if not stamp_file.exists():
        raise PublishError(f"{sys.prefix} was not set up by make (no .installed): run `make install` first")
    stamp = stamp_file.stat().st_mtime
    for name in ("requirements.txt", "requirements-docs.txt"):
        os.utime(src / name, (stamp - 1, stamp - 1))

    workflow_env, steps = publish_steps()
    env = fresh_runner_env(tmp)
    # the views this build took or rendered: tests/test_notebook_cache.py builds the site from them
    env["NOTEBOOK_CACHE_DIR"] = str(views)
    # The runner installs only requirements-docs.txt; this venv has every pin, so imports of
    # anything else are refused instead (tools/checks/docs_only/sitecustomize.py).
    env.update(PYTHONPATH=str(DOCS_ONLY), DOCS_ONLY_REQUIREMENTS=str(src / "requirements-docs.txt"))
    ran, skipped = [], []
    for step in steps:
        name = step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0]
        if "uses" in step:
            action = step["uses"].split("@")[0]
            if action not in USES_STOOD_IN:
                raise PublishError(f"publish step {name!r} uses {action}, which nothing stands in for here")
            skipped.append(action)
            continue
        step_env = {**env, **{k: str(v) for k, v in {**workflow_env, **step.get("env", {})}.items()}}
        run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], src, step_env,
            what=f"publish step {name!r}")
        ran.append(name)

    www = out / "www"
    target = www / site_path().strip("/")
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "--git-dir", str(remote), "archive", "gh-pages"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    shutil.rmtree(tmp, ignore_errors=True)
    if fresh:
        point_latest_at(out)
    return {"ran": ran, "skipped": skipped, "www": www, "site": target, "remote": remote, "notebook_views": views}


PATHS = ("www", "site", "remote", "notebook_views")  # publish()'s result: these are folders in `out`


def point_latest_at(out: Path) -> None:
    link = PUBLISHED / f".latest-{os.getpid()}"
    link.symlink_to(out.name)
    os.replace(link, LATEST)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help=f"a folder to publish into (default: a new one in {PUBLISHED})")
    parser.add_argument("--serve", type=int, metavar="PORT", help="then serve gh-pages on this port")
    args = parser.parse_args(argv)
    if args.serve is not None and not 1024 <= args.serve <= 65535:
        parser.error(f"--serve must be a port between 1024 and 65535, got {args.serve}")
    try:
        done = publish(args.out.resolve() if args.out else None)
    except PublishError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"ran {len(done['ran'])} steps ({', '.join(done['ran'])}); stood in for {', '.join(done['skipped'])}")
    print(f"published {torch_minor()} (latest) next to {OLDER} into {done['site']}")
    if args.serve:
        server, base = serve(done["www"], port=args.serve)
        print(f"serving gh-pages on {base}{site_path().lstrip('/')} (Ctrl+C stops)")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
