"""The expensive work a test session shares, run as background jobs so the two cores stay busy.

Each job has a session fixture that waits for it, and a job starts only when a selected test
uses that fixture: `-k rnn` runs the rnn chapter only, `--collect-only` starts nothing, and any
test file runs alone (`.venv/bin/pytest tests/test_site.py` pays only for the build it reads).

| job                    | what it runs                                         | fixture        |
|------------------------|------------------------------------------------------|----------------|
| chapters               | the selected chapters' one run (tools/run/runner.py; | `chapter_runs` |
|                        | unchanged ones from tools/run/chapter_cache.py)      |                |
| publish                | the CI publish job's steps (tools/checks/publish_local.py), | `published`    |
|                        | once per set of inputs, kept in build/publish/kept-* |                |
| <test module>          | its `pytestmark = pytest.mark.background(start=fn)`: | `started_here` |
|                        | `fn(folder)`, e.g. a script's training run; with     |                |
|                        | `published=True`, `fn(folder, the publish)`; with    |                |
|                        | `cache=True`, kept like a chapter's run (below)      |                |

A job with `cache=True` (a script's training runs) is kept in .cache/chapter-runs/jobs/ under a
key of everything the chapters' key holds besides a page (tools/run/chapter_cache.py: the
hand-written scripts, the runner, the packages, the CPU), its test file and the files in its
`reads=[...]` (from the checkout's root: the page or notebook it runs, for one); the next session
takes its result and files from there, and the tests check them again. An entry whose tests
failed is dropped, so the next session runs the job again; CHAPTER_CACHE=off runs every job
and publishes anew.

The chapters and the publish start together at the start of the run; the jobs on the publish
start beside them and wait for it; the modules' other jobs go one after another in a lane
of their own once the build is done (the build has a core to itself meanwhile). The
tests that wait for nothing run first, then the build's readers, the modules with a job, the
chapters, and last the tests that monkeypatch, once every job is done
(pytest_collection_modifyitems). Ctrl-C stops the chapters' run, waits for the other jobs,
then removes their folder.

The Chromium tests of BROWSER_FILES (those that take the `browser` fixture, or are marked
`browser` by hand) are marked `browser`: `make test` runs them in a second pytest process beside
the rest (`-m browser` and `-m "not browser"`, Makefile). Both take the same publish: the first
waits on its lock and builds it, the other then takes it. `-m browser` collects only
BROWSER_FILES (the others import torch and parse every page: 4 s before the publish could
start). A Chromium test in another file runs in the first process: tests/test_accessibility.py's
do, so that the two processes end together (they ended 18 s apart, 2-core AMD EPYC).
"""

import shutil
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STOP = threading.Event()  # set on Ctrl-C: the chapters' run kills its processes


class Jobs:
    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="test-jobs-"))
        self.pool = ThreadPoolExecutor(max_workers=4)  # the chapters, the publish, the jobs on the publish
        self.lane = ThreadPoolExecutor(max_workers=1)  # the modules' jobs, after the publish
        self.started: dict[str, Future] = {}
        self.took: dict[str, tuple[float, float]] = {}  # name: (start, end) seconds after the session's start
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.cached: dict[str, tuple[Path, str]] = {}  # module: the cache and key its job's result is kept under
        self.reused: set[str] = set()  # modules whose job came from the cache
        self.failed: set[str] = set()  # modules with a failing test
        self._common = None

    def start(self, name: str, fn, *args, lane: bool = False) -> Future:
        with self.lock:
            if name not in self.started:
                self.started[name] = (self.lane if lane else self.pool).submit(self.timed, name, fn, *args)
            return self.started[name]

    def timed(self, name, fn, *args):
        start = time.monotonic() - self.t0
        try:
            return fn(*args)
        finally:
            self.took[name] = (start, time.monotonic() - self.t0)

    def chapters(self, pages):
        from tools.run import chapter_cache, runner

        return self.start("chapters", runner.run_chapters, sorted(pages), None, self.folder / "runs", STOP,
                          chapter_cache.folder())

    def publish(self):
        from tools.checks import publish_local  # not on the GPU machine's path: it needs MkDocs
        from tools.run import chapter_cache

        # kept like a chapter's run, and so shared with make test's other process
        return self.start("publish", publish_local.kept if chapter_cache.folder() else publish_local.publish)

    def module(self, node):
        mark = node.get_closest_marker("background")
        if mark is None:
            raise pytest.UsageError(f"{node.nodeid} uses `started_here` but its module has no "
                                     "`pytestmark = pytest.mark.background(start=...)`")
        folder = self.folder / node.module.__name__
        folder.mkdir(exist_ok=True)
        name, start = node.module.__name__, mark.kwargs["start"]
        if mark.kwargs.get("published"):  # fn(folder, the publish): beside the lane, once the publish is done
            publish = self.publish()
            return self.start(name, lambda: start(folder, publish.result()))
        if "publish" in self.started:  # after the build: it has its core then, and Chromium can start
            self.start("publish-done", wait, [self.started["publish"]], lane=True)
        if mark.kwargs.get("cache"):
            reads = [Path(node.module.__file__), *(ROOT / p for p in mark.kwargs.get("reads", ()))]
            return self.start(name, self.kept, name, reads, start, folder, lane=True)
        return self.start(name, start, folder, lane=True)

    def kept(self, name: str, reads: list[Path], start, folder: Path):
        """start(folder), or its result and files as a session with the same inputs left them."""
        from tools.run import chapter_cache

        cache = chapter_cache.folder()
        if cache is None:
            return start(folder)
        key = chapter_cache.key(self.common(), *reads)
        found, result = chapter_cache.load_job(cache, name, key, folder)
        if found:
            self.reused.add(name)
        else:
            result = start(folder)
            chapter_cache.store_job(cache, name, key, folder, result)
        self.cached[name] = cache, key
        return result

    def common(self) -> bytes:
        """What every kept job's key holds besides its test file: read once per session."""
        from tools.run import chapter_cache

        with self.lock:
            if self._common is None:
                self._common = chapter_cache.inputs(threads=0)
            return self._common

    def stop(self, interrupted: bool):
        from tools.run import chapter_cache

        if interrupted:
            STOP.set()
        for pool in (self.pool, self.lane):
            pool.shutdown(wait=True, cancel_futures=True)
        for name in self.failed & self.cached.keys():
            cache, key = self.cached[name]
            chapter_cache.drop_job(cache, name, key)
        shutil.rmtree(self.folder, ignore_errors=True)


JOBS = Jobs()
BROWSER_FILES = {"test_published_site.py", "test_tools.py"}


def pytest_configure(config):
    config.addinivalue_line("markers", "background(start=fn): run fn(folder) as this module's background job; "
                                       "its `started_here` fixture returns the result (tests/conftest.py)")


def pytest_ignore_collect(collection_path, config):
    if config.option.markexpr == "browser" and collection_path.name.startswith("test_"):
        return collection_path.name not in BROWSER_FILES
    return None


def chapter_of(item) -> Path | None:
    if "chapter_runs" not in getattr(item, "fixturenames", ()):
        return None
    params = getattr(getattr(item, "callspec", None), "params", {})
    return params["unit"][0] if "unit" in params else params.get("page")


def uses(item, fixture: str) -> bool:
    return fixture in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)  # before -m selects
def pytest_collection_modifyitems(items):
    for item in items:  # `browser`: the tests make test runs in its second process (Makefile)
        if item.path.name in BROWSER_FILES and (uses(item, "browser") or item.get_closest_marker("browser")):
            item.add_marker(pytest.mark.browser)

    def rank(item):
        if uses(item, "monkeypatch"):  # it changes what the jobs read: after them (pytest_runtest_setup)
            return 4
        if uses(item, "chapter_runs"):
            return 3
        if uses(item, "started_here"):
            return 2
        return 1 if uses(item, "published") else 0

    items.sort(key=rank)  # stable: file order otherwise


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    """Start the jobs the selected tests need (nothing for --collect-only)."""
    if session.config.option.collectonly or not session.items:
        return None
    chapters = {c for item in session.items if (c := chapter_of(item))}
    if chapters:
        JOBS.chapters(chapters)
    if any(uses(item, "published") for item in session.items):
        JOBS.publish()
    for item in session.items:
        if uses(item, "started_here"):
            JOBS.module(item)
    return None


def pytest_runtest_setup(item):
    """A test that monkeypatches a module or the environment waits until no job runs: a job's
    thread reads the same globals (a hidden torch once failed a script job's torch.save)."""
    if uses(item, "monkeypatch"):
        wait(list(JOBS.started.values()))


def pytest_terminal_summary(terminalreporter):
    if JOBS.took:  # where the wall time went: each job's start and end, seconds after the session began
        terminalreporter.write_line("jobs: " + ", ".join(f"{name} {a:.0f}-{b:.0f} s" + " (kept)" * (name in JOBS.reused) for name, (a, b) in
                                                         sorted(JOBS.took.items(), key=lambda kv: kv[1])))
    job = JOBS.started.get("chapters")
    if job is not None and job.done() and not job.exception():
        runs = job.result().values()
        cached = sum(r.cached for r in runs)
        terminalreporter.write_line(f"chapters: {len(runs) - cached} ran in this session, {cached} unchanged since a "
                                    "run that passed (.cache/chapter-runs; CHAPTER_CACHE=off runs them all)")


def pytest_runtest_logreport(report):
    if report.failed:
        JOBS.failed.add(Path(report.nodeid.split("::")[0]).stem)


def pytest_sessionfinish(session, exitstatus):
    JOBS.stop(interrupted=exitstatus == pytest.ExitCode.INTERRUPTED)


@pytest.fixture(scope="session")
def chapter_runs(request):
    chapters = {c for item in request.session.items if (c := chapter_of(item))}
    return JOBS.chapters(chapters).result()


@pytest.fixture(scope="module")
def started_here(request):
    """What this test module's background job returned."""
    return JOBS.module(request.node).result()


@pytest.fixture(scope="session")
def published():
    from tools.checks import publish_local

    try:
        return JOBS.publish().result()
    except publish_local.PublishError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def browser():
    """One Chromium per browser-test module (tools/browser.py: the local one, offline flags)."""
    from playwright.sync_api import sync_playwright

    from tools import browser as browser_tools

    with sync_playwright() as p:
        b = browser_tools.launch(p)
        yield b
        b.close()
