"""Facts about the project that every layer reads, each defined once: where things are, which
torch the pins name, where the site is published. Read from mkdocs.yml and requirements.txt,
so there is nothing to keep in step by hand."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PUBLISHED = ROOT / "build" / "publish"  # tools/checks/publish_local.py: a folder per run
LATEST = PUBLISHED / "latest"  # a link to the newest complete one, for `make page-budget`


@cache
def config_value(key: str) -> str:
    """A top-level URL of mkdocs.yml (site_url, repo_url), with one final slash."""
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    m = re.search(rf'^{key}:\s*(?:!ENV \[\w+,\s*)?"?([^"\]\s]+)"?\]?\s*$', text, re.M)
    if not m:
        raise SystemExit(f"error: mkdocs.yml has no {key}")
    return m.group(1).rstrip("/") + "/"


def site_path() -> str:
    """The path part of site_url ("/pytorch-usage/"): where GitHub Pages serves gh-pages."""
    return urlsplit(config_value("site_url")).path


def published_root() -> str:
    """Where readers find the newest published version: what the notebooks link to."""
    return config_value("site_url") + "latest/"


def repo() -> str:
    """owner/name on GitHub, from repo_url."""
    return config_value("repo_url").removeprefix("https://github.com/").rstrip("/")


def torch_minor() -> str:
    """"2.14" for torch==2.14.1: the version the site is published under."""
    m = re.search(r"^torch==(\d+\.\d+)\.", (ROOT / "requirements.txt").read_text(encoding="utf-8"), re.M)
    if not m:
        raise SystemExit("error: requirements.txt has no exact `torch==X.Y.Z` pin to name the version after")
    return m.group(1)


# The import path as the process began: `import setuptools` (torch.compile does) later adds its
# vendored packages' folder, whose metadata would change the keys partway through a test session.
IMPORT_PATH = list(sys.path)


def installed() -> list[str]:
    """Every installed distribution with its version, as its metadata folder names it
    ("nbconvert-7.17.2.dist-info"): a listing per import folder, not a read per package.
    Part of the keys of what we cache (notebook views, chapter runs, the tests' script runs)."""
    return sorted(name for folder in IMPORT_PATH if os.path.isdir(folder)
                  for name in os.listdir(folder) if name.endswith((".dist-info", ".egg-info")))


def checkout_files() -> list[str]:
    """The working tree as a clone would have it: tracked and new files, not ignored."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    return [name for name in names if name and (ROOT / name).is_file()]


def copy_checkout(dest: Path) -> Path:
    """checkout_files() copied to dest: what the publish steps and the benchmarks build from."""
    for name in checkout_files():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    return dest
