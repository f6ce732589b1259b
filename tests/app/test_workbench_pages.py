"""AppTests of the Overview and Policy pages for every demo role, on a private copy of the demo
corpus: alice (compliance) reaches both and uses them; bob, carol and dave get neither in the menu,
cannot switch to them, and are refused (and audited) when a page file is reached by URL."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from conftest import make_ledger
from core.answering.ask import ask
from ui_support import copy_home, errors, navigation, texts, widget

OVERVIEW, POLICY = "pages/overview.py", "pages/policy.py"
HR_QUESTION = "Under which SSN will the final W-2 form of Tobias Hallberg be issued?"


@pytest.fixture(scope="module")
def app_home(demo_home, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The home the `ui` fixture (tests/conftest.py) runs the pages on: one copy of the demo corpus for
    the module, with three answers in its audit trail for the Overview to count."""
    home = copy_home(demo_home, tmp_path_factory.mktemp("workbench") / "home")
    ledger = make_ledger(home)
    for name in ("carol", "carol", "bob"):
        ask(ledger, ledger.policy.principal(name), HR_QUESTION)
    return home


@pytest.mark.parametrize("user", ["alice", "bob", "carol", "dave"])
def test_menu_offers_the_workbench_to_compliance_only(ui, user) -> None:  # type: ignore[no-untyped-def]
    at = ui.sign_in(user)
    offered = navigation(at)
    if user == "alice":
        assert OVERVIEW in offered and POLICY in offered
    else:
        assert OVERVIEW not in offered and POLICY not in offered
        for page in (OVERVIEW, POLICY):  # registered but hidden: the URL reaches the page's guard
            at.switch_page(page).run()
            assert any(e.startswith("Access denied") for e in errors(at)), errors(at)
            assert not at.get("plotly_chart") and not at.text_area


@pytest.mark.parametrize("user", ["bob", "carol", "dave"])
@pytest.mark.parametrize("page, action", [(OVERVIEW, "overview.read"), (POLICY, "policy.simulate")])
def test_page_by_url_is_refused_and_audited(ui, user, page, action) -> None:  # type: ignore[no-untyped-def]
    at = ui.page(page, user)
    assert any("Access denied" in e for e in errors(at))
    assert not at.get("plotly_chart") and not at.text_area
    ledger = make_ledger(ui.home)
    denial = ledger.audit.records(kinds=["denial"], actor=user, limit=1)[0]
    assert denial["payload"]["action"] == action and denial["payload"]["target"] == f"page:{page.split('/')[1][:-3]}"


def test_overview_charts_show_the_audit_counts_and_drill_through(ui) -> None:  # type: ignore[no-untyped-def]
    ledger = make_ledger(ui.home)
    answers = [r for r in ledger.audit.records(kinds=["answer"], limit=1000) if not r["payload"].get("simulated_for")]
    expected = Counter(r["actor_role"] for r in answers)
    at = ui.page(OVERVIEW, "alice")
    assert not errors(at) and "Compliance overview" in texts(at)
    charts = at.get("plotly_chart")
    assert len(charts) >= 4
    spec = json.loads(charts[0].proto.spec)  # questions over time by role
    shown = {trace["name"]: sum(trace["y"]) if isinstance(trace["y"], list) else None for trace in spec["data"]}
    if any(v is None for v in shown.values()):  # plotly may encode numbers as typed arrays
        import base64

        import numpy as np

        shown = {t["name"]: int(np.frombuffer(base64.b64decode(t["y"]["bdata"]), dtype=t["y"]["dtype"]).sum()) for t in spec["data"]}
    assert shown == dict(expected) == {"employee": 2, "hr_manager": 1}

    widget(at.selectbox, "Chart").select("Questions").run()
    widget(at.selectbox, "Bar").select("employee").run()
    assert "2 records behind this bar" in texts(at)
    widget(at.selectbox, "Chart").select("Withheld matches").run()
    assert not errors(at)

    widget(at.selectbox, "Role").select("hr_manager").run()
    widget(at.selectbox, "Chart").select("Questions").run()
    assert "1 records behind this bar" in texts(at)

    at.button[0].click().run()  # verify the chain now
    assert any("Chain verifies" in s.value for s in at.success)
    assert "OK" in [m.value for m in at.metric]


def test_policy_page_validates_and_simulates(ui) -> None:  # type: ignore[no-untyped-def]
    at = ui.page(POLICY, "alice")
    assert not errors(at) and "Policy" in texts(at)
    widget(at.selectbox, "File").select("roles.yaml").run()
    area = at.text_area[0]
    area.input(area.value.replace("permissions: [ask]\n", "permissions: [ask, teleport]\n")).run()
    widget(at.button, "Validate").click().run()
    assert any("roles.employee.permissions" in e.value for e in at.error)
    widget(at.button, "Save").click().run()
    assert any("roles.employee.permissions" in e.value for e in at.error)
    ledger = make_ledger(ui.home)  # the policy on disk is untouched
    assert "teleport" not in (ledger.policy.directory / "roles.yaml").read_text()

    widget(at.selectbox, "Principal").select("carol").run()
    widget(at.text_input, "Question").input(HR_QUESTION).run()
    widget(at.button, "Simulate").click().run()
    heads = [s.value for s in at.subheader]
    assert any(h.startswith("What carol (employee") for h in heads) and "Your view (alice)" in heads
    carol_view, own_view = [c.value for c in at.caption if "withheld" in c.value]
    assert int(carol_view.rsplit("withheld ", 1)[1]) >= 1 and own_view.endswith("withheld 0")
    last = ledger.audit.records(kinds=["answer"], limit=2)
    assert {r["actor"] for r in last} == {"alice"} and {r["payload"]["simulated_for"] for r in last} == {"carol", "alice"}
