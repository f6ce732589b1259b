"""Turning an uploaded file into text plus metadata (.txt, .md with YAML front matter, .pdf, .docx, .html).

Every failure is an IngestError naming the file and what to do; nothing is stored before extraction
has succeeded.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import yaml

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
        result = _EXTRACTORS[suffix](data)
    except IngestError:
        raise
    except Exception as exc:  # each parser raises its own types; all mean the file is unreadable
        raise IngestError(f"{name}: cannot read the file ({type(exc).__name__}: {exc})", hint="check that it is not corrupt or password-protected") from exc
    result.text = result.text.replace("\r\n", "\n").strip()
    if not result.text:
        raise IngestError(f"{name}: no text could be extracted", hint="scanned PDFs need OCR before ingestion")
    return result


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise IngestError("the file is not UTF-8 text", hint="re-save it as UTF-8") from None


def _markdown(data: bytes) -> Extracted:
    text = _decode(data)
    match = _FRONT_MATTER.match(text)
    if not match:
        return Extracted(text)
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
    text = "\n\n".join((page.extract_text() or "") for page in reader.pages)
    meta = {}
    if reader.metadata and reader.metadata.title:
        meta["title"] = str(reader.metadata.title)
    return Extracted(text, meta)


def _docx(data: bytes) -> Extracted:
    import docx

    document = docx.Document(io.BytesIO(data))
    parts = []
    for p in document.paragraphs:
        style = (p.style.name or "").lower() if p.style is not None else ""
        parts.append(("## " + p.text) if style.startswith("heading") and p.text else p.text)
    meta = {"title": document.core_properties.title} if document.core_properties.title else {}
    return Extracted("\n\n".join(x for x in parts if x.strip()), meta)


def _html(data: bytes) -> Extracted:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript"]):
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
