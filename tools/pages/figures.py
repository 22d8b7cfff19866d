"""Figures on the pages are PNGs that the pages' own blocks save into their working
directory; they are kept under docs/assets/figures/<chapter>/ and must match a fresh run.

`make outputs` (tools/run/runner.py) stores them; the runner compares every PNG a docs block
saves with the stored one, so a figure that no longer matches its code fails a test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tools.pages.docs_pages import DOCS, chapter

FIGURES = DOCS / "assets" / "figures"
REGENERATE = "run `make outputs` to regenerate it"


def figure_dir(page: Path) -> Path:
    return FIGURES / chapter(page)


def produced(workdir: Path) -> list[Path]:
    return sorted(Path(workdir).glob("*.png"))


def store(page: Path, workdir: Path) -> list[Path]:
    out = []
    for png in produced(workdir):
        target = figure_dir(page) / png.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or difference(png, target) is not None:
            store_compressed(png, target)
        out.append(target)
    return out


def store_compressed(png: Path, target: Path) -> None:
    """`png` saved as `target`, as the smallest palette PNG (256, 128 or 64 colours) that shows
    the same picture (difference() finds none): matplotlib's figures are flat colours and a few
    gradients, and a palette PNG is a quarter to a half of the bytes on every page that shows it
    (the page budget). A figure with transparency, or one that no palette shows the same, is
    stored as it is."""
    from PIL import Image

    best = png
    with Image.open(png) as im:
        opaque = im.mode == "RGB" or (im.mode == "RGBA" and im.getextrema()[3] == (255, 255))
        for colours in (256, 128, 64) if opaque else ():
            candidate = target.with_name(f".{colours}-{target.name}")
            palette = im.convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            palette.save(candidate, optimize=True, dpi=im.info.get("dpi"))  # the density image_sizes reads
            if candidate.stat().st_size >= best.stat().st_size or difference(png, candidate) is not None:
                candidate.unlink()
                break
            if best != png:
                best.unlink()
            best = candidate
    if best == png:
        shutil.copyfile(png, target)
    else:
        best.replace(target)


def difference(new: Path, stored: Path) -> str | None:
    """None when the two PNGs show the same picture. Bytes first; otherwise pixels, with
    room for the last-bit float differences between CPUs that move a few edge pixels."""
    if new.read_bytes() == stored.read_bytes():
        return None
    import matplotlib.image
    import numpy as np

    a, b = matplotlib.image.imread(new), matplotlib.image.imread(stored)
    if a.shape != b.shape:
        return f"size {a.shape[1]}x{a.shape[0]} != stored {b.shape[1]}x{b.shape[0]}"
    changed = float(np.mean(np.abs(a - b).max(axis=-1) > 0.25))
    return None if changed < 0.0005 else f"{changed:.2%} of the pixels differ"


def check(page: Path, workdir: Path) -> list[str]:
    problems = []
    for png in produced(workdir):
        stored = figure_dir(page) / png.name
        if not stored.exists():
            problems.append(f"{png.name} is not stored under {stored.parent.relative_to(DOCS.parent)}: {REGENERATE}")
        elif (diff := difference(png, stored)) is not None:
            problems.append(f"{stored.relative_to(DOCS.parent)} is stale ({diff}): {REGENERATE}")
    return problems
