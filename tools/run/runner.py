"""The one runner: every chapter's code executed once, the way its notebook runs.

    python -m tools.run.runner [PAGE ...]     run and report (default: every Korean page)

A chapter runs in its own process, forked from a server that has already imported torch
(so `import torch` is paid once, not once per chapter), its cells in page order in one
namespace (`__main__`, as in a Jupyter kernel). Each unit starts in an empty working
directory, so a unit can't read a file an earlier one wrote: with tests/test_docs.py's check
that no snippet uses a name it doesn't define, that is what makes every snippet standalone.
An exercise's solution (tools/pages/docs_pages.py) is a unit like the others; after it, its check runs
in the chapter's namespace (solution + check must pass), and its starter + check run in a fresh
namespace and working directory (they must fail: with the starter's exception, or an assertion
of the check that says what is wrong). What each cell prints, every PNG a unit saves, the network attempts and (REQUIRE_CUDA=1) the
CUDA memory each unit allocated are recorded. The tests (tests/test_chapters.py), `make
outputs` (tools/run/outputs.py), `make bench` and the GPU job all read these results; nothing else
runs page code.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import io
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

from tools.pages import dark_figures, figures
from tools.run import chapter_cache, no_network
from tools.pages.docs_pages import (DOCS, ROOT, DocsError, Unit, all_units, notebook_path, notebook_record, pages, rel,
                              units)

# per chapter: a hang guard, not a budget (make bench times the chapters). A fresh clone runs
# them beside every other job and Chromium's full accessibility scan, at a load of 11 on 2 cores.
TIMEOUT_S = 600
STACKS = "stacks-before-timeout.txt"  # where a chapter's process was, had it not ended by then
CUDA = os.environ.get("REQUIRE_CUDA") == "1"
# A unit "picks a device" when it uses the handbook's idiom or names CUDA itself; for an ```sh
# unit, when a script it runs does.
PICKS_DEVICE = ("torch.accelerator", "torch.cuda.is_available", "--device")


@dataclass
class UnitRun:
    cells: list[str] = field(default_factory=list)  # stdout of each fence (notebook cell)
    stderr: str = ""  # what its python cells wrote to stderr: a notebook shows that too
    seconds: float = 0.0
    error: str | None = None
    cuda_bytes: int = 0
    figures: list[str] = field(default_factory=list)  # PNGs it saved, in the chapter's run dir
    check_error: str | None = None  # an exercise's solution: its check failed on it
    starter: str | None = None  # ... and how its check failed on the starter ("" when it passed)

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
    cached: bool = False  # taken from tools/run/chapter_cache.py, not run in this session

    @property
    def seconds(self) -> float:
        return sum(u.seconds for u in self.units)


def picks_device(unit: Unit) -> bool:
    if "torch.distributed.run" in unit.code:  # each process picks by the GPU count (tests/test_ddp.py)
        return False
    return any(s in unit.code_with_scripts for s in PICKS_DEVICE)


# ---- inside the chapter's process ----------------------------------------------------------

def _cuda_peak(reset: bool = False) -> int:
    import torch

    if not torch.cuda.is_available():
        return 0
    peak = torch.cuda.max_memory_allocated() if torch.cuda.is_initialized() else 0
    if reset and torch.cuda.is_initialized():
        torch.cuda.reset_peak_memory_stats()
    return peak


@contextlib.contextmanager
def _stderr_into(sink):
    """A cell's stderr as a Jupyter kernel shows it: Python's warnings and logs and what C++
    code writes, all through file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _run_sh(code: str, env: dict) -> tuple[str, str | None]:
    # As pytest-codeblocks runs it: a shell in the repository root, the tests' python first on PATH
    proc = subprocess.run(code, shell=True, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT_S, executable="/bin/bash")
    err = None if proc.returncode == 0 else f"exit status {proc.returncode}\n{proc.stderr[-3000:]}"
    if "network access blocked" in proc.stderr:  # printed by tools/run/netguard in the scripts
        err = proc.stderr[-3000:]
    return proc.stdout, err


# How a check may fail on a starter: the starter's own exception (NotImplementedError from the
# part left to write, or any exception raised in the starter's lines, e.g. a bug to fix), or an assertion
# that says what is wrong. Anything else (a NameError in the check…) is a broken exercise.
def _run_exercise(unit: Unit, main: dict, cwd: Path) -> tuple[str | None, str]:
    """(check_error, starter): the check on the solution, in the chapter's namespace; then the
    starter and check in a namespace and working directory of their own."""
    def run(fence, namespace):
        code = compile("\n" * fence.line + fence.body, rel(unit.page), "exec")
        with contextlib.redirect_stdout(io.StringIO()), tempfile.TemporaryFile() as err, _stderr_into(err):
            exec(code, namespace)

    try:
        run(unit.check, main)
        check_error = None
    except Exception:
        check_error = traceback.format_exc(limit=-4)
    cwd.mkdir()
    os.chdir(cwd)
    fresh = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        run(unit.starter, fresh)
    except Exception as e:
        return check_error, f"the starter raises {type(e).__name__}: {e}"
    try:
        run(unit.check, fresh)
    except (NotImplementedError, AssertionError) as e:
        if isinstance(e, AssertionError) and not str(e).strip():
            return check_error, "!a bare assert of the check failed: give it a message saying what is wrong"
        return check_error, f"the check fails: {type(e).__name__}: {e}"
    except Exception as e:
        # raised inside the starter's code (a bug to fix), called from the check: the starter's own
        page_lines = [n for f, n in traceback.walk_tb(e.__traceback__) if f.f_code.co_filename == rel(unit.page)]
        starter_lines = range(unit.starter.line, unit.starter.line + unit.starter.body.count("\n") + 1)
        if page_lines and page_lines[-1] in starter_lines:
            return check_error, f"the starter raises {type(e).__name__}: {e}"
        return check_error, ("!the check fails on the starter with another error than NotImplementedError or "
                             "an AssertionError with a message:\n" + traceback.format_exc(limit=-2))
    return check_error, ""


def _run_chapter(page: str, workdir: str, threads: int, timeout: float, conn) -> None:
    """The chapter's process: run every unit, send back a list of UnitRun dicts."""
    import torch

    # the caller kills a chapter at `timeout`; a little before that, every thread's stack is
    # written down, so the timeout names the line the chapter was stuck on
    faulthandler.dump_traceback_later(timeout - min(10, timeout / 2), file=open(Path(workdir) / STACKS, "w"))
    torch.set_num_threads(threads)
    no_network.install()
    dark_figures.install()  # each saved figure gets its dark-palette twin
    main = types.ModuleType("__main__")  # classes defined in cells pickle, as in a kernel
    sys.modules["__main__"] = main
    probe_dir = Path(workdir) / "cuda-probe"
    probe_dir.mkdir()
    # for the processes units start too (the network guard and the CUDA probe): ```sh blocks say
    # `python`, meaning the tests' own
    os.environ.update(MPLBACKEND="Agg", PYTHONPATH=no_network.GUARD_PATH, CUDA_PROBE_DIR=str(probe_dir),
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
        start, twins = time.perf_counter(), dark_figures.seconds
        for fence in unit.fences:
            out = io.StringIO()
            try:
                if unit.syntax == "python":
                    # blank lines first: a traceback names the page's own line numbers
                    code = compile("\n" * fence.line + fence.body, rel(Path(page)), "exec")
                    with tempfile.TemporaryFile() as err:
                        try:
                            with contextlib.redirect_stdout(out), _stderr_into(err):
                                exec(code, main.__dict__)
                        finally:
                            err.seek(0)
                            run.stderr += err.read().decode(errors="replace")
                else:
                    printed, run.error = _run_sh(fence.body, dict(os.environ))
                    out.write(printed)
            except BaseException:  # SystemExit too: a unit must not end the chapter quietly
                run.error = traceback.format_exc(limit=-8)
            run.cells.append(out.getvalue())
            if run.error:
                break
        if unit.check is not None and not run.error:
            try:
                run.check_error, run.starter = _run_exercise(unit, main.__dict__, cwd.with_name(cwd.name + "-starter"))
            except BaseException:  # SystemExit from a starter: a failure, not the chapter's quiet end
                run.error = "running the exercise's starter and check failed:\n" + traceback.format_exc(limit=-8)
        run.seconds = time.perf_counter() - start - (dark_figures.seconds - twins)  # the page's code only
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
    ctx.set_forkserver_preload(["torch", "numpy", "matplotlib.pyplot", "tools.pages.docs_pages", "tools.pages.figures"])
    return ctx


def run_chapters(todo: list[Path], workers: int | None = None, keep: Path | None = None,
                 stop=None, cache: Path | None = None, timeout: float = TIMEOUT_S) -> dict[Path, ChapterRun]:
    """Run the chapters of the given Korean pages, `workers` at a time (default: one per core).
    Their working directories stay under `keep` (figures to compare) until it is removed. Setting
    `stop` (a threading.Event) ends the run at once: its processes are killed. With `cache`
    (the tests: tools/run/chapter_cache.py), a chapter whose inputs are unchanged since a run
    that passed is taken from there, and a run that passes is kept."""
    workers = workers or (1 if CUDA else os.cpu_count() or 2)  # one at a time on a GPU: honest times
    threads = 1 if workers > 1 and not CUDA else max(1, (os.cpu_count() or 1))
    keep = Path(keep or tempfile.mkdtemp(prefix="chapters-"))
    ctx = _context()
    os.environ.setdefault("MPLBACKEND", "Agg")
    cache = None if CUDA else cache
    common = cache and chapter_cache.inputs(threads)
    keys = {page: chapter_cache.key(common, page) for page in todo} if cache else {}
    workdirs = {page: keep / rel(page).replace("/", "-") for page in todo}
    pending, running, done = [], {}, {}

    def finish(page, message, workdir, cached=False):
        done[page] = run = ChapterRun(page, [UnitRun(**u) for u in message.get("units", [])],
                                      message.get("blocked", []), message.get("error"), workdir, cached)
        if cache and not cached and _passed(run):
            chapter_cache.store(cache, keys[page], workdir, message)

    for page, workdir in workdirs.items():
        workdir.mkdir(parents=True)
        message = cache and chapter_cache.load(cache, keys[page], workdir)
        if message:
            finish(page, message, workdir, cached=True)
        else:
            pending.append(page)
    # the longest chapters first (as the last `make outputs` timed them): two cores stay busy
    pending.sort(key=_last_seconds, reverse=True)
    while pending or running:
        if stop is not None and stop.is_set():
            for proc, *_ in running.values():
                proc.kill()
            return done
        while pending and len(running) < workers:
            page = pending.pop(0)
            workdir = workdirs[page]
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_run_chapter, args=(str(page), str(workdir), threads, timeout, child))
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
            elif time.monotonic() - started > timeout:
                proc.kill()
                stacks = (workdir / STACKS).read_text()
                message = {"error": f"timed out after {timeout} s" + f"; its threads were at:\n{stacks}" * bool(stacks)}
            if message is None:
                continue
            proc.join(10)
            finish(page, message, workdir)
            del running[page]
    return done


def _passed(run: ChapterRun) -> bool:
    """Every unit ran and passes its checks (a failing chapter is never kept: it runs again)."""
    units = all_units(run.page)
    return (not run.error and not run.blocked and len(run.units) == len(units)
            and not any(problems(u, run, i) or (u.check is not None and exercise_problems(u, run, i))
                        for i, u in enumerate(units)))


def problems(unit: Unit, run: ChapterRun, index: int, compare: bool = True) -> list[str]:
    """What is wrong with one unit's run: failed, not run, output or figure differs, network."""
    if index >= len(run.units):
        return [f"{unit.where}: not run ({run.error or 'an earlier unit of the chapter failed'})"]
    r, found = run.units[index], []
    if r.error:
        return [f"{unit.where}: failed\n{r.error}"]
    if r.stderr:
        found.append(f"{unit.where}: wrote to stderr, which a reader's notebook shows: print it on purpose, or "
                     f"silence it in the code with a sentence on the page saying why\n{r.stderr[-3000:]}")
    # on CUDA only the outputs that declare a tolerance are compared (exact ones may name the device);
    # `make outputs` (compare=False on CPU) rewrites varying outputs like exact ones
    if (compare or (CUDA and unit.tolerance)) and (diff := unit.output_difference(r.output)):
        within = f" (within {unit.tolerance})" if unit.tolerance else ""
        found.append(f"{unit.where}: the output shown{within} differs from the real one: {diff} "
                     f"(run `make outputs`)\n--- shown\n{unit.expected_output}--- printed\n{r.output}")
    if compare:
        found += [f"{unit.where}: {p}" for p in figures.check(unit.page, Path(r.figures[0]).parent)] if r.figures else []
    if CUDA and picks_device(unit) and r.cuda_bytes <= 0:
        found.append(f"{unit.where}: picks a device but allocated no CUDA memory")
    return found


def exercise_problems(unit: Unit, run: ChapterRun, index: int) -> list[str]:
    """What is wrong with an exercise (its solution is units[index]): the check fails on the
    solution, or doesn't fail on the starter the way a reader needs."""
    if index >= len(run.units) or run.units[index].error:
        return [f"{unit.exercise}: its solution did not run (see {unit.where})"]
    r, found = run.units[index], []
    if r.check_error:
        found.append(f"{unit.exercise}: the check fails on the solution\n{r.check_error}")
    if r.starter == "":
        found.append(f"{unit.exercise}: the check accepts the starter; it must fail until the exercise is solved")
    elif r.starter and r.starter.startswith("!"):
        found.append(f"{unit.exercise}: {r.starter[1:]}")
    return found


# A CPU unlike this one, as far as one machine can show it: PyTorch's own kernels and oneDNN's
# (convolutions) lowered to those of an x86-64 CPU without AVX, so every sum rounds differently.
OTHER_CPU = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"}


def varying_units() -> list[tuple[Unit, Path]]:
    """Every unit whose output varies by CPU (<!--output-varies-->), with its standalone snippet."""
    from tools.pages.extract_snippets import chapter_dir

    found = []
    for page in pages("ko"):
        for n, unit in enumerate(units(page), 1):
            if unit.tolerance:
                found += [(unit, p) for p in chapter_dir(page).glob(f"{n:02d}-*.py")]
    return found


def run_on_other_cpu(snippet: Path, workdir: Path) -> tuple[str, str | None]:
    """A unit's snippet run as a reader runs it, under OTHER_CPU: (stdout, error or None)."""
    env = no_network.guarded_env(**OTHER_CPU, MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(snippet)], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    return proc.stdout, None if proc.returncode == 0 else f"exit status {proc.returncode}\n{proc.stderr[-3000:]}"


def chapter_pages(paths: list[Path]) -> list[Path]:
    """The Korean pages to run (default: every page with code); SystemExit naming a bad one."""
    todo = [p.resolve() for p in paths] or [p for p in pages("ko") if all_units(p)]
    for p in todo:
        if not p.is_file() or DOCS / "ko" not in p.parents:
            raise SystemExit(f"error: {p}: give a Korean page (docs/ko/...); its English twin follows")
        try:
            all_units(p)  # a malformed page fails here, before anything runs
        except DocsError as e:
            raise SystemExit(f"error: {e}") from None
    return todo


def run_and_check(todo: list[Path], workers: int | None, keep: Path, compare: bool = True):
    """(runs, wall seconds, problems): the chapters run once, every unit checked."""
    start = time.perf_counter()
    runs = run_chapters(todo, workers, keep)
    wall = time.perf_counter() - start
    failed = [p for page, run in runs.items() for i, u in enumerate(all_units(page))
              for p in problems(u, run, i, compare=compare) + (exercise_problems(u, run, i) if u.check else [])]
    failed += [f"{rel(page)}: tried the network: {run.blocked}" for page, run in runs.items() if run.blocked]
    return runs, wall, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, help="Korean pages (default: all)")
    parser.add_argument("--workers", type=int, help="chapters at a time (default: one per core)")
    args = parser.parse_args(argv)
    todo = chapter_pages(args.pages)
    keep = Path(tempfile.mkdtemp(prefix="chapters-"))
    try:
        runs, wall, failed = run_and_check(todo, args.workers, keep)
        if failed:
            print("\n\n".join(failed), file=sys.stderr)
            return 1
        print(f"{sum(len(r.units) for r in runs.values())} units of {len(runs)} chapters ran in {wall:.1f} s")
    finally:
        shutil.rmtree(keep, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
