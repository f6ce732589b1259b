"""Ingestion under attack (issue 16 point 8): limits checked before parsing, every error names the file."""
from __future__ import annotations

import io
import zipfile

import pytest

from core.rag import ingest_limits
from core.rag import pii
from core.errors import IngestError
from core.rag.extract import extract
from core.rag.ingest import Source, ingest


def _docx(build) -> bytes:  # type: ignore[no-untyped-def]
    import docx

    document = docx.Document()
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_zip_bomb_docx_is_refused_before_parsing() -> None:
    base = _docx(lambda d: d.add_paragraph("hello"))
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("word/media/padding.xml", b"<a>" + b" " * (150 * 2**20) + b"</a>")  # 150 MB of spaces, ~150 KB zipped
    data = bomb.getvalue()
    assert len(data) < 2 * 2**20
    with pytest.raises(IngestError, match=r"bomb\.docx: decompresses to 15\d MB, over the 100 MB limit"):
        extract("bomb.docx", data)


def test_a_dense_member_is_refused_by_its_ratio() -> None:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"0" * (20 * 2**20))
    with pytest.raises(IngestError, match=r"ratio\.docx: part 'word/document\.xml' expands \d+x"):
        extract("ratio.docx", data.getvalue())


def test_docx_tables_are_extracted_in_order() -> None:
    def build(d):  # type: ignore[no-untyped-def]
        d.add_paragraph("Before the table.")
        table = d.add_table(rows=2, cols=2)
        for r, row in enumerate([("Name", "Extension"), ("Helena Marchetti", "4417")]):
            for c, value in enumerate(row):
                table.cell(r, c).text = value
        d.add_paragraph("After the table.")

    text = extract("phones.docx", _docx(build)).text
    assert text.index("Before") < text.index("Helena Marchetti | 4417") < text.index("After")


@pytest.mark.parametrize("markup", [
    '<p style="display:none">SECRET-HIDDEN</p>', '<div style="visibility: hidden">SECRET-HIDDEN</div>',
    "<span hidden>SECRET-HIDDEN</span>", '<p style="font-size:0">SECRET-HIDDEN</p>',
    "<template><p>SECRET-HIDDEN</p></template>", '<div style="DISPLAY : NONE"><b>SECRET-HIDDEN</b></div>',
])
def test_hidden_html_text_is_not_indexed(markup: str) -> None:
    text = extract("page.html", f"<html><body><p>Visible policy text.</p>{markup}<p style='font-size:0.9em'>Small but shown.</p></body></html>".encode()).text
    assert "SECRET-HIDDEN" not in text and "Visible policy text." in text and "Small but shown." in text


def test_deeply_nested_html_is_refused() -> None:
    with pytest.raises(IngestError, match=r"deep\.html: HTML nested more than 256"):
        extract("deep.html", ("<div>" * 100_000 + "x").encode())


@pytest.mark.parametrize("name,data,message", [
    ("latin.txt", "café".encode("latin-1"), r"latin\.txt: the file is not UTF-8 text \(invalid byte 0xe9 at offset 3\)"),
    ("latin.md", "# café".encode("latin-1"), r"latin\.md: the file is not UTF-8"),
    ("nul.txt", b"harmless\x00\x00binary", r"nul\.txt: the file contains NUL bytes"),
    ("bad.md", b"---\ntitle: [unclosed\n---\nbody", r"bad\.md: the YAML front matter is invalid"),
    ("alias.md", b"---\na: &x [1, 2]\nb: *x\n---\nbody", r"alias\.md: the front matter uses a YAML alias"),
    ("deep.md", b"---\na: " + b"[" * 40 + b"]" * 40 + b"\n---\nbody", r"deep\.md: the front matter is nested more than 16"),
])
def test_every_error_names_the_file(name: str, data: bytes, message: str) -> None:
    with pytest.raises(IngestError, match=message):
        extract(name, data)


def test_text_over_the_character_limit_is_refused(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ingest_limits, "MAX_TEXT_CHARS", 1000)
    with pytest.raises(IngestError, match=r"long\.txt: 2,000 characters of text, over the limit of 1,000"):
        extract("long.txt", b"x" * 2000)


def test_text_over_spacys_million_characters_is_analysed_in_windows() -> None:
    """spaCy's E088 limit is 1,000,000 characters: this text is longer, and names near the end and on
    a window edge are still found at their true offsets."""
    filler = "The committee reviewed the quarterly travel figures again. "
    text = filler * 17_000  # ~1,003,000 characters
    at = ingest_limits.ANALYSIS_WINDOW_CHARS - 5  # straddles the first window's edge
    text = text[:at] + " Contact Helena Marchetti today. " + text[at:] + " Contact Tobias Hallberg today."
    assert len(text) > 1_000_000
    spans = pii.analyze(text, ["PERSON"])
    found = {text[s.start:s.end] for s in spans}
    assert {"Helena Marchetti", "Tobias Hallberg"} <= found, found


@pytest.mark.parametrize("front", ["groups: 123", "groups: [all-staff, null]", "groups: [all-staff, 7]", "groups: {a: b}",
                                   "groups: [all-staff]\nclassification: [internal]", "groups: [all-staff]\nowner: [a, b]"])
def test_front_matter_of_the_wrong_type_is_a_clear_error(ledger, tmp_path, front: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "typed.md"
    path.write_text(f"---\ntitle: Typed\n{front}\n---\nThe canteen opens at eight in the morning for all staff members.\n")
    with pytest.raises(IngestError, match=r"typed\.md: front matter '(groups|classification|owner)' must be"):
        ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(path)])
