"""Local accounts as an operator manages them: list, add, re-key, disable, enable, unlock; the
password rules; and the start-up check that refuses demo passwords outside demo mode.

Every change to principals.yaml goes through `policy_admin.save`, the path of any policy edit:
validated first (nothing is written if it fails), written atomically, audited as a policy change
(the policy version changes), and it requires `policy.edit`.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core.policy.actions import POLICY_EDIT, SIMULATE
from core.identity.auth import check_password, demo_mode, hash_password
from core.identity.auth_events import AccountUnlocked
from core.errors import ConfigError, NotFound, RagLedgerError
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Policy, Principal
from core.policy.models import NAME_PATTERN, Classification
from core.identity.principals_file import edit

PRINCIPALS = "principals.yaml"
DEMO_SUFFIX = "-demo"
_DEMO_CHECKS: dict[tuple[str, str], bool] = {}  # (name, stored hash) -> is it "<name>-demo"? (scrypt: once per process)


def has_demo_password(name: str, stored: str | None) -> bool:
    if not stored:
        return False
    key = (name, stored)
    if key not in _DEMO_CHECKS:
        _DEMO_CHECKS[key] = check_password(name + DEMO_SUFFIX, stored)
    return _DEMO_CHECKS[key]


def demo_password_accounts(policy: Policy) -> list[str]:
    """Enabled accounts whose password is still the documented demo one."""
    return [n for n, p in sorted(policy.principals.principals.items()) if not p.disabled and has_demo_password(n, p.password_hash)]


def check_start(policy: Policy) -> None:
    """Refuse to start outside demo mode while an account keeps its demo password (ConfigError naming the fix)."""
    if demo_mode(policy):
        return
    names = demo_password_accounts(policy)
    if names:
        fixes = "; ".join(f"`ragledger users passwd {n}`" for n in names)
        raise ConfigError(
            f"demo mode is off ({policy.directory / 'policy.yaml'}: demo_mode: false) but these accounts still have "
            f"their demo password: {', '.join(names)}",
            hint=f"give each a real password: {fixes} (or `ragledger users disable NAME`); "
                 "for a demo, run `ragledger demo load` and use its home")


def check_start_at(policies_dir: Path) -> None:
    """`check_start` on the policies as they are on disk now (the CLI's and the app's start check: cheap,
    nothing but the YAML files and, once per process and account, one scrypt)."""
    from core.policy.engine import load_policy

    check_start(load_policy(policies_dir))


def check_password_rules(policy: Policy, name: str, password: str) -> None:
    """A minimum length, and none of the published demo passwords (nor the account's own name)."""
    minimum = policy.files.sign_in.min_password_length
    if len(password) < minimum:
        raise RagLedgerError(f"the password is too short ({len(password)} characters; at least {minimum})",
                             hint="choose a longer one (a passphrase of several words is easiest to remember)")
    lowered = password.strip().lower()
    published = {n.lower() + DEMO_SUFFIX for n in [*policy.principal_names(), name]}
    if lowered in published or lowered == name.lower():
        raise RagLedgerError("that is a published demo password (or the account's name)", hint="choose another password")


def _entry(policy: Policy, name: str) -> Any:
    entry = policy.principals.principals.get(name)
    if entry is None:
        raise NotFound(f"no account named {name!r}", hint=f"known accounts: {', '.join(policy.principal_names())}; see `ragledger users list`")
    return entry


def _save(ledger: Ledger, actor: Principal, change: dict[str, Any], new: dict[str, Any] | None = None) -> dict[str, Any]:
    from core.workbench.policy_admin import save

    path = ledger.policy.directory / PRINCIPALS
    text = edit(path.read_text(), change, new=new)
    out = save(ledger, actor, PRINCIPALS, text, reanalyze=False)  # validates first: PolicyError writes nothing
    return {"audit_id": out["audit_id"], "version": out["version"], "file": str(path)}


def list_accounts(ledger: Ledger, actor: Principal, *, now: float | None = None) -> list[dict[str, Any]]:
    require_audited(ledger, actor, SIMULATE.name, "accounts")
    from core.identity.sign_in import iso, throttle

    policy = ledger.policy
    counters = throttle(ledger).state(policy.principal_names(), time.time() if now is None else now)
    rows = []
    for name, p in sorted(policy.principals.principals.items()):
        c = counters.get(name)
        rows.append({"name": name, "display_name": p.display_name, "role": p.role, "groups": list(p.groups),
                     "clearance": p.clearance, "password": bool(p.password_hash), "disabled": p.disabled,
                     "demo_password": has_demo_password(name, p.password_hash), "recent_failures": c.failures if c else 0,
                     "locked_until": iso(c.locked_until) if c and c.locked_until else None})
    return rows


def add_account(ledger: Ledger, actor: Principal, name: str, *, role: str, password: str | None, display_name: str | None = None,
                groups: list[str] | None = None, clearance: Classification = "public") -> dict[str, Any]:
    require_audited(ledger, actor, POLICY_EDIT.name, "accounts.add")
    policy = ledger.policy
    if not NAME_PATTERN.match(name):
        raise RagLedgerError(f"account name {name!r} must be lowercase letters, digits, '-' or '_' (at most 63)", hint="choose another name")
    if name in policy.principals.principals:
        raise RagLedgerError(f"an account named {name!r} already exists", hint=f"choose another name, or `ragledger users passwd {name}`")
    if role not in policy.roles:
        raise RagLedgerError(f"unknown role {role!r}", hint=f"roles in {policy.directory / 'roles.yaml'}: {', '.join(sorted(policy.roles))}")
    unknown = [g for g in groups or [] if g not in policy.groups]
    if unknown:
        raise RagLedgerError(f"unknown group(s) {', '.join(unknown)}", hint=f"groups in policy.yaml: {', '.join(policy.groups)}")
    if password is not None:
        check_password_rules(policy, name, password)
    entry = {"display_name": display_name or name, "role": role, "groups": list(groups or []), "clearance": clearance,
             "password_hash": hash_password(password) if password is not None else None}
    return _save(ledger, actor, {}, {name: entry})


def set_password(ledger: Ledger, actor: Principal, name: str, password: str) -> dict[str, Any]:
    require_audited(ledger, actor, POLICY_EDIT.name, "accounts.passwd")
    _entry(ledger.policy, name)
    check_password_rules(ledger.policy, name, password)
    return _save(ledger, actor, {name: {"password_hash": hash_password(password)}})


def set_disabled(ledger: Ledger, actor: Principal, name: str, disabled: bool) -> dict[str, Any]:
    require_audited(ledger, actor, POLICY_EDIT.name, "accounts.disable" if disabled else "accounts.enable")
    if _entry(ledger.policy, name).disabled == disabled:
        raise RagLedgerError(f"{name} is already {'disabled' if disabled else 'enabled'}", hint="nothing was changed")
    return _save(ledger, actor, {name: {"disabled": True if disabled else None}})


def unlock(ledger: Ledger, actor: Principal, name: str, *, now: float | None = None) -> dict[str, Any]:
    """Clear an account's lock and failure count now (audited with the officer as actor)."""
    require_audited(ledger, actor, POLICY_EDIT.name, "accounts.unlock")
    from core.identity.sign_in import throttle

    _entry(ledger.policy, name)
    now = time.time() if now is None else now
    before = throttle(ledger).clear(name)
    was_locked = bool(before and before.locked_until and now < before.locked_until)
    audit_id = ledger.audit.append(AccountUnlocked(actor=actor.name, actor_role=actor.role, account=name,
                                                   was_locked=was_locked, failures=before.failures if before else 0))
    return {"account": name, "was_locked": was_locked, "failures_cleared": before.failures if before else 0, "audit_id": audit_id}
