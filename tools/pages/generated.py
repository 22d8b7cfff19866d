"""Generated files (snippets, notebooks, glossary pages, diagrams): written whole or not at all,
and brought up to date, or only checked (--check), the same way by every generator."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from tools.pages.docs_pages import DocsError, rel


def write_atomically(path: Path, text: str) -> None:
    """`text` into `path` through a temporary file beside it: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None, doc: str, name: str, command: str, want: Callable[[], dict[Path, str]],
         present: Callable[[], Iterable[Path]] = list, error: type[Exception] = DocsError,
         problems: Callable[[], list[str]] = list) -> int:
    """A generator's command line: write `want()` and remove what `present()` has beyond it, or
    with --check name each file out of date and each of `problems()` (exit 1). `want()` is made
    whole first, so an `error` in a page names it, exits 2 and changes nothing."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report what is out of date, write nothing")
    check = parser.parse_args(argv).check
    try:
        files = want()
    except error as e:
        print(f"error: {e}\n{name}: nothing was changed.", file=sys.stderr)
        return 2
    missing = [p for p in files if not p.exists()]
    stale = [p for p in files if p.exists() and p.read_text(encoding="utf-8") != files[p]]
    orphaned = sorted(set(present()) - set(files))  # generated files nothing makes any more
    if check:
        for label, paths in (("missing", missing), ("stale", stale), ("orphaned", orphaned)):
            for p in paths:
                print(f"{label}: {rel(p)}")
        if missing or stale or orphaned:
            print(f"{name} out of date: run `{command}`", file=sys.stderr)
        found = problems()
        for problem in found:
            print(problem, file=sys.stderr)
        return 1 if missing or stale or orphaned or found else 0
    for p in missing + stale:
        write_atomically(p, files[p])
    for p in orphaned:
        p.unlink()
        with contextlib.suppress(OSError):  # its folder too, when that was all it held (a removed chapter)
            os.removedirs(p.parent)
    print(f"{name}: {len(files)}, {len(missing)} new, {len(stale)} updated, {len(orphaned)} removed")
    return 0
