"""The debugging chapter's DataLoader script (snippets/debugging/loader_workers.py) as a
reader runs it: the page's ```sh block runs its default (tests/test_chapters.py compares that
output); here, bad arguments must stop it before any work with one `error:` line that names
the argument and exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.run import scripts

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "snippets" / "debugging" / "loader_workers.py"


BAD = [(["--workers", "0"], "--workers: must be 1 or more, got 0"),
       (["--items", "x"], "--items: invalid positive value: 'x'"),
       (["--delay", "5"], "--delay: must be between 0 and 1 seconds, got 5.0")]


def start_in_background(tmp: Path) -> dict:
    """The two runs of the script as a reader starts it (a process each: torch's import takes
    seconds), kept like a chapter's run while nothing they read changes (tests/conftest.py)."""
    return {"bad": scripts.run_script(SCRIPT, *BAD[0][0], cwd=tmp),
            "one worker": scripts.run_script(SCRIPT, "--workers", "1", "--items", "8", "--times", cwd=tmp)}


pytestmark = pytest.mark.background(start=start_in_background, cache=True)


def test_bad_arguments_stop_the_process_with_one_error_line(started_here):
    """As a reader meets it, once; the other cases in-process below: the same main(), no torch
    import each."""
    proc, named = started_here["bad"], BAD[0][1]
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and named in errors[0], proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("args, named", BAD)
def test_bad_arguments_stop_with_one_error_line(tmp_path, monkeypatch, capsys, args, named):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        scripts.import_script(SCRIPT).main(args)
    assert e.value.code == 2
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and named in errors[0], err
    assert out == "" and not any(tmp_path.iterdir())


def test_one_worker_cannot_read_at_the_same_time_as_itself(started_here):
    """The page's "at the same time: True" must be able to say False: with one worker no two
    processes read, and --times adds the (varying) epoch times."""
    proc = started_here["one worker"]
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:3] == ["same data: True", "0 workers, read by the main process: True",
                         "1 workers, read by 1 worker processes at the same time: False"], proc.stdout
    assert lines[3].startswith("fastest epoch after the first: 0 workers ")
