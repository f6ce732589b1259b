"""The output guard drops URLs no shown passage contains (issue 16 point 5)."""
from __future__ import annotations

from core.rag.answerers import ANSWERERS, Answer, register
from core.answering.ask import ask
from core.rag.ingest import Source, ingest
from core.answering.url_guard import REMOVED, keep_cited_urls


def test_urls_from_passages_stay_others_go() -> None:
    passages = ["Report it at https://speakup.example.com/report or call the hotline."]
    answer = ("Use https://speakup.example.com/report. Or log in at http://evil.example/login?u=x, "
              "see www.phish.example, //cdn.evil.example/p.png and data:image/png;base64,AAAA")
    out = keep_cited_urls(answer, passages)
    assert "https://speakup.example.com/report." in out
    for gone in ("evil.example", "phish.example", "cdn.evil", "data:image"):
        assert gone not in out
    assert out.count(REMOVED) == 4


def test_a_markdown_image_url_not_in_a_passage_is_removed() -> None:
    out = keep_cited_urls("See ![x](http://127.0.0.1:9/p.png?d=Helena) [1]", ["no links here"])
    assert "127.0.0.1" not in out and "[1]" in out


class _LinkingAnswerer:
    """A generator that adds a link of its own, as a steered or hallucinating model would."""

    identity = "test-linking"

    def answer(self, question, passages):  # type: ignore[no-untyped-def]
        return Answer(f"{passages[0].text[:60]} [1] More at http://evil.example/track?q=1", used=[1])


def test_ask_drops_an_answerers_foreign_url_and_audits_the_guarded_answer(ledger, write_doc) -> None:  # type: ignore[no-untyped-def]
    path = write_doc("canteen.md", "The staff canteen opens at 7:30 every weekday. The menu is at https://intranet.example/menu for all staff.")
    ingest(ledger, ledger.policy.principal("ops"), [Source.from_path(path)])
    register("test-linking", lambda **_: _LinkingAnswerer())
    try:
        result = ask(ledger, ledger.policy.principal("carol"), "When does the canteen open?", answerer="test-linking")
    finally:
        ANSWERERS.pop("test-linking", None)
    assert "evil.example" not in result.answer and REMOVED in result.answer
    stored = ledger.audit.records(record_id=result.audit_id)[0]["text"]["answer"]
    assert stored == result.answer
