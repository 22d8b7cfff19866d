"""Which torch releases each chapter runs on: one result file per torch build, from real runs.

    python -m tools.run.compat      run every chapter with the torch of this interpreter (the one
                                runner, as the tests run it) and write its result file

`make test-torch TORCH=… TORCHVISION=…` runs this in its own venv; `make outputs` writes the
pinned torch's file from the same run that writes the pages (tests/test_chapters.py checks it
is that run). Each chapter gets: passed; differs (every unit ran, but an output or a figure is
not what the page shows: the first difference); failed (a unit raised: the error's last line);
or not run, and why (it needs torchvision and this run has none). A result remembers
a hash of the chapter's code and outputs, so the install page's table (filled in by the
hooks at build time, never by hand) says when a result is older than the page.
"""

from __future__ import annotations

import hashlib
import html
import importlib
import json
import os
import platform
import re
import sys
import textwrap
import tempfile
from datetime import date
from pathlib import Path

from tools.pages.docs_pages import COMPAT_TABLE, DOCS, ROOT, all_units, chapter, heading_before, lang_of, pages, rel, twin
from tools.pages.generated import write_atomically

RESULTS = DOCS / "assets" / "compat"  # torch-<version>.json, published with the site


def chapters() -> list[Path]:
    """The pages with code, in the order of mkdocs.yml's nav (a reader's order)."""
    import re

    nav = re.findall(r"^\s*- [^:]+: (\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M)
    order = {name: n for n, name in enumerate(nav)}
    found = [p for p in pages("ko") if all_units(p)]
    return sorted(found, key=lambda p: order.get(p.relative_to(DOCS / "ko").as_posix(), len(order)))


def code_hash(page: Path) -> str:
    """What a result was run on: the chapter's code and shown outputs."""
    text = "".join(u.code + "\0" + (u.expected_output or "") + "\0" for u in all_units(page))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def needs_torchvision(page: Path) -> bool:
    return any("torchvision" in u.code_with_scripts for u in all_units(page))


def result(page: Path, run) -> dict:
    """passed; or differs / failed (the unit ran but showed something else / it raised, or never
    ran), with the first thing runner.problems found, said in one line."""
    from tools.run import runner

    entry = {"code": code_hash(page), "units": len(all_units(page)), "seconds": round(run.seconds, 1)}
    if run.blocked:
        return entry | {"result": "failed", "first": f"tried the network: {run.blocked[0]}"}
    for i, unit in enumerate(all_units(page)):
        found = runner.problems(unit, run, i)
        if found:
            # the unit's number, not its line: prose edits move lines, and each language's
            # table names the unit's own section and line (tools/compat.table)
            ran = i < len(run.units) and not run.units[i].error
            return entry | {"result": "differs" if ran else "failed", "unit": i + 1,
                            "first": _one_line(unit, run, i, found[0])}
    return entry | {"result": "passed"}


def _one_line(unit, run, i: int, problem: str) -> str:
    if i >= len(run.units):
        return f"not reached ({run.error})"
    r = run.units[i]
    if r.error:
        return [line for line in r.error.strip().splitlines() if line.strip()][-1].strip()
    if diff := unit.output_difference(r.output):
        return diff
    return problem.splitlines()[0].split(": ", 1)[-1]  # a figure that differs


def environment() -> dict:
    import torch

    try:
        vision = importlib.import_module("torchvision").__version__
    except Exception:  # not installed, or a build that doesn't match torch
        vision = None
    return {"torch": torch.__version__, "torchvision": vision, "cuda_build": torch.version.cuda,
            "python": platform.python_version(),
            "machine": f"{os.cpu_count()}-core {platform.machine()} CPU", "date": date.today().isoformat()}


def path_for(torch_version: str) -> Path:
    return RESULTS / f"torch-{torch_version}.json"


def pinned_file() -> Path:
    """The result file of the torch that requirements.txt pins (whichever build of it)."""
    import re

    pin = re.search(r"^torch==(\S+)", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    found = sorted(RESULTS.glob(f"torch-{pin}.json")) + sorted(RESULTS.glob(f"torch-{pin}+*.json"))
    return found[0] if found else path_for(pin)


def pinned_results() -> dict:
    target = pinned_file()
    return json.loads(target.read_text()) if target.exists() else {"chapters": {}}


def write(runs: dict, skipped: dict[Path, str] | None = None) -> Path:
    """Merge these chapters' results into this torch's file (a `make outputs` of one page
    keeps the others'), atomically."""
    env = environment()
    target = path_for(env["torch"])
    old = json.loads(target.read_text()) if target.exists() else {}
    results = {name: entry for name, entry in old.get("chapters", {}).items()
               if (DOCS / "ko" / f"{name}.md").exists()}
    results |= {chapter(page): result(page, run) for page, run in runs.items()}
    results |= {chapter(page): {"code": code_hash(page), "units": len(all_units(page)), "result": "not run",
                                "why": why} for page, why in (skipped or {}).items()}
    data = env | {"chapters": dict(sorted(results.items()))}
    write_atomically(target, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return target


# ---- the table on the install page (called by the hooks) -------------------------------------

WORDS = {
    "ko": {"chapter": "장", "passed": "통과", "differs": "실행됨, 출력이 다름", "failed": "오류", "not run": "실행 안 함",
           "stale": "이 결과 뒤로 코드가 바뀌어 다시 실행해야 함", "missing": "아직 실행하지 않음",
           "vision": "torchvision {v}", "no_vision": "torchvision 없음", "at": "(「{section}」, {line}행)",
           "cuda": "CUDA {v} 빌드", "cpu_only": "CPU 전용 빌드",
           "ran": "{machine}에서 {date}에 실행, {total}개 장 중 {passed}개 통과",
           "machine": "{n}코어 {arch} CPU", "line": "출력 {n}번째 줄이 페이지에는 {shown}, 실행하면 {printed}",
           "number": "출력 {n}번째 줄의 수가 페이지에는 {shown}, 실행하면 {printed}(허용 범위 밖)",
           "lines": "출력이 {printed}줄, 페이지에는 {shown}줄", "other": "출력이나 그림이 페이지와 다름"},
    "en": {"chapter": "Chapter", "passed": "passed", "differs": "runs, output differs", "failed": "error",
           "not run": "not run",
           "stale": "the code changed since this run: to be run again", "missing": "not run yet",
           "vision": "torchvision {v}", "no_vision": "no torchvision", "at": "(“{section}”, line {line})",
           "cuda": "CUDA {v} build", "cpu_only": "CPU-only build",
           "ran": "run on a {machine} on {date}; {passed} of {total} chapters passed",
           "machine": "{n}-core {arch} CPU", "line": "output line {n}: the page shows {shown}, the run printed {printed}",
           "number": "output line {n}: the page shows {shown}, the run printed {printed} (beyond the tolerance)",
           "lines": "the run printed {printed} lines, the page shows {shown}", "other": None},
}
WHY = {"ko": {"needs torchvision": "torchvision이 필요한데 이 실행에는 없음"},
       "en": {"needs torchvision": "needs torchvision, which this run did not have"}}


def load_results() -> list[dict]:
    """Every result file, newest torch first."""
    found = [json.loads(p.read_text(encoding="utf-8")) for p in RESULTS.glob("torch-*.json")]

    def version(data):
        return tuple(int(x) for x in data["torch"].split("+")[0].split(".")[:3])

    return sorted(found, key=version, reverse=True)


def _title(page: Path) -> str:
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return chapter(page)


def table(here: Path) -> str:
    """The compatibility table in Markdown, for the page `here`: in its language, with links
    relative to it."""
    lang = lang_of(here)
    w, runs, todo = WORDS[lang], load_results(), chapters()
    hashes = {page: code_hash(page) for page in todo}
    head = [w["chapter"]]
    notes = []
    for data in runs:
        build = w["cuda"].format(v=data["cuda_build"]) if data["cuda_build"] else w["cpu_only"]
        vision = w["vision"].format(v=data["torchvision"]) if data["torchvision"] else w["no_vision"]
        head.append(f"torch {html.escape(data['torch'])}<br>({build}, {vision})")
        passed = sum(e["result"] == "passed" for e in data["chapters"].values())
        machine = re.fullmatch(r"(\d+)-core (\S+) CPU", data["machine"])
        machine = w["machine"].format(n=machine[1], arch=machine[2]) if machine else data["machine"]
        notes.append(f"torch {data['torch']}: " + w["ran"].format(machine=machine, date=data["date"],
                                                               passed=passed, total=len(todo)))
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for page in todo:
        target = twin(page, lang)
        link = os.path.relpath(target, here.parent).replace(os.sep, "/")
        cells = [f"[{_cell(_title(target))}]({link})"]
        for data in runs:
            entry = data["chapters"].get(chapter(page))
            if entry is None:
                cells.append(w["missing"])
            elif entry["code"] != hashes[page]:
                cells.append(f"{w[entry['result']]} ({w['stale']})")
            elif entry["result"] == "passed":
                cells.append(w["passed"])
            elif entry["result"] == "differs":
                cells.append(f"{w['differs']}: {_difference(entry['first'], w)}{_where(target, entry.get('unit'), w)}")
            elif entry["result"] == "failed":
                cells.append(f"**{w['failed']}**: <code>{_cell(entry['first'])}</code>"
                             f"{_where(target, entry.get('unit'), w)}")
            else:
                cells.append(f"{w['not run']}: {WHY[lang].get(entry['why'], _cell(entry['why']))}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n\n" + "".join(f"- {_cell(n)}\n" for n in notes)


# How tools/pages/docs_pages.py words an output difference (exact_difference, Tolerance.difference).
DIFFERENCES = (
    ("line", re.compile(r"output line (?P<n>\d+): shows (?P<shown>.*), printed (?P<printed>.*)")),
    ("number", re.compile(r"output line (?P<n>\d+): (?P<printed>\S+) printed where (?P<shown>\S+) is shown, .*")),
    ("lines", re.compile(r"output has (?P<printed>\d+) lines, (?P<shown>\d+) shown")),
)


def _difference(first: str, w: dict) -> str:
    """The first difference in the page's language; what was printed stays as printed (code)."""
    for key, pattern in DIFFERENCES:
        if m := pattern.fullmatch(first):
            quoted = {k: v if v.isdigit() else f"<code>{_cell(v)}</code>" for k, v in m.groupdict().items()}
            return w[key].format(**quoted)
    return w["other"] or _cell(first)  # a figure that differs, or writing to stderr


def fill(markdown: str, here: Path) -> str:
    """Each placeholder line replaced by the table, indented as the placeholder is (the
    install page keeps the table in a collapsed block)."""
    pattern = re.compile(rf"^([ \t]*){re.escape(COMPAT_TABLE)}[ \t]*$", re.M)
    return pattern.sub(lambda m: textwrap.indent(table(here), m.group(1)).rstrip("\n"), markdown)


def _where(page: Path, unit: int | None, w: dict) -> str:
    """Which unit failed, in the page's own language: its section and line."""
    if not unit:
        return ""
    line = all_units(page)[unit - 1].lineno
    return " " + w["at"].format(section=_cell(heading_before(page, line)), line=line)


def _cell(text: str) -> str:
    return html.escape(text).replace("|", "&#124;").replace("`", "&#96;").replace("*", "&#42;").replace("_", "&#95;")


def main() -> int:
    from tools.run import runner

    env = environment()
    todo, skipped = [], {}
    for page in chapters():
        if not env["torchvision"] and needs_torchvision(page):
            skipped[page] = "needs torchvision"
        else:
            todo.append(page)
    print(f"torch {env['torch']}, torchvision {env['torchvision']}: running {len(todo)} chapters, "
          f"not running {len(skipped)} (no torchvision)", flush=True)
    with tempfile.TemporaryDirectory(prefix="compat-") as keep:
        runs = runner.run_chapters(todo, keep=Path(keep))
        target = write(runs, skipped)
    data = json.loads(target.read_text())
    for name, entry in data["chapters"].items():
        unit = f"unit {entry['unit']}: " if "unit" in entry else ""
        print(f"{name:<34}{entry['result']:<9}{entry.get('seconds', ''):>6}  {unit}{entry.get('first', entry.get('why', ''))}")
    counts = {k: sum(e["result"] == k for e in data["chapters"].values())
              for k in ("passed", "differs", "failed", "not run")}
    print(f"wrote {rel(target)}: {counts['passed']} passed, {counts['differs']} ran with a different output, "
          f"{counts['failed']} failed, {counts['not run']} not run")
    return 1 if counts["failed"] or counts["differs"] else 0


if __name__ == "__main__":
    sys.exit(main())
