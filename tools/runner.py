"""The one runner: every chapter's code executed once, the way its notebook runs.

    python -m tools.runner [PAGE ...]            run and report (default: every Korean page)
    python -m tools.runner --write [PAGE ...]    make outputs: rewrite the shown outputs, the
                                                 figures and the notebooks from this run
    python -m tools.runner --bench [--suite]     make bench: compute per chapter and script,
                                                 the site build, and (--suite) the test suite's
                                                 wall time against that compute: the overhead

A chapter runs in its own process, forked from a server that has already imported torch
(so `import torch` is paid once, not once per chapter), its cells in page order in one
namespace (`__main__`, as in a Jupyter kernel). Each unit starts in an empty working
directory, so a unit can't read a file an earlier one wrote: with tests/test_docs.py's check
that no snippet uses a name it doesn't define, that is what makes every snippet standalone.
What each cell prints, every PNG a unit saves, the network attempts and (REQUIRE_CUDA=1) the
CUDA memory each unit allocated are recorded. The tests (tests/test_chapters.py), `make
outputs`, `make bench` and the GPU job all read these results; nothing else runs page code.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

from tools import figures, no_network
from tools.docs_pages import (DOCS, ROOT, DocsError, Unit, all_units, notebook_path, notebook_record, pages,
                              rel, scan_fences, twin)

TIMEOUT_S = 300  # per chapter
CUDA = os.environ.get("REQUIRE_CUDA") == "1"
# A unit "picks a device" when it uses the handbook's idiom or names CUDA itself; for an ```sh
# unit, when a script it runs does.
PICKS_DEVICE = ("torch.accelerator", "torch.cuda.is_available", "--device")
# Scripts that python units and ```sh units start get the same network guard and CUDA probe.
SUBPROCESS_PATH = os.pathsep.join([str(ROOT / "tools" / "netguard"), str(ROOT / "tools")])


@dataclass
class UnitRun:
    cells: list[str] = field(default_factory=list)  # stdout of each fence (notebook cell)
    seconds: float = 0.0
    error: str | None = None
    cuda_bytes: int = 0
    figures: list[str] = field(default_factory=list)  # PNGs it saved, in the chapter's run dir

    @property
    def output(self) -> str:
        return "".join(self.cells)


@dataclass
class ChapterRun:
    page: Path
    units: list[UnitRun]
    blocked: list[str] = field(default_factory=list)  # network attempts
    error: str | None = None  # the chapter itself failed (timeout, crash)
    workdir: Path | None = None

    @property
    def seconds(self) -> float:
        return sum(u.seconds for u in self.units)


def code_with_scripts(unit: Unit) -> str:
    """The unit's code, and for an ```sh unit the snippets/ scripts it starts."""
    if unit.syntax == "python":
        return unit.code
    return unit.code + "".join(p.read_text(encoding="utf-8") for p in (ROOT / "snippets").rglob("*.py")
                               if p.relative_to(ROOT).as_posix() in unit.code)


def picks_device(unit: Unit) -> bool:
    if "torch.distributed.run" in unit.code:  # each process picks by the GPU count (tests/test_ddp.py)
        return False
    return any(s in code_with_scripts(unit) for s in PICKS_DEVICE)


# ---- inside the chapter's process ----------------------------------------------------------

def _cuda_peak(reset: bool = False) -> int:
    import torch

    if not torch.cuda.is_available():
        return 0
    peak = torch.cuda.max_memory_allocated() if torch.cuda.is_initialized() else 0
    if reset and torch.cuda.is_initialized():
        torch.cuda.reset_peak_memory_stats()
    return peak


def _run_sh(code: str, env: dict) -> tuple[str, str | None]:
    # As pytest-codeblocks runs it: a shell in the repository root, the tests' python first on PATH
    proc = subprocess.run(code, shell=True, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S, executable="/bin/bash")
    err = None if proc.returncode == 0 else f"exit status {proc.returncode}\n{proc.stderr[-3000:]}"
    if "network access blocked" in proc.stderr:  # printed by tools/netguard in the scripts
        err = proc.stderr[-3000:]
    return proc.stdout, err


def _run_chapter(page: str, workdir: str, threads: int, conn) -> None:
    """The chapter's process: run every unit, send back a list of UnitRun dicts."""
    import torch

    torch.set_num_threads(threads)
    no_network.install()
    main = types.ModuleType("__main__")  # classes defined in cells pickle, as in a kernel
    sys.modules["__main__"] = main
    probe_dir = Path(workdir) / "cuda-probe"
    probe_dir.mkdir()
    # for the processes units start too: ```sh blocks say `python`, meaning the tests' own
    os.environ.update(MPLBACKEND="Agg", PYTHONPATH=SUBPROCESS_PATH, CUDA_PROBE_DIR=str(probe_dir),
                      OMP_NUM_THREADS=str(threads),
                      PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    results = []
    for n, unit in enumerate(all_units(Path(page)), 1):
        run = UnitRun()
        cwd = Path(workdir) / f"unit-{n:02d}"
        cwd.mkdir()
        os.chdir(cwd)
        for p in probe_dir.iterdir():
            p.unlink()
        _cuda_peak(reset=True)
        start = time.perf_counter()
        for fence in unit.fences:
            out = io.StringIO()
            try:
                if unit.syntax == "python":
                    # blank lines first: a traceback names the page's own line numbers
                    code = compile("\n" * fence.line + fence.body, rel(Path(page)), "exec")
                    with contextlib.redirect_stdout(out):
                        exec(code, main.__dict__)
                else:
                    printed, run.error = _run_sh(fence.body, dict(os.environ))
                    out.write(printed)
            except BaseException:  # SystemExit too: a unit must not end the chapter quietly
                run.error = traceback.format_exc(limit=-8)
            run.cells.append(out.getvalue())
            if run.error:
                break
        run.seconds = time.perf_counter() - start
        run.cuda_bytes = max([_cuda_peak()] + [int(p.read_text() or 0) for p in probe_dir.iterdir()])
        run.figures = [str(p) for p in figures.produced(cwd)]
        os.chdir(workdir)
        results.append(run.__dict__)
        if run.error:
            break
    conn.send({"units": results, "blocked": no_network.BLOCKED})
    conn.close()


# ---- in the caller ---------------------------------------------------------------------------

def _last_seconds(page: Path) -> float:
    try:
        return float((notebook_record(notebook_path(page)) or {}).get("seconds", 0.0))
    except (OSError, ValueError):
        return 0.0


def _context():
    ctx = multiprocessing.get_context("forkserver")
    # the server imports these once; every chapter's process is a fork of it
    ctx.set_forkserver_preload(["torch", "numpy", "matplotlib.pyplot", "tools.docs_pages", "tools.figures"])
    return ctx


def run_chapters(todo: list[Path], workers: int | None = None, keep: Path | None = None) -> dict[Path, ChapterRun]:
    """Run the chapters of the given Korean pages, `workers` at a time (default: one per core).
    Their working directories stay under `keep` (figures to compare) until it is removed."""
    workers = workers or (1 if CUDA else os.cpu_count() or 2)  # one at a time on a GPU: honest times
    threads = 1 if workers > 1 and not CUDA else max(1, (os.cpu_count() or 1))
    keep = Path(keep or tempfile.mkdtemp(prefix="chapters-"))
    ctx = _context()
    os.environ.setdefault("MPLBACKEND", "Agg")
    # the longest chapters first (as the last `make outputs` timed them): two cores stay busy
    pending, running, done = sorted(todo, key=_last_seconds, reverse=True), {}, {}
    while pending or running:
        while pending and len(running) < workers:
            page = pending.pop(0)
            workdir = keep / rel(page).replace("/", "-")
            workdir.mkdir(parents=True)
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_run_chapter, args=(str(page), str(workdir), threads, child))
            proc.start()
            child.close()
            running[page] = (proc, parent, time.monotonic(), workdir)
        for page, (proc, conn, started, workdir) in list(running.items()):
            message = None
            if conn.poll(0.05):
                try:
                    message = conn.recv()
                except EOFError:
                    message = {"error": f"the chapter's process died (exit code {proc.join(5) or proc.exitcode})"}
            elif time.monotonic() - started > TIMEOUT_S:
                proc.kill()
                message = {"error": f"timed out after {TIMEOUT_S} s"}
            if message is None:
                continue
            proc.join(10)
            done[page] = ChapterRun(page, [UnitRun(**u) for u in message.get("units", [])],
                                    message.get("blocked", []), message.get("error"), workdir)
            del running[page]
    return done


def problems(unit: Unit, run: ChapterRun, index: int, compare: bool = True) -> list[str]:
    """What is wrong with one unit's run: failed, not run, output or figure differs, network."""
    if index >= len(run.units):
        return [f"{unit.where}: not run ({run.error or 'an earlier unit of the chapter failed'})"]
    r, found = run.units[index], []
    if r.error:
        return [f"{unit.where}: failed\n{r.error}"]
    if compare and unit.expected_output is not None and r.output != unit.expected_output:
        found.append(f"{unit.where}: the output shown differs from the real one (run `make outputs`)\n"
                     f"--- shown\n{unit.expected_output}--- printed\n{r.output}")
    if compare:
        found += [f"{unit.where}: {p}" for p in figures.check(unit.page, Path(r.figures[0]).parent)] if r.figures else []
    if CUDA and picks_device(unit) and r.cuda_bytes <= 0:
        found.append(f"{unit.where}: picks a device but allocated no CUDA memory")
    return found


def write_outputs(run: ChapterRun) -> list[str]:
    """make outputs: the shown outputs into both languages' pages, the figures, the notebooks."""
    from tools import make_notebooks

    page, said = run.page, []
    units = all_units(page)
    for r in run.units:
        if r.figures:
            said += [f"stored figure {rel(f)}" for f in figures.store(page, Path(r.figures[0]).parent)]
    for target in (page, twin(page, "en")):
        theirs = all_units(target)
        if [u.code for u in theirs] != [u.code for u in units]:
            raise DocsError(target, 0, f"its runnable blocks differ from {rel(page)}; fix parity first")
        text = replace_outputs(target, [r.output for u, r in zip(theirs, run.units) if u.expected_output is not None])
        target.write_text(text, encoding="utf-8")
        said.append(f"updated {rel(target)}")
    cells = [c for u, r in zip(units, run.units) if u.syntax == "python" for c in r.cells]
    make_notebooks.write_with_outputs(page, cells, run_record(run))
    return said


def run_record(run: ChapterRun) -> dict:
    return {"seconds": round(run.seconds, 1), "machine": f"{os.cpu_count()}-core {platform.machine()} CPU"}


def replace_outputs(page: Path, outputs: list[str]) -> str:
    """The page's text with each expected-output fence's body replaced, in order."""
    lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
    fences = [f for f in scan_fences(page) if f.kind == "output"]
    assert len(fences) == len(outputs), (page, len(fences), len(outputs))
    for f, new in sorted(zip(fences, outputs), key=lambda x: -x[0].line):
        opening = lines[f.line - 1]
        indent = opening[: len(opening) - len(opening.lstrip())]
        end = f.line + f.body.count("\n")  # index of the closing fence
        lines[f.line:end] = [indent + line + "\n" if line else "\n" for line in new.splitlines()]
    return "".join(lines)



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, help="Korean pages (default: all)")
    parser.add_argument("--write", action="store_true", help="rewrite outputs, figures and notebooks")
    parser.add_argument("--bench", action="store_true", help="print compute per chapter and script")
    parser.add_argument("--suite", action="store_true", help="with --bench: also time the test suite")
    parser.add_argument("--workers", type=int, help="chapters at a time (default: one per core)")
    args = parser.parse_args(argv)
    todo = [p.resolve() for p in args.pages] or [p for p in pages("ko") if all_units(p)]
    for p in todo:
        if not p.is_file() or DOCS / "ko" not in p.parents:
            parser.error(f"{p}: give a Korean page (docs/ko/...); its English twin follows")
    try:
        for p in todo:
            all_units(p)  # a malformed page fails here, before anything runs
    except DocsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    keep = Path(tempfile.mkdtemp(prefix="chapters-"))
    try:
        start = time.perf_counter()
        # bench: one chapter at a time with every core, so each time is the code's bare compute
        runs = run_chapters(todo, 1 if args.bench else args.workers, keep)
        wall = time.perf_counter() - start
        failed = [p for page, run in runs.items() for i, u in enumerate(all_units(page))
                  for p in problems(u, run, i, compare=not args.write)]
        failed += [f"{rel(page)}: tried the network: {run.blocked}" for page, run in runs.items() if run.blocked]
        if args.bench:
            bench(runs, wall, args.suite)
        if failed:
            print("\n\n".join(failed), file=sys.stderr)
            print(f"error: {len(failed)} problem(s); nothing was written" if args.write else "", file=sys.stderr)
            return 1
        if args.write:
            for run in runs.values():
                for line in write_outputs(run):
                    print(line)
            if not CUDA:  # the install page's column for this torch (tools/compat.py)
                from tools import compat

                print(f"updated {rel(compat.write(runs))}")
        elif not args.bench:
            print(f"{sum(len(r.units) for r in runs.values())} units of {len(runs)} chapters ran in {wall:.1f} s")
    finally:
        shutil.rmtree(keep, ignore_errors=True)
    return 0


def bench(runs: dict[Path, ChapterRun], wall: float, suite: bool) -> None:
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
    from tools import site_bench

    build = site_bench.report()["cold"]  # builds (executing no notebook), `make serve`, an edit
    if suite:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                              capture_output=True, text=True)
        suite_wall = time.perf_counter() - start
        print(f"{'test suite (pytest, as make test runs it): wall':<62}{suite_wall:>11.2f}"
              + ("" if proc.returncode == 0 else "  (it FAILED)"))
        work = compute + build
        print(f"overhead = suite wall / ((chapters' compute + build) / {cores} cores) = "
              f"{suite_wall:.1f} / ({work:.1f} / {cores}) = {suite_wall / (work / cores):.2f}")


if __name__ == "__main__":
    sys.exit(main())
