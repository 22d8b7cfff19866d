"""The one build of a `make test` session: the CI publish job's own steps, run once
(tools/publish_local.py). The publishing, built-HTML and browser tests all read its output.
It starts as soon as the tests are collected, in the background, so the build (one core)
overlaps with the chapters' runs instead of waiting for them."""

from concurrent.futures import Future, ThreadPoolExecutor

import pytest

_publishing: Future | None = None


def pytest_collection_finish(session):
    global _publishing
    if any("published" in getattr(item, "fixturenames", ()) for item in session.items):
        from tools import publish_local  # not on the GPU machine's path: it needs MkDocs

        _publishing = ThreadPoolExecutor(max_workers=1).submit(publish_local.publish)


@pytest.fixture(scope="session")
def published():
    from tools import publish_local

    try:
        return _publishing.result() if _publishing else publish_local.publish()
    except publish_local.PublishError as e:
        pytest.fail(str(e), pytrace=False)
