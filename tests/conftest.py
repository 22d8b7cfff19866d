"""What a `make test` session shares, started in the background as soon as the tests are
collected, so the two cores stay busy while the other tests run one after another:

- the chapters' one run (tools/runner.py, two chapters at a time), read by test_chapters.py;
- the one build: the CI publish job's own steps (tools/publish_local.py), read by the site,
  publishing and browser tests.

The build's readers run first (Chromium needs little CPU while the chapters run), then the
rest, then the chapters' tests, by which time their run is done.
"""

import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
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
    items.sort(key=lambda item: (chapter_of(item) is not None, not reads_the_build(item)))  # stable


def pytest_collection_finish(session):
    chapters = sorted({c for item in session.items if (c := chapter_of(item))})
    pool = ThreadPoolExecutor(max_workers=2)
    if chapters:
        from tools import runner

        _started["chapters"] = pool.submit(runner.run_chapters, chapters, None, _keep / "runs")
    if any(reads_the_build(item) for item in session.items):
        from tools import publish_local  # not on the GPU machine's path: it needs MkDocs

        _started["publish"] = pool.submit(publish_local.publish)


def pytest_sessionfinish(session):
    shutil.rmtree(_keep, ignore_errors=True)


@pytest.fixture(scope="session")
def chapter_runs():
    return _started["chapters"].result()


@pytest.fixture(scope="session")
def published():
    from tools import publish_local

    try:
        return _started["publish"].result()
    except publish_local.PublishError as e:
        pytest.fail(str(e), pytrace=False)
