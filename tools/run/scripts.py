"""A reader's script as the tests use it: started as a process the way a reader starts it
(run_script, under no_network.guarded_env), or imported in-process as a notebook would use it
(its parse_args([...]), its functions)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from tools.run import no_network

# the environment as the tests began: one torch thread and the tests' network guard
_GUARDED = no_network.guarded_env()


def run_script(path: Path, *args: str, cwd: Path, path_first: Path | None = None) -> subprocess.CompletedProcess:
    """`python path args` from cwd, its output captured; `path_first`: a folder searched for
    imports before the installed packages. The timeout is a hang guard, not a budget: with
    every cache cold, at load 10, deploy's export.py took over 120 s."""
    env = _GUARDED if path_first is None else {**_GUARDED, "PYTHONPATH": f"{path_first}:{_GUARDED['PYTHONPATH']}"}
    return subprocess.run([sys.executable, str(path), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def import_scripts(folder: Path, *names: str, prefix: str = "") -> dict[str, ModuleType]:
    """Each `folder/<name>.py` as a module, in order. The folder is on sys.path meanwhile, so a
    script's `import train` finds its sibling as when run from there; afterwards sys.path and
    the siblings' entries in sys.modules are as they were (another chapter has its own train.py)."""
    siblings = {p.stem for p in folder.glob("*.py")}
    saved = {name: sys.modules.pop(name) for name in siblings if name in sys.modules}
    sys.path.insert(0, str(folder))
    try:
        loaded = {}
        for name in names:
            spec = importlib.util.spec_from_file_location(f"{prefix or folder.name}_{name}", folder / f"{name}.py")
            loaded[name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(loaded[name])
        return loaded
    finally:
        sys.path.remove(str(folder))
        for name in siblings:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def import_script(path: Path) -> ModuleType:
    return import_scripts(path.parent, path.stem)[path.stem]
