"""A dark twin of every figure a page saves, for Material's dark (slate) palette.

The pages' code makes one ordinary figure (`fig.savefig("loss.png", dpi=160)`), which is what a
reader's copy makes too. While the runner runs a chapter, `install()` makes each PNG savefig also
write `loss.dark.png`: a copy of the same Figure with its neutral colours (white backgrounds,
black and gray text, axes, ticks, legend frames) turned into the dark palette's background and
text colours. Coloured lines and images keep their colours: they are data (a colormap, a
digit's ink). tools/site/figure_palette.py shows each twin only in its own palette.
"""

from __future__ import annotations

import os
import pickle
import time

# Material's slate palette as the browser computes it: body background, text colour
BACKGROUND = (30 / 255, 33 / 255, 41 / 255)
TEXT = (226 / 255, 228 / 255, 233 / 255)
SUFFIX = ".dark.png"
seconds = 0.0  # spent drawing twins in this process: the runner keeps it out of a chapter's time


def dark_name(name: str) -> str:
    return name[: -len(".png")] + SUFFIX


def _flip(rgba):
    """A gray of lightness L becomes the gray at 1 - L between the dark background and the text
    colour (white -> background, black -> text); a colour that is not gray stays."""
    if max(rgba[:3]) - min(rgba[:3]) >= 0.12:
        return tuple(rgba)
    t = 1 - sum(rgba[:3]) / 3
    return tuple(bg + t * (fg - bg) for bg, fg in zip(BACKGROUND, TEXT)) + (rgba[3],)


def darken(fig) -> None:
    """Turn `fig`'s neutral colours dark, in place."""
    from matplotlib.collections import Collection
    from matplotlib.colors import to_rgba, to_rgba_array
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.text import Text

    fig.patch.set_facecolor(_flip(to_rgba(fig.patch.get_facecolor())))
    over_images = {ax for ax in fig.axes if any(isinstance(a, AxesImage) for a in ax.get_children())}
    seen = {id(fig.patch)}
    for artist in fig.findobj():
        if isinstance(artist, AxesImage) or id(artist) in seen:
            continue  # findobj can list an artist twice: flipping it again would undo it
        seen.add(id(artist))
        if isinstance(artist, Text):
            if artist.axes in over_images and artist.get_transform() == artist.axes.transData:
                continue  # a label drawn on an image chose its colour against that image
            artist.set_color(_flip(to_rgba(artist.get_color())))
        elif isinstance(artist, Line2D):  # lines, tick marks (markers), grid lines
            artist.set_color(_flip(to_rgba(artist.get_color())))
            for part in ("markeredgecolor", "markerfacecolor"):
                value = getattr(artist, f"get_{part}")()
                if not (isinstance(value, str) and value == "none"):
                    getattr(artist, f"set_{part}")(_flip(to_rgba(value)))
        elif isinstance(artist, (Patch, Collection)):  # backgrounds, spines, legend frames, bars, scatter
            for part in ("facecolor", "edgecolor"):
                colours = to_rgba_array(getattr(artist, f"get_{part}")())
                if len(colours):
                    flipped = [_flip(c) for c in colours]
                    getattr(artist, f"set_{part}")(flipped[0] if len(flipped) == 1 else flipped)


def install() -> None:
    """From now on in this process, a figure saved as a .png file is also saved dark beside it."""
    from matplotlib.figure import Figure

    if getattr(Figure.savefig, "dark_twin", False):
        return
    plain = Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        plain(self, fname, *args, **kwargs)
        name = os.fspath(fname) if isinstance(fname, (str, os.PathLike)) else None
        if name and name.endswith(".png") and not name.endswith(SUFFIX):
            global seconds
            start = time.perf_counter()
            twin = pickle.loads(pickle.dumps(self))  # the reader's figure stays as it is
            darken(twin)
            plain(twin, dark_name(name), *args, **{**kwargs, "facecolor": twin.get_facecolor()})
            seconds += time.perf_counter() - start

    savefig.dark_twin = True
    Figure.savefig = savefig
