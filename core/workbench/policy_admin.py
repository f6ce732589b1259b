"""The policy page's core: show the loaded policies, validate an edited file, show what each role
and principal would gain or lose, and save only a valid file (audited, then re-analysed when the
recognizers, the analysed types or the redaction policy changed).

Saving requires `policy.simulate`, which only compliance officers hold in the default roles.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field as dc_field
from typing import Any

from sqlalchemy import select

from core.policy.actions import POLICY_EDIT, SIMULATE
from core.workbench.compliance_events import PolicyChanged
from core.errors import PolicyError
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import POLICY_FILES, Policy, load_policy, validate_policy_text
from core.policy.home import editable_policies
from core.stores.tables import DocumentRow

POLICY_ADMIN = SIMULATE.name


@dataclass
class Validation:
    ok: bool
    file: str
    field: str | None = None
    expected: str | None = None
    warnings: list[str] = dc_field(default_factory=list)

    @property
    def message(self) -> str:
        return "valid" if self.ok else f"{self.file}: field '{self.field}': {self.expected}"


def loaded_policies(ledger: Ledger, principal: Any) -> dict[str, Any]:
    require_audited(ledger, principal, POLICY_ADMIN, "policy")
    directory = ledger.policy.directory
    return {"version": ledger.policy.version, "directory": str(directory),
            "files": {name: (directory / name).read_text() for name in POLICY_FILES}}


def _check(ledger: Ledger, filename: str, text: str) -> tuple[Policy | None, Validation]:
    try:
        new = validate_policy_text(ledger.policy.directory, filename, text)
    except PolicyError as exc:
        return None, Validation(False, os.path.basename(exc.file), exc.field, exc.expected)
    warnings = [f"recognizer for {r.entity} is declared but {r.entity} is not in policy.yaml analyzed_entities: it will not be used"
                for r in new.redaction.recognizers if r.entity not in new.files.analyzed_entities]
    return new, Validation(True, filename, warnings=warnings)


def validate(ledger: Ledger, principal: Any, filename: str, text: str) -> Validation:
    """Validate `text` as if it replaced `filename`; the field that fails is named."""
    require_audited(ledger, principal, POLICY_ADMIN, "policy.validate")
    return _check(ledger, filename, text)[1]


def _documents(ledger: Ledger) -> list[dict[str, Any]]:
    t = DocumentRow.__table__  # type: ignore[attr-defined]
    with ledger.engine.connect() as conn:
        rows = conn.execute(select(t.c.doc_id, t.c.title, t.c.groups, t.c.classification).where(t.c.status == "active").order_by(t.c.title))
        return [{"doc_id": r[0], "title": r[1], "groups": json.loads(r[2]), "classification": r[3]} for r in rows]


def _operators(policy: Policy, role: str, entities: list[str]) -> dict[str, str]:
    profile = policy.redaction.profiles[policy.roles[role].redaction]
    return {e: profile.rule_for(e).operator + (f"({profile.rule_for(e).keep_last})" if profile.rule_for(e).operator == "mask" else "")
            for e in entities}


def compute_diff(old: Policy, new: Policy, documents: list[dict[str, Any]]) -> dict[str, Any]:
    """What each role and principal gains or loses from `old` to `new`."""
    entities = sorted(set(old.files.analyzed_entities) | set(new.files.analyzed_entities)
                      | {e for p in (old, new) for prof in p.redaction.profiles.values() for e in prof.entities})
    roles: dict[str, Any] = {}
    for role in sorted(set(old.roles) | set(new.roles)):
        before = set(old.roles[role].permissions) if role in old.roles else set()
        after = set(new.roles[role].permissions) if role in new.roles else set()
        ops_before = _operators(old, role, entities) if role in old.roles else {}
        ops_after = _operators(new, role, entities) if role in new.roles else {}
        roles[role] = {
            "status": "added" if role not in old.roles else "removed" if role not in new.roles else "kept",
            "permissions_gained": sorted(after - before), "permissions_lost": sorted(before - after),
            "redaction_changes": [{"entity": e, "before": ops_before.get(e), "after": ops_after.get(e)}
                                  for e in entities if ops_before.get(e) != ops_after.get(e)],
        }
    principals: dict[str, Any] = {}
    for name in sorted(set(old.principal_names()) | set(new.principal_names())):
        p_old = old.principal(name) if name in old.principals.principals else None
        p_new = new.principal(name) if name in new.principals.principals else None
        seen_old = {d["doc_id"] for d in documents if p_old and p_old.can_see(d["groups"], d["classification"])}
        seen_new = {d["doc_id"] for d in documents if p_new and p_new.can_see(d["groups"], d["classification"])}
        titles = {d["doc_id"]: d["title"] for d in documents}
        entry = {"role_before": p_old.role if p_old else None, "role_after": p_new.role if p_new else None,
                 "documents_gained": [{"doc_id": d, "title": titles[d]} for d in sorted(seen_new - seen_old)],
                 "documents_lost": [{"doc_id": d, "title": titles[d]} for d in sorted(seen_old - seen_new)],
                 "visible_before": len(seen_old), "visible_after": len(seen_new)}
        principals[name] = entry
        role = (p_new or p_old).role  # type: ignore[union-attr]
        roles.setdefault(role, {}).setdefault("principals", {})[name] = entry
    rec_old = {json.dumps(r.model_dump(), sort_keys=True) for r in old.redaction.recognizers}
    rec_new = {json.dumps(r.model_dump(), sort_keys=True) for r in new.redaction.recognizers}
    reanalysis = (rec_old != rec_new or old.files.analyzed_entities != new.files.analyzed_entities
                  or old.redaction != new.redaction)
    return {
        "roles": roles, "principals": principals,
        "recognizers_added": sorted(json.loads(r)["entity"] for r in rec_new - rec_old),
        "recognizers_removed": sorted(json.loads(r)["entity"] for r in rec_old - rec_new),
        "entities_added": sorted(set(new.files.analyzed_entities) - set(old.files.analyzed_entities)),
        "entities_removed": sorted(set(old.files.analyzed_entities) - set(new.files.analyzed_entities)),
        "needs_reanalysis": reanalysis,
        "warnings": oversight_warnings(roles),
    }


def oversight_warnings(roles: dict[str, Any]) -> list[str]:
    """A warning for every oversight action a role gains (see core/policy/actions.py), naming who it reaches."""
    from core.policy.actions import ACTIONS

    out = []
    for role, r in roles.items():
        for name in r.get("permissions_gained", []):
            action = ACTIONS.get(name)
            if action and action.oversight:
                people = sorted(r.get("principals", {}))
                reach = f" ({len(people)} principal(s): {', '.join(people[:5])}{' …' if len(people) > 5 else ''})" if people else ""
                out.append(f"Role '{role}'{reach} gains the oversight permission '{name}': {action.description}")
    return out


def diff(ledger: Ledger, principal: Any, filename: str, text: str) -> dict[str, Any]:
    """The diff of an edited file against the loaded policy; raises PolicyError if it is invalid."""
    require_audited(ledger, principal, POLICY_ADMIN, "policy.diff")
    new, check = _check(ledger, filename, text)
    if new is None:
        raise PolicyError(check.file, check.field or "", check.expected or "")
    d = compute_diff(ledger.policy, new, _documents(ledger))
    return {**d, "warnings": [*check.warnings, *d["warnings"]]}


def _summary(d: dict[str, Any]) -> dict[str, Any]:
    return {role: {"permissions_gained": len(r.get("permissions_gained", [])), "permissions_lost": len(r.get("permissions_lost", [])),
                   "redaction_changes": len(r.get("redaction_changes", [])),
                   "documents_gained": sum(len(p["documents_gained"]) for p in r.get("principals", {}).values()),
                   "documents_lost": sum(len(p["documents_lost"]) for p in r.get("principals", {}).values())}
            for role, r in d["roles"].items()}


def reload_policy(ledger: Ledger) -> Policy:
    """Point an open ledger at the policy on disk (the app keeps one ledger per process)."""
    ledger.policy = load_policy(ledger.settings.policies_dir)
    ledger.audit.policy_version = ledger.policy.version
    return ledger.policy


def save(ledger: Ledger, principal: Any, filename: str, text: str, *, reanalyze: bool = True,
         progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Validate, write atomically, audit, reload; re-analyse the stored documents if detection changed."""
    require_audited(ledger, principal, POLICY_EDIT.name, "policy.save")
    d = diff(ledger, principal, filename, text)  # raises PolicyError: nothing is written
    path = editable_policies(ledger) / filename
    before = path.read_bytes()
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    old_version = ledger.policy.version
    new = reload_policy(ledger)
    audit_id = ledger.audit.append(PolicyChanged(
        actor=principal.name, actor_role=principal.role, filename=filename,
        before_sha256=hashlib.sha256(before).hexdigest(), after_sha256=hashlib.sha256(text.encode()).hexdigest(),
        version_before=old_version, version_after=new.version, summary=_summary(d)))
    out: dict[str, Any] = {"audit_id": audit_id, "version": new.version, "diff": d, "reanalysis": None}
    if reanalyze and d["needs_reanalysis"]:
        from core.workbench.reanalysis import reanalyze as run

        out["reanalysis"] = run(ledger, principal, progress=progress, reason=f"policy change: {filename}").as_dict()
    return out
