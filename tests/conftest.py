"""The one build of a `make test` session: the CI publish job's own steps, run once
(tools/publish_local.py). The publishing, built-HTML and browser tests all read its output."""

import pytest


@pytest.fixture(scope="session")
def published():
    from tools import publish_local

    try:
        return publish_local.publish()
    except publish_local.PublishError as e:
        pytest.fail(str(e), pytrace=False)
