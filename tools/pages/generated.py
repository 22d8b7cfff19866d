"""Generated files (snippets, notebooks, glossary pages, diagrams): written whole or not at all,
and brought up to date, or only checked (--check), the same way by every generator."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from tools.pages.docs_pages import rel


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


def differences(want: dict[Path, str], present: Iterable[Path]) -> tuple[list[Path], list[Path], list[Path]]:
    """(missing, stale, orphaned): files to write, to rewrite, and generated ones no longer wanted."""
    missing = [p for p in want if not p.exists()]
    stale = [p for p in want if p.exists() and p.read_text(encoding="utf-8") != want[p]]
    return missing, stale, sorted(set(present) - set(want))


def sync(name: str, want: dict[Path, str], present: Iterable[Path], check: bool, command: str) -> int:
    """Write `want`, remove what `present` has beyond it, print one summary line: exit status 0.
    With `check`, change nothing: name each file out of date and return 1 if any is."""
    missing, stale, orphaned = differences(want, present)
    if check:
        for label, paths in (("missing", missing), ("stale", stale), ("orphaned", orphaned)):
            for p in paths:
                print(f"{label}: {rel(p)}")
        if missing or stale or orphaned:
            print(f"{name} out of date: run `{command}`", file=sys.stderr)
            return 1
        return 0
    for p in missing + stale:
        write_atomically(p, want[p])
    for p in orphaned:
        p.unlink()
    print(f"{name}: {len(want)}, {len(missing)} new, {len(stale)} updated, {len(orphaned)} removed")
    return 0
