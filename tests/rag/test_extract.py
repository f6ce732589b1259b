"""Every supported format yields text and metadata; bad files fail with a message that says what to do."""
from __future__ import annotations

import io

import pytest

from core.errors import IngestError
from core.rag.extract import extract


def _pdf(text: str) -> bytes:
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    c.setTitle("Quarterly memo")
    c.drawString(72, 720, text)
    c.save()
    return buf.getvalue()


def _docx(text: str) -> bytes:
    import docx

    d = docx.Document()
    d.core_properties.title = "Docx title"
    d.add_heading("Findings", level=1)
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def test_markdown_front_matter_becomes_metadata() -> None:
    out = extract("a.md", b"---\ntitle: T\ngroups: [hr]\nclassification: confidential\n---\n# Head\n\nBody text.")
    assert out.meta == {"title": "T", "groups": ["hr"], "classification": "confidential"}
    assert out.text.startswith("# Head")


@pytest.mark.parametrize(
    "name,data,expect,title",
    [
        ("a.txt", b"Plain words here.", "Plain words here.", None),
        ("a.html", b"<html><head><title>Page</title><script>x=1</script></head><body><h1>Head</h1><p>Para one.</p></body></html>", "Para one.", "Page"),
        ("a.pdf", _pdf("The budget was cut to EUR 240,000."), "EUR 240,000", "Quarterly memo"),
        ("a.docx", _docx("Docx body sentence."), "Docx body sentence.", "Docx title"),
    ],
)
def test_formats(name: str, data: bytes, expect: str, title: str | None) -> None:
    out = extract(name, data)
    assert expect in out.text
    assert out.meta.get("title") == title
    assert "x=1" not in out.text


@pytest.mark.parametrize(
    "name,data,message",
    [
        ("a.exe", b"MZ....", "unsupported file type"),
        ("noext", b"text", "unsupported file type"),
        ("a.txt", b"   \n ", "empty"),
        ("a.pdf", b"%PDF-1.4 garbage that is not a pdf", "cannot read"),
        ("a.docx", b"PK\x03\x04 not really a zip", "cannot read"),
        ("a.txt", b"\xff\xfe\x00bad utf", "UTF-8"),
        ("a.md", b"---\ntitle: [unclosed\n---\nbody", "front matter"),
        ("a.txt", b"x" * (20 * 1024 * 1024 + 1), "limit"),
    ],
)
def test_bad_files_are_rejected_with_a_clear_message(name: str, data: bytes, message: str) -> None:
    with pytest.raises(IngestError, match=message) as info:
        extract(name, data)
    assert info.value.hint
