"""The shape the design fixes: core never imports streamlit; pages never import storage or model
libraries; every action checked in code is registered and documented; no file grows past 500 lines."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.actions import ACTIONS
from core.config import REPO_ROOT

FORBIDDEN_IN_UI = {"lancedb", "presidio_analyzer", "presidio_anonymizer", "sqlmodel", "sqlalchemy", "torch", "sentence_transformers", "transformers"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _python_files(*folders: str) -> list[Path]:
    return [p for f in folders for p in (REPO_ROOT / f).rglob("*.py")]


@pytest.mark.parametrize("path", _python_files("core", "audit_db"), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_core_never_imports_streamlit(path: Path) -> None:
    assert "streamlit" not in _imports(path)


@pytest.mark.parametrize("path", [*_python_files("pages"), REPO_ROOT / "app.py"], ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_pages_go_through_core(path: Path) -> None:
    assert not (_imports(path) & FORBIDDEN_IN_UI)


ACTION_ARG = {"require_audited": 2, "page_guard": 0, "may": 0, "require": 1}


def _actions_checked(path: Path) -> set[str]:
    """The action argument of every permission check: a string literal or `CONSTANT.name`."""
    import core.actions as actions_module

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        position = ACTION_ARG.get(name or "")
        if position is None or len(node.args) <= position:
            continue
        arg = node.args[position]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            found.add(arg.value)
        elif isinstance(arg, ast.Attribute) and arg.attr == "name" and isinstance(arg.value, ast.Name):
            constant = getattr(actions_module, arg.value.id, None)
            found.add(constant.name if constant is not None else f"<unregistered constant {arg.value.id}>")
    return found


def test_every_action_used_in_code_is_registered_and_documented() -> None:
    used = set()
    for path in _python_files("core", "pages") + [REPO_ROOT / "app.py"]:
        used |= _actions_checked(path)
    assert {"ask", "audit.read", "purge"} <= used, "the scan found too few permission checks"
    assert used <= set(ACTIONS), used - set(ACTIONS)
    readme = (REPO_ROOT / "README.md").read_text()
    undocumented = [name for name in ACTIONS if f"`{name}`" not in readme]
    assert not undocumented, f"document these actions in README.md: {undocumented}"


def test_roles_only_grant_registered_actions() -> None:
    from core.policy import load_policy

    policy = load_policy(REPO_ROOT / "policies")
    for role in policy.roles.values():
        assert set(role.permissions) <= set(ACTIONS)


@pytest.mark.parametrize("path", _python_files("core", "pages", "audit_db", "tests", "bench"), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_file_grows_past_500_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 500


# Which modules must stay below which: the ledger handle below everything it opens, the audit log below
# its Merkle tree's users, the registry below serving and training (core/model_lifecycle.py orchestrates
# them), erasure requests below the purge that executes them.
MUST_NOT_REACH = {
    "core.ledger": {"core.serving", "core.registry", "core.ask", "core.purge"},
    "core.audit_canonical": {"core.audit", "core.tree_store"},
    "core.tree_store": {"core.audit"},
    "core.registry": {"core.serving", "core.training.jobs", "core.model_lifecycle"},
    "core.erasure": {"core.purge", "core.erasure_proof"},
    "core.cli_base": {"core.cli", "core.cli_commands"},
}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_core_has_no_import_circles() -> None:
    """Every import counts, lazy ones inside functions too (only TYPE_CHECKING imports are free): a lazy
    import that closes a loop is still a circle, just one that fails later."""
    from tests.import_graph import circles, import_graph

    found = circles(import_graph(REPO_ROOT))
    assert not found, f"modules that import each other (directly or around a loop): {[sorted(c) for c in found]}"


@pytest.mark.parametrize("low", sorted(MUST_NOT_REACH))
def test_lower_modules_never_reach_higher_ones(low: str) -> None:
    from tests.import_graph import import_graph

    graph = import_graph(REPO_ROOT)
    assert low in graph, f"{low} moved: update MUST_NOT_REACH"
    reached = _reachable(graph, low)
    bad = sorted(m for m in reached for high in MUST_NOT_REACH[low] if m == high or m.startswith(high + "."))
    assert not bad, f"{low} imports (directly or through others) {bad}"


def test_the_circle_finder_finds_a_circle() -> None:
    from tests.import_graph import circles

    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert circles({"a": {"b"}, "b": set()}) == []
