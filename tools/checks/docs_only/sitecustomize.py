# On PYTHONPATH for the publish job's steps (tools/checks/publish_local.py): the site build may
# import the standard library, the project's own code and what requirements-docs.txt pins, and
# nothing else, as on the publish runner, which installs only that file. An import outside it
# fails here as it would fail there, naming the module and its distribution.
import importlib.abc
import importlib.metadata
import os
import re
import sys


def _norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class _DocsOnly(importlib.abc.MetaPathFinder):
    def __init__(self, requirements):
        with open(requirements, encoding="utf-8") as f:
            pinned = {_norm(m) for m in re.findall(r"^([A-Za-z0-9_.-]+)==", f.read(), re.M)}
        self.allowed = pinned | {"pip", "setuptools"}  # what `python -m venv` puts in every venv
        self.owners = importlib.metadata.packages_distributions()  # top-level module -> distributions

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        dists = self.owners.get(top)
        if top in sys.stdlib_module_names or not dists or any(_norm(d) in self.allowed for d in dists):
            return None  # found as usual
        if sys._getframe(2).f_code.co_filename.endswith("importlib.util>"):
            return None  # a probe (importlib.util.find_spec, e.g. nbconvert's "is playwright there?"): only imports fail
        raise ModuleNotFoundError(f"No module named {name!r}: the site build imports it, but its distribution "
                                  f"({', '.join(dists)}) is not in requirements-docs.txt", name=name)


if os.environ.get("DOCS_ONLY_REQUIREMENTS"):
    sys.meta_path.insert(0, _DocsOnly(os.environ["DOCS_ONLY_REQUIREMENTS"]))
