"""The CI definition: it lints clean (actionlint, zizmor), every step that does work is a
make target that exists, and the publish job's steps, run as written on a fresh runner's
PATH, publish the site (tools/checks/publish_local.py runs them)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tools import facts
from tools.checks import publish_local

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CI = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
VENV_BIN = Path(sys.executable).parent


LINTERS = {
    "actionlint": ["actionlint", "-no-color"],
    # offline: no GitHub API; the auditor persona's remaining ignores are explained in ci.yml
    "zizmor-regular": ["zizmor", "--offline", "--no-progress", "--persona=regular", str(WORKFLOWS)],
    "zizmor-auditor": ["zizmor", "--offline", "--no-progress", "--persona=auditor", str(WORKFLOWS)],
}


@pytest.mark.parametrize("linter", LINTERS)
def test_workflows_pass_the_linters(linter):
    name, *args = LINTERS[linter]
    exe = shutil.which(name, path=str(VENV_BIN))
    assert exe, f"{name} is missing from the venv: it is pinned in requirements.txt"
    proc = subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ci_entry_point_runs_make_test():
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.M)


def test_the_reader_job_runs_the_readers_commands_on_macos_and_windows():
    """It runs what a reader runs (README), not our make targets: that is its point."""
    job = CI["jobs"]["reader"]
    assert [s["run"] for s in job["steps"] if "run" in s] == [
        "python -m pip install -r requirements.txt", "python -m pytest --codeblocks docs/ko docs/en"]
    systems = job["strategy"]["matrix"]["os"]
    assert any(s.startswith("macos") for s in systems) and any(s.startswith("windows") for s in systems)
    assert "pytest --codeblocks docs/ko docs/en" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_run_step_is_one_make_target_that_exists():
    database = subprocess.run(["make", "-pRrq", "-f", "Makefile", ":"], cwd=ROOT, capture_output=True, text=True).stdout
    targets = set(re.findall(r"^([\w-]+):", database, re.M))
    for name, job in CI["jobs"].items():
        if name == "reader":
            continue  # the reader's own commands (test above)
        for step in job["steps"]:
            if "run" not in step:
                assert "uses" in step
                continue
            commands = [line for line in step["run"].splitlines() if "make " in line]
            assert len(commands) == 1, f"{name}: {step['run']!r} is not one make call"
            target = re.search(r"make (?:--?[\w-]+ )*([\w-]+)", commands[0]).group(1)
            assert target in targets, f"{name}: make {target} does not exist"


def test_cpu_job_uploads_the_screenshots_of_both_palettes_even_when_tests_fail():
    """The browser tests save the pages in both palettes under build/screenshots/
    (tests/test_published_site.py, tests/test_accessibility.py): CI keeps them to look at."""
    steps = CI["jobs"]["cpu"]["steps"]
    upload = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")
              and s["with"]["path"].rstrip("/") == "build/screenshots"]
    assert len(upload) == 1, "the cpu job has no upload-artifact step for build/screenshots/"
    assert upload[0].get("if") == "always()", "screenshots are most useful when a test failed"
    assert steps.index(upload[0]) > next(i for i, s in enumerate(steps) if "make test" in s.get("run", ""))


def test_actions_are_pinned_to_commits():
    uses = [s["uses"] for job in CI["jobs"].values() for s in job["steps"] if "uses" in s]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses


def test_only_publish_writes_and_only_after_both_test_jobs():
    jobs = CI["jobs"]
    assert jobs["publish"]["needs"] == ["cpu", "gpu"]
    condition = jobs["publish"]["if"]
    assert "refs/heads/main" in condition and "push" in condition
    # the CPU tests passed, and the CUDA tests passed or were skipped because no GPU runner exists
    assert "needs.cpu.result == 'success'" in condition and "needs.gpu.result == 'success'" in condition
    assert "needs.gpu.result == 'skipped' && vars.GPU_RUNNER != 'true'" in condition
    assert "vars.GPU_RUNNER == 'true'" in jobs["gpu"]["if"]
    assert jobs["publish"]["concurrency"]["group"] == "gh-pages"
    writers = [n for n, j in jobs.items() if "write" in json.dumps(j.get("permissions", {}))]
    assert writers == ["publish"] and CI["permissions"] == {"contents": "read"}


def test_the_gpu_job_never_runs_a_forks_code():
    condition = CI["jobs"]["gpu"]["if"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in condition
    checkout = CI["jobs"]["gpu"]["steps"][0]
    assert checkout["with"]["persist-credentials"] is False


def test_version_name_is_the_pinned_torch_minor():
    out = subprocess.run(["make", "-s", "version"], cwd=ROOT, capture_output=True, text=True).stdout
    assert out.strip() == facts.torch_minor()


# ---- the publish job installs only what builds the site ----

def pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text(encoding="utf-8")
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def test_requirements_include_the_docs_pins_once():
    """Readers install one file; the publish job the docs part of it (ci.yml, make publish)."""
    assert re.search(r"^-r requirements-docs\.txt\b", (ROOT / "requirements.txt").read_text(), re.M)
    docs, rest = pins("requirements-docs.txt"), pins("requirements.txt")
    assert not docs.keys() & rest.keys(), f"pinned in both files: {sorted(docs.keys() & rest.keys())}"
    assert "torch" in rest and "torch" not in docs
    publish = next(s["run"] for s in CI["jobs"]["publish"]["steps"] if "make publish" in s.get("run", ""))
    assert "REQUIREMENTS=requirements-docs.txt" in publish


def test_docs_only_guard_refuses_an_import_outside_the_docs_pins():
    """The guard the publish steps run under (a venv with every pin standing in for the
    runner's docs-only one) must refuse torch and allow what the build needs, or the publish
    test below would prove nothing."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(publish_local.DOCS_ONLY),
           "DOCS_ONLY_REQUIREMENTS": str(ROOT / "requirements-docs.txt")}
    code = "import mkdocs_jupyter, material, mike, latex2mathml, nbformat\nimport torch"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and "No module named 'torch'" in proc.stderr, proc.stderr
    assert "not in requirements-docs.txt" in proc.stderr.splitlines()[-1]


# ---- the publish job, run as written ----

def test_publish_steps_ran_as_written(published):
    _, steps = publish_local.publish_steps()
    uses = [s["uses"].split("@")[0] for s in steps if "uses" in s]
    assert published["skipped"] == uses and set(uses) <= set(publish_local.USES_STOOD_IN)
    assert len(published["ran"]) == sum("run" in s for s in steps) >= 1


def gh_pages(published, path: str) -> str:
    return subprocess.run(["git", "--git-dir", str(published["remote"]), "show", f"gh-pages:{path}"],
                          capture_output=True, text=True, check=True).stdout


def test_gh_pages_has_the_new_version_as_latest_next_to_the_older(published):
    versions = json.loads(gh_pages(published, "versions.json"))
    by_name = {v["version"]: v["aliases"] for v in versions}
    assert by_name == {facts.torch_minor(): ["latest"], publish_local.OLDER: []}


def test_gh_pages_redirects_to_latest_and_has_both_languages(published):
    assert 'url=latest/' in gh_pages(published, "index.html")
    version = facts.torch_minor()
    for path in (f"{version}/index.html", f"{version}/en/index.html", f"{version}/en/intro/index.html"):
        assert "<html" in gh_pages(published, path), path
    # mike's alias is a symbolic link to the version folder
    assert gh_pages(published, "latest") == version
