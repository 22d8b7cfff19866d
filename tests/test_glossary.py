"""The glossary (tools/pages/glossary.yml) is the one list of terms: the 용어집 / Glossary pages are
generated from it, each term links to a heading that exists in both languages, and the Korean
prose uses no variant it lists as avoided. Pure text: milliseconds."""

import textwrap

from tools.pages import glossary
from tools.pages.docs_pages import DOCS, ROOT, headings, rel


def test_glossary_pages_are_generated_from_the_list():
    stale = [rel(p) for p, text in glossary.expected().items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"{stale} differ from tools/pages/glossary.yml: run `{glossary.COMMAND}`"


def test_every_term_links_to_a_heading_of_both_languages():
    terms, _ = glossary.load()
    for term in terms:
        for lang in ("ko", "en"):
            link, _ = glossary.target(term, lang)  # raises when the page or anchor is missing
            page, _, anchor = link.partition("#")
            assert anchor in [h.anchor for h in headings(DOCS / lang / page)]


def test_terms_are_listed_once():
    terms, _ = glossary.load()
    for key in ("ko", "en"):
        names = [getattr(t, key) for t in terms]
        assert len(names) == len(set(names)), f"repeated {key} terms"
    preferred = {t.ko for t in terms}
    assert not [v for t in terms for v in t.avoid if v in preferred], "a term is also avoided"


def test_glossary_is_in_the_nav():
    text = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert f": {glossary.PAGE}" in text and "용어집: Glossary" in text


def test_korean_prose_uses_the_glossary_terms():
    problems = glossary.all_drift()
    assert not problems, "avoided variants in Korean prose (tools/pages/glossary.yml):\n" + "\n".join(problems)


def test_the_prose_check_names_page_line_and_term_and_skips_code(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(textwrap.dedent("""\
        # 제목

        정수 라벨을 바꿉니다. `라벨`은 코드이고 [링크](x.md#라벨)의 주소도 세지 않습니다.

        ```python
        label = "라벨"  # 라벨
        ```

        <!-- 라벨 -->
        여기를 보세요.
        """), encoding="utf-8")
    terms = [glossary.Term("레이블", "label", ["라벨"], "x.md#y", {})]
    style = [{"avoid": ["보세요"], "ko": "합니다체", "en": "formal"}]
    found = glossary.drift(page, terms, style)
    assert found == [f"{rel(page)}:3: '라벨' → 레이블 (label)", f"{rel(page)}:10: '보세요' → 합니다체"]
