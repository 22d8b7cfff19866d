"""MkDocs hook: under a chapter's title, take the code along (the chapter's script, its
notebook, the notebook in Colab in the page's language, the executed view) and a line saying
how long the code ran, with which PyTorch and when: read from the run that made the notebook's
outputs (`make outputs`), never typed. The chapter's code is also written as one script beside
the page (the "script" link)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # mkdocs restores sys.path after loading a hook
from tools.pages import docs_pages, make_notebooks  # noqa: E402

LABELS = {
    "ko": {"script": "스크립트 (.py)", "notebook": "노트북 (.ipynb)", "colab": "Colab에서 열기",
           "view": "실행된 노트북 보기",
           "cpu": "이 장의 코드 실행 시간: CPU {s} ({machine}, PyTorch {torch}, {date}에 노트북의 출력을 만든 실행)",
           "seconds": "{s} 초", "under": "0.1 초 미만",
           "cuda": "CUDA {s} 초 ({device})",
           "cuda_none": "CUDA: 실행하지 않음"},
    "en": {"script": "Script (.py)", "notebook": "Notebook (.ipynb)", "colab": "Open in Colab",
           "view": "Executed notebook",
           "cpu": "Run time of this chapter's code: CPU {s} ({machine}, PyTorch {torch}, the run that made the notebook's outputs on {date})",
           "seconds": "{s} s", "under": "under 0.1 s",
           "cuda": "CUDA {s} s ({device})",
           "cuda_none": "CUDA: not run"},
}


def _chapter_of(page):
    """(lang, chapter, notebook path) for a chapter page that has code, else None."""
    src = Path(page.file.abs_src_path or "")
    if src.suffix != ".md" or docs_pages.DOCS not in src.parents:
        return None
    notebook = docs_pages.notebook_path(src)
    if not notebook.exists():
        return None
    return docs_pages.lang_of(src), docs_pages.chapter(src), notebook


def on_page_markdown(markdown, page, config, files):
    found = _chapter_of(page)
    if not found:
        return markdown
    lang, name, notebook = found
    t = LABELS[lang]
    up = "../" * (name.count("/") + 1)  # from the chapter's folder to the language root
    stem = name.rsplit("/", 1)[-1]
    links = (
        '<p class="chapter-links">'
        f'<a class="md-button" href="{stem}.py" download>{t["script"]}</a> '
        f'<a class="md-button" href="{up}notebooks/{name}/{stem}.ipynb" download>{t["notebook"]}</a> '
        f'<a class="md-button" href="{make_notebooks.colab_url(Path(page.file.abs_src_path))}">{t["colab"]}</a> '
        f'<a class="md-button" href="{up}notebooks/{name}/">{t["view"]}</a>'
        "</p>\n"
        f'<p class="chapter-runtime" data-chapter="{name}"></p>\n'
    )
    head, _, rest = markdown.partition("\n")
    return f"{head}\n\n{links}{rest}" if head.startswith("# ") else links + markdown


def runtime_line(lang: str, name: str, measured: dict) -> str:
    t = LABELS[lang]
    s = t["seconds"].format(s=measured["seconds"]) if measured["seconds"] >= 0.1 else t["under"]
    cpu = t["cpu"].format(s=s, machine=measured["machine"], torch=measured.get("torch", "?"),
                          date=measured.get("date", "?"))
    cuda_file = os.environ.get("TIMINGS_CUDA")  # from the GPU job, see .github/workflows/ci.yml
    cuda = json.loads(Path(cuda_file).read_text()).get(name) if cuda_file and Path(cuda_file).exists() else None
    gpu = t["cuda"].format(s=cuda["seconds"], device=cuda["device"]) if cuda else t["cuda_none"]
    return f"{cpu} · {gpu}"


def on_post_page(output, page, config):
    found = _chapter_of(page)
    if not found:
        return output
    lang, name, notebook = found
    measured = docs_pages.notebook_record(notebook)  # written by `make outputs` (tools/run/outputs.py)
    if not measured:
        raise SystemExit(f"error: {docs_pages.rel(notebook)} has no outputs: run `make outputs`")
    empty = f'<p class="chapter-runtime" data-chapter="{name}"></p>'
    output = output.replace(empty, empty.replace("></p>", f">{runtime_line(lang, name, measured)}</p>"))

    # The Korean page is the source; both languages carry the same code.
    source = docs_pages.DOCS / "ko" / f"{name}.md"
    units = "".join(f"\n# %% unit {n} (line {unit.lineno})\n{unit.code}"
                    for n, unit in enumerate(docs_pages.units(source), 1))
    script = Path(page.file.abs_dest_path).parent / f"{name.rsplit('/', 1)[-1]}.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(f"# The code of {docs_pages.rel(source)}, unit by unit; each unit runs on its own.\n{units}",
                      encoding="utf-8")
    return output
