"""The shape the design fixes: core never imports streamlit; pages never import storage or model
libraries; every action checked in code is registered and documented; no file grows past 500 lines."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.policy.actions import ACTIONS
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
    import core.policy.actions as actions_module

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
    from core.policy.engine import load_policy

    policy = load_policy(REPO_ROOT / "policies")
    for role in policy.roles.values():
        assert set(role.permissions) <= set(ACTIONS)


@pytest.mark.parametrize("path", _python_files("core", "pages", "audit_db", "tests", "bench"), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_no_file_grows_past_500_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 500


# Which modules must stay below which: the ledger handle below everything it opens, the audit log below
# its Merkle tree's users, the registry below serving and training (core/evaluation/lifecycle.py orchestrates
# them), erasure requests below the purge that executes them.
MUST_NOT_REACH = {
    "core.ledger": {"core.models.serving", "core.models.registry", "core.answering.ask", "core.erasure.purge"},
    "core.audit.canonical": {"core.audit.log", "core.audit.tree_store"},
    "core.audit.tree_store": {"core.audit.log"},
    "core.models.registry": {"core.models.serving", "core.models.training.jobs", "core.evaluation.lifecycle"},
    "core.erasure.requests": {"core.erasure.purge", "core.erasure.proof"},
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


# The domain packages of core/ and their floors (docs/architecture.md): a module may import its own package
# and lower floors, never a higher one. The shared modules at the top of core/ stand below every domain
# (they import at most the stores), except the ledger handle, which opens the stores, policy, audit log and
# chunk store (the rag floor at most). The faces (CLI, first run) stand above everything and nothing in a
# domain imports them.
PACKAGE_FLOORS = {"stores": 1, "policy": 2, "audit": 3, "rag": 4, "identity": 5, "models": 6, "answering": 7, "evaluation": 8, "erasure": 9, "workbench": 10}
SHARED = {"errors", "config", "db", "locks", "keystore", "home_security", "safe_text", "subject_match"}
HANDLE = {"ledger": PACKAGE_FLOORS["rag"]}
FACES = {"cli", "cli_base", "cli_auth", "cli_commands", "demo", "demo_home"}


def _place(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def _floor(place: str) -> int:
    if place in PACKAGE_FLOORS:
        return PACKAGE_FLOORS[place]
    if place in SHARED:
        return PACKAGE_FLOORS["stores"]
    if place in HANDLE:
        return HANDLE[place]
    return 100  # a face


def test_every_module_of_core_has_a_known_place() -> None:
    from tests.import_graph import import_graph

    unknown = sorted(m for m in import_graph(REPO_ROOT) if m != "core" and _place(m) not in {*PACKAGE_FLOORS, *SHARED, *HANDLE, *FACES})
    assert not unknown, f"put these in a domain package, or name them in SHARED or FACES: {unknown}"


@pytest.mark.parametrize("package", sorted(PACKAGE_FLOORS))
def test_each_package_says_what_it_owns(package: str) -> None:
    doc = ast.get_docstring(ast.parse((REPO_ROOT / "core" / package / "__init__.py").read_text()))
    assert doc and "import" in doc.lower(), f"core/{package}/__init__.py must say what it owns and may import"


def test_imports_only_go_down_the_floors() -> None:
    from tests.import_graph import import_graph

    upward = []
    for module, imported in import_graph(REPO_ROOT).items():
        here = _place(module)
        for other in imported:
            there = _place(other)
            if here != there and _floor(there) > _floor(here) and here not in FACES:
                upward.append(f"{module} -> {other}")
            if here in SHARED and there in PACKAGE_FLOORS and there != "stores":
                upward.append(f"{module} (shared) -> {other}")
    assert not upward, f"imports that climb (move the code down, or pass what it needs in): {sorted(upward)}"


def test_the_floor_rule_catches_a_climb() -> None:
    assert _floor(_place("core.stores.tables")) < _floor(_place("core.rag.ask"))
    assert _floor(_place("core.cli")) > _floor(_place("core.workbench.overview"))
