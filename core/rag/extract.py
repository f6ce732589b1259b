"""Turning an uploaded file into text plus metadata (.txt, .md with YAML front matter, .pdf, .docx, .html).

Every failure is an IngestError naming the file and what to do; nothing is stored before extraction
has succeeded. The limits of core/rag/ingest_limits.py are checked before each parser runs. Text that a
reader of the page would not see (hidden HTML) is not indexed: it would be retrievable, and
redaction-free, without anyone having reviewed it.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import yaml

from core.rag import ingest_limits as limits
from core.config import MAX_UPLOAD_BYTES
from core.errors import IngestError

SUPPORTED = (".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)


@dataclass
class Extracted:
    text: str
    meta: dict = field(default_factory=dict)


def extract(name: str, data: bytes) -> Extracted:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in SUPPORTED:
        raise IngestError(f"{name}: unsupported file type {suffix or '(none)'!r}", hint=f"supported: {', '.join(SUPPORTED)}")
    if len(data) > MAX_UPLOAD_BYTES:
        raise IngestError(f"{name}: {len(data) / 1e6:.1f} MB is over the {MAX_UPLOAD_BYTES // 2**20} MB limit", hint="split the document")
    if not data.strip():
        raise IngestError(f"{name}: the file is empty", hint="nothing to ingest")
    try:
        if suffix == ".docx":
            limits.check_zip(name, data)
        result = _EXTRACTORS[suffix](data)
    except IngestError as exc:
        if not exc.message.startswith(f"{name}:"):
            raise IngestError(f"{name}: {exc.message}", hint=exc.hint) from None
        raise
    except RecursionError:
        raise IngestError(f"{name}: the file is nested too deeply to parse", hint="simplify its structure") from None
    except Exception as exc:  # each parser raises its own types; all mean the file is unreadable
        raise IngestError(f"{name}: cannot read the file ({type(exc).__name__}: {exc})", hint="check that it is not corrupt or password-protected") from exc
    result.text = result.text.replace("\r\n", "\n").strip()
    limits.check_text(name, result.text)
    if not result.text:
        raise IngestError(f"{name}: no text could be extracted", hint="scanned PDFs need OCR before ingestion")
    return result


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"the file is not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})", hint="re-save it as UTF-8") from None
    if "\x00" in text:
        raise IngestError(f"the file contains NUL bytes (first at offset {text.index(chr(0))}): it is binary, not text",
                          hint="convert it to plain text, or ingest the original format (.pdf, .docx)")
    return text


def _markdown(data: bytes) -> Extracted:
    text = _decode(data)
    match = _FRONT_MATTER.match(text)
    if not match:
        return Extracted(text)
    limits.check_front_matter("", match.group(1))
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise IngestError(f"the YAML front matter is invalid ({exc})", hint="fix the block between the '---' lines") from None
    if not isinstance(meta, dict):
        raise IngestError("the YAML front matter must be a mapping", hint="use 'key: value' lines")
    return Extracted(text[match.end():], meta)


def _pdf(data: bytes) -> Extracted:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise IngestError("the PDF is encrypted", hint="remove the password first")
    if len(reader.pages) > limits.MAX_PDF_PAGES:
        raise IngestError(f"{len(reader.pages)} pages, over the limit of {limits.MAX_PDF_PAGES}", hint="split the PDF")
    text = "\n\n".join((page.extract_text() or "") for page in reader.pages)
    meta = {}
    if reader.metadata and reader.metadata.title:
        meta["title"] = str(reader.metadata.title)
    return Extracted(text, meta)


def _docx(data: bytes) -> Extracted:
    import docx

    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    parts = []
    for block in document.iter_inner_content():  # paragraphs and tables, in document order
        if isinstance(block, Table):
            parts.append(_docx_table(block))
            continue
        style = (block.style.name or "").lower() if block.style is not None else ""
        parts.append(("## " + block.text) if style.startswith("heading") and block.text else block.text)
    meta = {"title": document.core_properties.title} if document.core_properties.title else {}
    return Extracted("\n\n".join(x for x in parts if x.strip()), meta)


def _docx_table(table) -> str:  # type: ignore[no-untyped-def]
    """One line per row, cells separated by ' | ' (a merged cell is repeated by python-docx: once here)."""
    lines = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            value = " ".join(cell.text.split())
            if not cells or cells[-1] != value:
                cells.append(value)
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*(hidden|collapse)|font-size\s*:\s*0(?![.\d]*[1-9])|opacity\s*:\s*0(?![.\d]*[1-9])", re.I)


def _html(data: bytes) -> Extracted:
    from bs4 import BeautifulSoup, UnicodeDammit

    text = UnicodeDammit(data, is_html=True).unicode_markup or ""
    limits.check_html("", text)
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    # Hidden text: the `hidden` attribute and inline styles a browser would not show.
    for tag in soup.find_all(lambda t: t.has_attr("hidden") or bool(_HIDDEN_STYLE.search(t.get("style", "")))):
        if not tag.decomposed:
            tag.decompose()
    for h in soup.find_all(["h1", "h2", "h3", "h4"]):
        h.insert_before("\n\n## ")
    title = soup.title.get_text(strip=True) if soup.title else None
    text = re.sub(r"\n{3,}", "\n\n", soup.get_text("\n"))
    return Extracted(text, {"title": title} if title else {})


_EXTRACTORS = {
    ".txt": lambda d: Extracted(_decode(d)),
    ".md": _markdown,
    ".markdown": _markdown,
    ".pdf": _pdf,
    ".docx": _docx,
    ".html": _html,
    ".htm": _html,
}
