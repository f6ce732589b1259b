"""Stored text shown inert in Markdown widgets (issue 16 point 5); the browser test checks the real page."""
from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from core.safe_text import inert_label, inert_markdown, inert_passage

ATTACKS = [
    "![x](http://127.0.0.1:9/pixel.png?d=secret)",
    "[Reset your password](http://evil.example/login)",
    "<img src=http://evil.example/p.png> <script>alert(1)</script>",
    "<http://evil.example/auto>",
    "# Heading\n- list item\n| a | b |\n|---|---|",
    "[ref]: http://evil.example/ref\n[click][ref]",
    "$x^2$ :red[alarm] :material/home: **bold** `code`",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_no_markdown_construct_survives(attack: str) -> None:
    html = MarkdownIt("commonmark").enable("table").render(inert_markdown(attack))
    for tag in ("<img", "<a ", "<script", "<h1", "<li", "<table", "<strong"):
        assert tag not in html, (attack, html)


def test_text_reads_the_same_once_rendered() -> None:
    text = "Report to <PERSON_1> (24/7) - 100% confidential, *not* `anonymous`."
    html = MarkdownIt("commonmark").render(inert_markdown(text))
    assert "Report to &lt;PERSON_1&gt; (24/7) - 100% confidential, *not* `anonymous`." in html


@pytest.mark.parametrize("word", ["http://intranet/speak-up", "www.example.com", "helena@example.com", "![x](https://e.example/p.png)"])
def test_urls_and_addresses_are_code_spans_never_links(word: str) -> None:
    html = MarkdownIt("commonmark").render(inert_markdown(f"see {word} now"))
    assert "<a " not in html and "<img" not in html and "<code>" in html


def test_lines_are_kept_and_labels_are_one_line() -> None:
    assert inert_markdown("a\nb").count("\n") == 1 and "  \n" in inert_markdown("a\nb")
    assert "\n" not in inert_label("Title\nwith ![x](http://e/p.png)") and "\\!\\[" in inert_label("![x](y)")


def test_a_passage_keeps_its_headings_as_bold_lines_and_nothing_else() -> None:
    html = MarkdownIt("commonmark").render(inert_passage("## Meals and per diem\nSee ![x](http://e/p.png)"))
    assert "<strong>Meals and per diem</strong>" in html and "<h2" not in html and "<img" not in html
