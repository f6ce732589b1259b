"""Ingestion limits, checked before a parser is trusted with a file (see docs/security.md).

Why before parsing: a 20 MB .docx can hold gigabytes of XML (a zip bomb), a deeply nested HTML or
YAML document can exhaust the parser's stack, and an over-long text made spaCy fail with E088 deep
inside the analysis. Each check costs a scan of the raw bytes or of the zip directory, never a parse.
Every error names the file and the limit.
"""
from __future__ import annotations

import io
import zipfile
from html.parser import HTMLParser

import yaml

from core.config import MAX_UPLOAD_BYTES
from core.errors import IngestError

MAX_TEXT_CHARS = 20_000_000  # extracted text of one document (the 20 MB upload limit, as characters)
MAX_DECOMPRESSED_BYTES = 100 * 2**20  # all members of a .docx together, uncompressed
MAX_ZIP_MEMBERS = 5_000
MAX_COMPRESSION_RATIO = 200  # per member over 1 MB: text XML compresses ~10x; bombs 1000x and more
MAX_NESTING_DEPTH = 256  # HTML elements inside each other (libxml2 enforces the same for .docx XML)
MAX_PDF_PAGES = 5_000
MAX_FRONT_MATTER_BYTES = 64 * 1024
ANALYSIS_WINDOW_CHARS = 100_000  # spaCy's max_length is 1,000,000; windows also bound its memory
LIMITS = {  # documented per format in docs/security.md
    "*": {"bytes": MAX_UPLOAD_BYTES, "characters": MAX_TEXT_CHARS},
    ".docx": {"decompressed_bytes": MAX_DECOMPRESSED_BYTES, "zip_members": MAX_ZIP_MEMBERS, "compression_ratio": MAX_COMPRESSION_RATIO},
    ".html": {"nesting_depth": MAX_NESTING_DEPTH},
    ".pdf": {"pages": MAX_PDF_PAGES},
    ".md": {"front_matter_bytes": MAX_FRONT_MATTER_BYTES},
}


def _named(name: str, text: str) -> str:
    """Inside an extractor the file name is not known: extract() adds it to the message."""
    return f"{name}: {text}" if name else text


def check_zip(name: str, data: bytes) -> None:
    """Refuse a .docx whose members would decompress beyond the limits (read from the zip directory)."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except zipfile.BadZipFile as exc:
        raise IngestError(f"{name}: cannot read the file: not a valid .docx (zip) file ({exc})", hint="re-save it from your word processor") from None
    if len(members) > MAX_ZIP_MEMBERS:
        raise IngestError(f"{name}: {len(members)} parts inside the .docx, over the limit of {MAX_ZIP_MEMBERS}", hint="re-save it as a plain document")
    total = sum(m.file_size for m in members)
    if total > MAX_DECOMPRESSED_BYTES:
        raise IngestError(f"{name}: decompresses to {total / 2**20:.0f} MB, over the {MAX_DECOMPRESSED_BYTES // 2**20} MB limit",
                          hint="this looks like a zip bomb, or the document embeds large media: remove them or split it")
    for m in members:
        if m.file_size > 2**20 and m.file_size > MAX_COMPRESSION_RATIO * max(m.compress_size, 1):
            raise IngestError(f"{name}: part {m.filename!r} expands {m.file_size // max(m.compress_size, 1)}x, over the ratio limit of {MAX_COMPRESSION_RATIO}",
                              hint="this looks like a zip bomb; nothing was parsed")


class _DepthProbe(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.deepest = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        if tag not in self.VOID:
            self.stack.append(tag)
            self.deepest = max(self.deepest, len(self.stack))
            if self.deepest > MAX_NESTING_DEPTH:
                raise _TooDeep

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:  # tolerant like browsers: close up to the matching open tag
            while self.stack and self.stack.pop() != tag:
                pass


class _TooDeep(Exception):
    pass


def check_html(name: str, text: str) -> None:
    probe = _DepthProbe()
    try:
        probe.feed(text)
    except _TooDeep:
        raise IngestError(_named(name, f"HTML nested more than {MAX_NESTING_DEPTH} elements deep"), hint="simplify the page before ingesting it") from None


def check_front_matter(name: str, block: str) -> None:
    """Size and aliases: YAML aliases can expand a few bytes into gigabytes once the metadata is stored."""
    if len(block.encode()) > MAX_FRONT_MATTER_BYTES:
        raise IngestError(_named(name, f"front matter over {MAX_FRONT_MATTER_BYTES // 1024} KB"), hint="keep title, groups, classification and owner only")
    depth = 0
    try:
        for event in yaml.parse(block, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise IngestError(_named(name, "the front matter uses a YAML alias (*name)"), hint="write the values out")
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > 16:
                    raise IngestError(_named(name, "the front matter is nested more than 16 levels deep"), hint="use flat 'key: value' lines")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError as exc:
        raise IngestError(_named(name, f"the YAML front matter is invalid ({exc})"), hint="fix the block between the '---' lines") from None


def check_text(name: str, text: str) -> None:
    if len(text) > MAX_TEXT_CHARS:
        raise IngestError(f"{name}: {len(text):,} characters of text, over the limit of {MAX_TEXT_CHARS:,}", hint="split the document")
