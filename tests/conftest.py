"""What a `make test` session shares, started in the background as soon as the tests are
collected, so the two cores stay busy while the other tests run one after another:

- the chapters' one run (tools/runner.py, two chapters at a time), read by test_chapters.py;
- the one build: the CI publish job's own steps (tools/publish_local.py), read by the site,
  publishing and browser tests;
- the hand-written scripts' runs: each test module that has a `start_in_background(folder)`
  gets it run, one module after another in a third lane once the build is done; its fixtures
  read the result (`started_here`).

The tests run in the order that keeps both cores busy (pytest_collection_modifyitems).
"""

import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

import pytest

_started: dict[str, Future] = {}
_keep = Path(tempfile.mkdtemp(prefix="chapters-"))


def chapter_of(item) -> Path | None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    if item.path.name == "test_chapters.py" and ("unit" in params or "page" in params):
        return params["unit"][0] if "unit" in params else params["page"]
    return None


def reads_the_build(item) -> bool:
    return "published" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items):
    """The tests that wait for nothing first (while the build runs), then the build's readers,
    then the scripts' tests, then the chapters' (a stable sort: file order otherwise)."""
    def rank(item):
        if chapter_of(item) is not None:
            return 3
        if "started_here" in getattr(item, "fixturenames", ()):
            return 2
        return 1 if reads_the_build(item) else 0

    items.sort(key=rank)


def pytest_collection_finish(session):
    chapters = sorted({c for item in session.items if (c := chapter_of(item))})
    pool = ThreadPoolExecutor(max_workers=2)
    if chapters:
        from tools import runner

        _started["chapters"] = pool.submit(runner.run_chapters, chapters, None, _keep / "runs")
    if any(reads_the_build(item) for item in session.items):
        from tools import publish_local  # not on the GPU machine's path: it needs MkDocs

        _started["publish"] = pool.submit(publish_local.publish)
    modules = {item.module for item in session.items if hasattr(getattr(item, "module", None), "start_in_background")}
    lane = ThreadPoolExecutor(max_workers=1)
    if "publish" in _started:  # after the build: it then has its core, and Chromium can start
        lane.submit(wait, [_started["publish"]])
    for module in sorted(modules, key=lambda m: m.__name__):
        folder = _keep / module.__name__
        folder.mkdir()
        _started[module.__name__] = lane.submit(module.start_in_background, folder)


def pytest_sessionfinish(session):
    shutil.rmtree(_keep, ignore_errors=True)


@pytest.fixture(scope="session")
def chapter_runs():
    return _started["chapters"].result()


@pytest.fixture(scope="module")
def started_here(request):
    """What this test module's start_in_background returned."""
    return _started[request.module.__name__].result()


@pytest.fixture(scope="session")
def published():
    from tools import publish_local

    try:
        return _started["publish"].result()
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
