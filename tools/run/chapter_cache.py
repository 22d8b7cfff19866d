"""A chapter's run, kept until something it reads changes: `make test` after an edit to one
page runs that chapter again and takes the others' runs from .cache/chapter-runs/. The tests'
script runs (a test module's background job, tests/conftest.py) and the other-CPU reruns
(tests/test_other_cpu.py) are kept the same way, under jobs/ (`load_job`, `store_job`).

The key hashes everything a run depends on: the Korean page, every hand-written file under
snippets/ (the scripts ```sh units start and the modules they import), the runner and the
page model (tools/run/, tools/pages/, tools/facts.py), the interpreter and every installed
distribution's version, the CPU (model and instruction-set flags), the core count and the
threads a chapter gets, and the environment variables PyTorch and its libraries read. A
cached run is one the runner would make now; anything else is a miss. The tests still
compare the page with the run: only the execution is reused. A fresh checkout (CI) has no
cache and runs every chapter; CHAPTER_CACHE=off does the same. `make outputs`, `make bench`,
other torch versions (tools/run/compat.py) and the CUDA run never read it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import platform
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from tools import facts
from tools.pages.docs_pages import ROOT

CACHE = ROOT / ".cache" / "chapter-runs"
# (not MPLBACKEND: the runner sets it for every run, and a test session sets it partway through)
READ_BY_TORCH = ("ATEN_", "ONEDNN_", "DNNL_", "OMP_", "MKL_", "KMP_", "OPENBLAS_", "TORCH", "PYTORCH_", "CUDA_")


# The environment as the process began: a test that imports a script in-process may set a variable
# (compile-export's benchmark sets TORCHINDUCTOR_CACHE_DIR to a new temporary folder) while the
# tests' background jobs take their keys.
ENVIRON = dict(os.environ)


def folder() -> Path | None:
    return None if os.environ.get("CHAPTER_CACHE", "on") == "off" else CACHE


def _cpu() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    first = info.split("\n\n", 1)[0]  # the first processor: model name and flags
    return "\n".join(line for line in first.splitlines() if line.startswith(("model name", "flags", "Features")))


def inputs(threads: int, root: Path = ROOT, environ=ENVIRON) -> bytes:
    """What every chapter's key holds besides its page, read once when a run starts."""
    from tools.pages.extract_snippets import is_generated

    h = hashlib.sha256(f"{sys.version}\n{platform.machine()}\n{os.cpu_count()}\n{threads}\n".encode())
    h.update(_cpu().encode())
    h.update(json.dumps(sorted((k, v) for k, v in environ.items() if k.startswith(READ_BY_TORCH))).encode())
    h.update("\n".join(facts.installed()).encode())
    read = [root / "tools" / "facts.py"]
    read += sorted(p for d in ("tools/run", "tools/pages") for p in (root / d).rglob("*") if "__pycache__" not in p.parts)
    read += sorted(p for p in (root / "snippets").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and not (p.suffix == ".py" and is_generated(p)))
    for p in read:
        if p.is_file():
            h.update(f"\0{p.relative_to(root)}\0".encode() + p.read_bytes())
    return h.digest()


def key(common: bytes, *files: Path) -> str:
    """A page's key (or a job's: its test file and what it reads): taken when the run starts and
    used to store it, so nothing that changes meanwhile (a monkeypatch, an edit) can file a run
    under another key."""
    return hashlib.sha256(common + b"".join(f.read_bytes() for f in files)).hexdigest()[:24]


def load(cache: Path, key: str, workdir: Path) -> dict | None:
    """The stored run's message (as a chapter's process sends it), its figures copied into
    workdir as the run left them; None when nothing current is stored. A chapter's entries
    are kept in a folder named as its working directory (runner.run_chapters names it)."""
    entry = cache / workdir.name / key
    try:
        message = json.loads((entry / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for unit in message["units"]:
        unit["figures"] = [str(workdir / name) for name in unit["figures"]]
        _copy_pngs(entry, workdir, unit["figures"] and {Path(unit["figures"][0]).parent.name})
    return message


def _copy_pngs(source: Path, dest: Path, unit_dirs) -> None:
    """Every PNG (a figure and its dark twin) of the given unit folders."""
    for name in unit_dirs or ():
        (dest / name).mkdir(parents=True, exist_ok=True)
        for png in (source / name).glob("*.png"):
            shutil.copyfile(png, dest / name / png.name)


def store(cache: Path, key: str, workdir: Path, message: dict) -> None:
    """Keep a clean run (every unit ran, nothing failed, no network): one entry per chapter."""
    with _entry(cache / workdir.name, key) as tmp:
        units = [{**u, "figures": [str(Path(f).relative_to(workdir)) for f in u["figures"]]} for u in message["units"]]
        _copy_pngs(workdir, tmp, {Path(f).parent.name for u in units for f in u["figures"]})
        (tmp / "run.json").write_text(json.dumps({**message, "units": units}), encoding="utf-8")


@contextlib.contextmanager
def _entry(where: Path, key: str):
    """A new entry `where/key`, written in a temporary folder and moved into place whole (another
    `make test` reading it sees all of it or none); it replaces every older entry of `where`."""
    where.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=where, prefix=".tmp-"))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in where.iterdir():
        if old != tmp and not old.name.startswith(".tmp-"):
            shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, where / key)


# A job's result names files in the folder it ran in; stored, those paths are kept relative to it,
# and loaded, they point into the folder the stored files are copied to.
class _Pickler(pickle.Pickler):
    def __init__(self, file, folder: Path):
        super().__init__(file)
        self.folder = folder

    def persistent_id(self, obj):
        if isinstance(obj, Path) and obj.is_relative_to(self.folder):
            return str(obj.relative_to(self.folder))
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, folder: Path):
        super().__init__(file)
        self.folder = folder

    def persistent_load(self, relative):
        return self.folder / relative


def store_job(cache: Path, name: str, key: str, folder: Path, result) -> None:
    """Keep what job `name` returned and the files it left in `folder`. A result that can't be
    pickled is not kept (a warning says so): the job then runs in every session, as without a cache."""
    try:
        with _entry(cache / "jobs" / name, key) as tmp:
            shutil.copytree(folder, tmp / "folder", symlinks=True)
            with open(tmp / "result.pickle", "wb") as f:
                _Pickler(f, folder).dump(result)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        warnings.warn(f"{name}: its result is not kept in {cache}: {e}")


def load_job(cache: Path, name: str, key: str, folder: Path) -> tuple[bool, object]:
    """(True, the result) with the job's files copied into `folder`, or (False, None)."""
    entry = cache / "jobs" / name / key
    try:
        with open(entry / "result.pickle", "rb") as f:
            result = _Unpickler(f, folder).load()
    except (OSError, pickle.UnpicklingError, EOFError):
        return False, None
    shutil.copytree(entry / "folder", folder, symlinks=True, dirs_exist_ok=True)
    return True, result


def drop_job(cache: Path, name: str, key: str) -> None:
    """Forget an entry a test found wrong: the next session runs the job again."""
    shutil.rmtree(cache / "jobs" / name / key, ignore_errors=True)
