"""AppTests of the Models page for every demo role, on a private copy of the tidal corpus home with
a registered checkpoint: ML engineers build datasets, train and propose; compliance approves and
promotes; flagged checkpoints show why; roles without models.read are refused (and audited)."""
from __future__ import annotations

import pytest

from conftest import make_ledger
from core.models.datasets import build_dataset, list_datasets
from core.models.registry import flag_for_erasure, get_checkpoint, register_external
from registry_support import embedder_folder, erase_document, tidal_home, write_manifest
from ui_support import AppPages, errors, expected_pages, texts, widget

PAGE = "pages/models.py"


@pytest.fixture
def home(tmp_path):  # type: ignore[no-untyped-def]
    """Tidal corpus with one checkpoint (trained 'elsewhere') on a dataset dave built."""
    ledger, docs = tidal_home(tmp_path / "home")
    dave = ledger.policy.principal("dave")
    ds = build_dataset(ledger, dave, "pairs", name="grid-pairs", doc_ids=[docs["grid-connection"]])
    folder = embedder_folder(tmp_path / "cluster")
    ckpt = register_external(ledger, dave, folder, write_manifest(tmp_path / "m.json", folder, dataset_id=ds.dataset_id))
    from core.db import dispose_engines

    dispose_engines()
    return {"home": ledger.settings.home, "docs": docs, "ckpt": ckpt.checkpoint_id}


@pytest.fixture
def app_home(home):  # type: ignore[no-untyped-def]
    """The `ui` fixture (tests/conftest.py) runs the page on that tidal home."""
    return home["home"]


def test_ml_engineer_sees_lineage_and_builds_a_dataset_with_progress(home, ui) -> None:
    at = ui.page(PAGE, "dave")
    assert not errors(at), errors(at)
    assert "Models" in texts(at) and home["ckpt"] in at.dataframe[0].value["checkpoint"].tolist()
    assert len(at.get("plotly_chart")) == 1  # the lineage graph of the selected checkpoint
    assert "1 source documents" in texts(at)
    assert "Apply stage" not in [b.label for b in at.button]  # promotion is compliance's
    kind = widget(at.selectbox, "Dataset kind")
    kind.set_value("pairs")
    widget(at.button, "Build dataset").click()
    at.run()
    assert not errors(at), errors(at)
    assert any("rows from" in s.value and "redaction 'engineering'" in s.value for s in at.success)
    ledger = make_ledger(home["home"])
    assert len(list_datasets(ledger, ledger.policy.principal("dave"))) == 2
    widget(at.button, "Propose for production").click()
    at.run()
    assert get_checkpoint(make_ledger(home["home"]), home["ckpt"]).proposed_by == "dave"


def test_compliance_officer_approves_but_does_not_train(home, ui) -> None:
    at = ui.page(PAGE, "alice")
    assert not errors(at), errors(at)
    assert "Train" not in [s.value for s in at.subheader] and "Build dataset" not in [b.label for b in at.button]
    widget(at.radio, "Move to").set_value("approved")
    widget(at.button, "Apply stage").click()
    at.run()
    assert any("is now approved" in s.value for s in at.success)
    ckpt = get_checkpoint(make_ledger(home["home"]), home["ckpt"])
    assert ckpt.stage == "approved" and ckpt.approved_by == "alice"


@pytest.mark.parametrize("user", ["bob", "carol"])
def test_roles_without_models_read_are_refused(home, ui, user: str) -> None:
    assert PAGE not in expected_pages(user)
    at = ui.page(PAGE, user)
    assert any(e.startswith("Access denied") for e in errors(at))
    assert not at.dataframe
    denials = make_ledger(home["home"]).audit.records(kinds=["denial"])
    assert any(r["actor"] == user and r["payload"]["target"] == "page:models" for r in denials)


@pytest.mark.parametrize(("user", "may_retrain"), [("dave", True), ("alice", False)])
def test_flagged_checkpoints_show_reason_and_request(home, ui, user: str, may_retrain: bool) -> None:
    ledger = make_ledger(home["home"])
    erase_document(ledger, home["docs"]["grid-connection"])
    assert flag_for_erasure(ledger, [home["docs"]["grid-connection"]], "era_page0001", "trained on data erased by era_page0001") == [home["ckpt"]]
    at = ui.page(PAGE, user)
    assert any("1 checkpoint(s) flagged" in e for e in errors(at))
    flagged = at.dataframe[0].value
    assert flagged["request"].tolist() == ["era_page0001"] and "erased by era_page0001" in flagged["reason"].iloc[0]
    assert ("Retrain without erased documents" in [b.label for b in at.button]) is may_retrain
    assert PAGE in expected_pages(user)


def _chart_text(at) -> str:  # type: ignore[no-untyped-def]
    """The node labels and hover texts the lineage graph draws."""
    import json

    traces = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
    return "\n".join(str(t) for trace in traces for key in ("text", "hovertext") for t in (trace.get(key) or []))


def _finish_jobs(home_dir) -> None:  # type: ignore[no-untyped-def]
    """Wait for the page's background jobs (they run in this process, as in the served app)."""
    from core.models import background

    ledger = make_ledger(home_dir)
    for job in background.list_jobs(ledger, ledger.policy.principal("ops")):
        assert background.wait(ledger, job.job_id).state == "succeeded", job


@pytest.mark.slow
def test_training_runs_in_the_background_and_the_page_then_shows_the_checkpoint(tmp_path, app_env) -> None:
    ledger, docs = tidal_home(tmp_path / "home")
    build_dataset(ledger, ledger.policy.principal("dave"), "pairs", name="grid-pairs", doc_ids=[docs["grid-connection"]])
    from core.db import dispose_engines

    dispose_engines()
    at = AppPages(ledger.settings.home).page(PAGE, "dave")
    assert "No checkpoints yet." in " ".join(i.value for i in at.info)
    widget(at.number_input, "Steps").set_value(1)
    widget(at.button, "Train").click()
    at.run(timeout=60)  # returns at once: the training runs in a background job
    assert not errors(at), errors(at)
    _finish_jobs(ledger.settings.home)
    at.run()  # what the polling fragment does when the job ends: rerun the page
    assert not errors(at), errors(at)
    assert not any("No checkpoints yet" in i.value for i in at.info)
    assert any("registered as a candidate" in s.value for s in at.success)
    assert at.dataframe[0].value["stage"].tolist() == ["candidate"]
    assert not at.get("progress")  # no bar left behind
    at.run()
    assert not at.success  # the message was shown once, not on every rerun


def test_approval_and_promotion_show_the_new_stage(home, ui) -> None:
    at = ui.page(PAGE, "alice")
    assert f"{home['ckpt']} · candidate" in _chart_text(at)
    widget(at.radio, "Move to").set_value("approved")
    widget(at.button, "Apply stage").click()
    at.run()
    assert any("is now approved" in s.value for s in at.success)
    assert f"{home['ckpt']} · approved" in _chart_text(at) and "candidate" not in _chart_text(at)
    assert at.dataframe[0].value["stage"].tolist() == ["approved"]
    widget(at.radio, "Move to").set_value("production")
    widget(at.button, "Apply stage").click()
    at.run(timeout=60)  # re-embedding the corpus runs in a background job
    assert not errors(at), errors(at)
    _finish_jobs(home["home"])
    at.run()
    assert any("is now production" in s.value for s in at.success), [s.value for s in at.success]
    assert f"{home['ckpt']} · production" in _chart_text(at) and not at.get("progress")
    assert make_ledger(home["home"]).active_index()["embedder_id"] == home["ckpt"]


def test_a_double_click_starts_one_job(home, ui) -> None:
    from core.models import background

    ledger = make_ledger(home["home"])
    alice = ledger.policy.principal("alice")
    import threading

    gate = threading.Event()
    job = background.start(ledger, alice, "promote", home["ckpt"], "Promoting", lambda report: (gate.wait(30), {})[1])
    try:
        with pytest.raises(background.JobAlreadyRunning, match="already running"):
            background.start(ledger, alice, "promote", home["ckpt"], "Promoting", lambda report: {})
        at = ui.page(PAGE, "alice")
        assert any(p.proto.text.startswith("Promoting") for p in at.get("progress"))  # the running job's status
    finally:
        gate.set()
    assert background.wait(ledger, job.job_id).state == "succeeded"


def test_flagged_production_embedder_says_what_serves_instead(home, ui) -> None:
    """After a manual flag the page says what serving falls back to and offers compliance the rebuild."""
    from core.rag.embedder import BASE_MODEL_ID
    from core.evaluation.lifecycle import promote
    from core.models.registry import flag

    ledger = make_ledger(home["home"])
    promote(ledger, ledger.policy.principal("alice"), home["ckpt"], "production")
    flag(ledger, ledger.policy.principal("dave"), home["ckpt"], "bad holdout eval")
    at = ui.page(PAGE, "alice")
    assert any(f"serving falls back to {BASE_MODEL_ID}" in e for e in errors(at))
    flagged = at.dataframe[0].value
    assert flagged["serving"].tolist() == [f"flagged: serving falls back to {BASE_MODEL_ID} (rebuild pending)"]
    widget(at.button, f"Rebuild the index with {BASE_MODEL_ID}").click()
    at.run(timeout=60)
    _finish_jobs(home["home"])
    at.run()
    assert any(f"serving fell back from {home['ckpt']} to {BASE_MODEL_ID}" in s.value for s in at.success)
    assert at.dataframe[0].value["serving"].tolist() == [f"flagged: serving falls back to {BASE_MODEL_ID}"]
    assert make_ledger(home["home"]).active_index()["embedder_id"] == BASE_MODEL_ID


@pytest.mark.browser
def test_lineage_graph_renders_in_a_real_browser(home, tmp_path) -> None:
    import re

    from playwright.sync_api import expect
    from ui_support import ARTIFACTS, browser_against, fill_sign_in

    served = tmp_path / "served"  # the fixture's home is tmp_path/home; the browser gets a copy of it
    served.mkdir()
    with browser_against(home["home"], served) as (base, browser, _home):
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(90_000)
        page.goto(base)
        fill_sign_in(page, "dave")
        page.get_by_role("link", name=re.compile("Models")).click()
        expect(page.get_by_role("heading", name=re.compile("Models"))).to_be_visible()
        chart = page.locator(".js-plotly-plot").first
        expect(chart).to_be_visible(timeout=90_000)
        expect(chart.locator(".scatterlayer .trace")).not_to_have_count(0, timeout=30_000)
        expect(chart).to_contain_text(home["ckpt"], timeout=30_000)  # the checkpoint node's label, drawn by plotly
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "browser-models-lineage.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.slow
def test_training_in_a_real_browser_leaves_the_tab_usable_and_the_page_follows(tmp_path) -> None:
    """The fragment's polling only runs in a browser: training starts, the tab answers other widgets
    while it runs, and when it ends the page shows the checkpoint with no bar left behind."""
    import re

    from core.db import dispose_engines
    from playwright.sync_api import expect
    from ui_support import browser_against, fill_sign_in

    ledger, docs = tidal_home(tmp_path / "template")
    build_dataset(ledger, ledger.policy.principal("dave"), "pairs", name="grid-pairs", doc_ids=[docs["grid-connection"]])
    dispose_engines()
    with browser_against(ledger.settings.home, tmp_path) as (base, browser, _home):
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(90_000)
        page.goto(base)
        fill_sign_in(page, "dave")
        page.get_by_role("link", name=re.compile("Models")).click()
        expect(page.get_by_text(re.compile("No checkpoints yet"))).to_be_visible()
        page.get_by_role("spinbutton", name="Steps").fill("15")
        page.get_by_role("button", name="Train", exact=True).click()
        running = page.get_by_text(re.compile("Training an embedder on grid-pairs:"))
        expect(running).to_be_visible(timeout=30_000)  # the job's status, polled by the fragment
        # The tab is not blocked: another widget reruns the page while the job trains.
        box = page.get_by_role("textbox", name="Document id (doc_…)")
        box.fill(docs["grid-connection"])
        box.press("Enter")
        expect(page.get_by_text(re.compile(r"1 dataset versions · 0 checkpoints"))).to_be_visible(timeout=30_000)
        expect(running).to_be_visible()
        expect(page.get_by_text(re.compile("registered as a candidate"))).to_be_visible(timeout=400_000)
        expect(page.get_by_text(re.compile("No checkpoints yet"))).to_have_count(0)
        expect(page.locator('[data-testid="stProgress"]')).to_have_count(0)


def test_promotion_to_production_passes_the_golden_set_gate_with_a_reason_box(home, ui) -> None:
    """With a golden set configured in the home's policies, the page offers an override reason for a
    production promotion and the promotion goes through the gate (this checkpoint is a copy of the base
    model, as good as production: it passes; a refusal and an override are in tests/evaluation/test_promotion_gate.py)."""
    from conftest import golden_policies
    from registry_support import TIDAL

    golden_policies(home["home"], TIDAL.parent / "tidal_golden.yaml")
    at = ui.page(PAGE, "alice")
    assert "Override reason" not in [t.label for t in at.text_input]  # only for production
    widget(at.radio, "Move to").set_value("production")
    at.run()
    widget(at.text_input, "Override reason").set_value("not needed, but typed")
    widget(at.button, "Apply stage").click()
    at.run(timeout=60)
    _finish_jobs(home["home"])
    at.run()
    assert not errors(at), errors(at)
    assert any("is now production" in s.value for s in at.success), [s.value for s in at.success]
    [gate] = make_ledger(home["home"], policies=home["home"] / "policies").audit.records(kinds=["promotion_gate"])
    assert gate["payload"]["outcome"] == "passed" and gate["payload"]["override_reason"] is None  # no regression: nothing overridden
