"""Records of processing (GDPR Art. 30), generated from what the ledger knows: the categories of
personal data found in stored documents, the groups holding them, which roles received which
categories in answers (audit facts: documents cited per role, redactions applied per role), the
retention periods and the safeguards in force. Rendered as Markdown or CSV.

"Received" is counted per answer and per category present in a cited document (document-level: the
registry's PII summary); whether a role saw it in clear follows the role's redaction operator.
"""
from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, select

from core.policy.actions import OVERVIEW_READ
from core.stores.compliance_tables import AuditFact
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal
from core.stores.tables import DocumentRow

F = AuditFact.__table__  # type: ignore[attr-defined]


def build(ledger: Ledger, principal: Principal) -> dict[str, Any]:
    require_audited(ledger, principal, OVERVIEW_READ.name, "processing_records")
    policy = ledger.policy
    with ledger.engine.connect() as conn:
        docs = {r[0]: {"groups": json.loads(r[1]), "classification": r[2], "pii": json.loads(r[3] or "{}")}
                for r in conn.execute(select(DocumentRow.doc_id, DocumentRow.groups, DocumentRow.classification, DocumentRow.pii_summary)
                                      .where(DocumentRow.status == "active"))}
        cited = conn.execute(select(F.c.actor_role, F.c.key, func.sum(F.c.n)).where(F.c.dimension == "cited_doc")
                             .group_by(F.c.actor_role, F.c.key)).all()
        redacted = conn.execute(select(F.c.actor_role, F.c.key, func.sum(F.c.n)).where(F.c.dimension.in_(["redaction", "guard_redaction"]))
                                .group_by(F.c.actor_role, F.c.key)).all()
    categories: dict[str, dict[str, Any]] = {}
    for doc in docs.values():
        for etype, n in doc["pii"].items():
            c = categories.setdefault(etype, {"occurrences": 0, "documents": 0, "groups": set(), "classifications": set()})
            c["occurrences"] += n
            c["documents"] += 1
            c["groups"].update(doc["groups"])
            c["classifications"].add(doc["classification"])
    received: dict[tuple[str, str], int] = defaultdict(int)
    for role, doc_id, n in cited:
        for etype in docs.get(doc_id, {}).get("pii", {}):
            received[(role, etype)] += int(n)
    redactions = {(role, etype): int(n) for role, etype, n in redacted}
    recipients = []
    for (role, etype), n in sorted(received.items()):
        if role not in policy.roles:
            continue
        rule = policy.redaction.profiles[policy.roles[role].redaction].rule_for(etype)
        recipients.append({"role": role, "category": etype, "answers_citing": n, "redactions_applied": redactions.get((role, etype), 0),
                           "operator": rule.operator, "in_clear": rule.operator == "keep"})
    r = policy.files.retention
    retention = [{"record": "audit records (default)", "days": r.audit_records_days}]
    retention += [{"record": f"audit records: {kind}", "days": days} for kind, days in sorted(r.audit_kinds.items())]
    retention.append({"record": "documents", "days": r.documents_days if r.documents_days is not None else "until erased"})
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "policy_version": policy.version,
        "categories": [{"category": k, "occurrences": v["occurrences"], "documents": v["documents"], "groups": sorted(v["groups"]),
                        "classifications": sorted(v["classifications"])} for k, v in sorted(categories.items())],
        "recipients": recipients, "retention": retention, "safeguards": safeguards(ledger),
    }


def safeguards(ledger: Ledger) -> list[str]:
    policy = ledger.policy
    out = [
        "Access control inside the retrieval query: a chunk is searched only if the asker shares one of its groups "
        "and holds at least its classification (default deny).",
        "PII detection at ingestion with Presidio (spaCy NER + pattern recognizers, "
        f"{len(policy.redaction.recognizers)} custom recognizers in policy) over {len(policy.files.analyzed_entities)} categories.",
        "Per-role redaction at retrieval time, and a pattern-only output guard on every answer.",
    ]
    for name, role in sorted(policy.roles.items()):
        profile = policy.redaction.profiles[role.redaction]
        out.append(f"Role {name}: redaction profile '{role.redaction}' (default {profile.default.operator}; "
                   + ", ".join(f"{e} {r.operator}" for e, r in sorted(profile.entities.items())) + ").")
    out += [
        "Hash-chained, append-only audit log; question and answer texts sealed under per-document keys (crypto-shredding on erasure).",
        "Audit exports carry a manifest with the chain head hash and can be verified offline.",
        f"Retention job with legal hold; audit records kept at least {policy.files.retention.audit_records_days} days.",
    ]
    return out


def to_markdown(report: dict[str, Any]) -> str:
    lines = ["# Records of processing (GDPR Art. 30)", "", f"Generated {report['generated_at']} under policy {report['policy_version']}.", "",
             "## Categories of personal data", "", "| Category | Occurrences | Documents | Groups | Classifications |", "|---|---|---|---|---|"]
    lines += [f"| {c['category']} | {c['occurrences']} | {c['documents']} | {', '.join(c['groups'])} | {', '.join(c['classifications'])} |"
              for c in report["categories"]]
    lines += ["", "## Recipients: roles that received each category in answers", "",
              "| Role | Category | Answers citing it | Redactions applied | Operator | In clear |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['role']} | {r['category']} | {r['answers_citing']} | {r['redactions_applied']} | {r['operator']} | {'yes' if r['in_clear'] else 'no'} |"
              for r in report["recipients"]]
    lines += ["", "## Retention periods", "", "| Record | Days |", "|---|---|"]
    lines += [f"| {r['record']} | {r['days']} |" for r in report["retention"]]
    lines += ["", "## Safeguards", ""] + [f"- {s}" for s in report["safeguards"]]
    return "\n".join(lines) + "\n"


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["section", "category_or_record", "role", "count", "documents", "groups", "classifications", "operator", "in_clear", "detail"])
    for c in report["categories"]:
        w.writerow(["category", c["category"], "", c["occurrences"], c["documents"], ";".join(c["groups"]), ";".join(c["classifications"]), "", "", ""])
    for r in report["recipients"]:
        w.writerow(["recipient", r["category"], r["role"], r["answers_citing"], "", "", "", r["operator"], r["in_clear"], f"redactions={r['redactions_applied']}"])
    for r in report["retention"]:
        w.writerow(["retention", r["record"], "", r["days"], "", "", "", "", "", ""])
    for s in report["safeguards"]:
        w.writerow(["safeguard", "", "", "", "", "", "", "", "", s])
    return out.getvalue()
