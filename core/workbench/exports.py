"""Audit exports for auditors and SIEMs: the trail as JSONL or CSV plus a manifest (record count,
the hash the export's chain starts from, its head hash, the file's SHA-256, and the Merkle section
of core/audit/export_proofs.py: a signed checkpoint and proofs), so that anyone can verify an export
offline with `ragledger audit verify --export FILE [--checkpoint KEPT]` and nothing but this module.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import false

from core.policy.actions import AUDIT_READ
from core.audit import export_proofs
from core.audit.asked_about import records_naming
from core.audit.log import GENESIS, HASHED_FIELDS, conditions, record_hash
from core.workbench.compliance_events import AuditExported
from core.errors import AuditIntegrityError, RagLedgerError
from core.audit.guard import require_audited
from core.ledger import Ledger
from core.policy.engine import Principal
from core.audit.signed_note import Checkpoint
from core.stores.tables import AuditRecord

MANIFEST_SUFFIX = ".manifest.json"


def manifest_path(export: Path) -> Path:
    return export.with_name(export.name + MANIFEST_SUFFIX)


FILTER_NAMES = ("kinds", "actor", "since", "until", "about")


def export_bundle(ledger: Ledger, principal: Principal, fmt: str, output: Path, filters: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the trail (or, with `filters`, what the Audit trail page lists) to `output` and its
    manifest beside it; the export itself is audited."""
    data, manifest = export_filtered(ledger, principal, fmt, filters or {}, output.name)
    output.write_bytes(data.encode())  # bytes: CSV rows end in \r\n, which text mode would not keep
    manifest_path(output).write_text(json.dumps(manifest, indent=2))
    return manifest


def export_filtered(ledger: Ledger, principal: Principal, fmt: str, filters: dict[str, Any], name: str | None = None) -> tuple[str, dict[str, Any]]:
    """The export's file content and its manifest. Unfiltered, the file is the whole log below the
    export's checkpoint and verifies as a chain. Filtered, it holds only the matching records: each
    still re-hashes and is proven in the tree (the manifest then carries every leaf hash), but the
    chain has gaps, so the manifest says which filters applied and that the export is not the whole log.
    The name searched for (`about`) never appears in the manifest: it is sealed in the export's own
    audit record, under that subject's key."""
    require_audited(ledger, principal, AUDIT_READ.name, "audit.export")
    unknown = set(filters) - set(FILTER_NAMES)
    if unknown:
        raise RagLedgerError(f"unknown export filter {sorted(unknown)[0]!r}", hint=f"use {', '.join(FILTER_NAMES)}")
    filters = {k: v for k, v in filters.items() if v}
    about = (filters.get("about") or "").strip()
    where = conditions(kinds=filters.get("kinds"), actor=filters.get("actor"), since=filters.get("since"), until=filters.get("until"))
    if about:
        from core.workbench.audit_views import subjects_searched

        ids = subjects_searched(ledger, about)
        where.append(AuditRecord.record_id.in_(records_naming(ids)) if ids else false())  # type: ignore[attr-defined]
    cp = ledger.audit.checkpoint("export")  # every export is checkpointed; the export covers exactly that tree
    data = ledger.audit.export(fmt, below_leaf=cp.size, where=where or None)
    records = parse_export(data, fmt)
    anchor = records[0]["prev_hash"] if records else ledger.audit.anchor()
    shown = {k: v for k, v in filters.items() if k != "about"}
    manifest = {
        "format": fmt, "file": name or f"audit.{fmt}", "records": len(records),
        "first_seq": records[0]["seq"] if records else None, "last_seq": records[-1]["seq"] if records else None,
        "anchor_hash": anchor, "head_hash": records[-1]["hash"] if records else anchor,
        "sha256": hashlib.sha256(data.encode()).hexdigest(), "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "exported_by": principal.name, "policy_version": ledger.policy.version, "hashed_fields": list(HASHED_FIELDS),
        "filters": shown, "complete": not filters,
        "merkle": export_proofs.section(ledger, cp, records, every_leaf=bool(filters)),
    }
    record_id = ledger.audit.append(AuditExported(
        actor=principal.name, actor_role=principal.role, format=fmt, records=len(records), head_hash=manifest["head_hash"],
        sha256=manifest["sha256"], filters={**shown, **({"about": "sealed"} if about else {})}, about=about))
    if about:
        manifest["filters"]["about"] = {"subject": "named in the export's audit record, sealed under the subject's key", "audit_record_id": record_id}
    return data, manifest


def parse_export(data: str, fmt: str) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        return [json.loads(line) for line in data.splitlines() if line.strip()]
    if fmt == "csv":
        rows = []
        for r in csv.DictReader(io.StringIO(data)):
            r = dict(r)
            r["seq"] = int(r["seq"])
            r["sealed"] = r["sealed"] or None  # CSV writes None as ""; ciphertext is never empty
            r["origin"] = r.get("origin") or None
            if r.get("leaf_index"):
                r["leaf_index"] = int(r["leaf_index"])
            rows.append(r)
        return rows
    raise RagLedgerError(f"unknown export format {fmt!r}", hint="jsonl or csv")


def verify_export(path: Path, kept: list[Checkpoint] | None = None, key: str | None = None) -> dict[str, Any]:
    """Verify an export offline against its manifest and the checkpoints an auditor kept (`kept`,
    signatures checked with `key`, default the key in the manifest); raise AuditIntegrityError naming what failed."""
    mpath = manifest_path(path)
    if not path.is_file():
        raise RagLedgerError(f"no export at {path}", hint="export one with `ragledger audit export-bundle --output FILE`")
    if not mpath.is_file():
        raise RagLedgerError(f"no manifest beside the export ({mpath.name})", hint="keep the .manifest.json file next to the export")
    manifest = json.loads(mpath.read_text())
    data = path.read_bytes().decode()
    if hashlib.sha256(data.encode()).hexdigest() != manifest["sha256"]:
        raise AuditIntegrityError("the export file does not match the SHA-256 in its manifest (edited or truncated)",
                                  hint="ask for a fresh export; keep the file and its manifest together")
    records = parse_export(data, manifest["format"])
    if not manifest.get("complete", True):
        return _verify_filtered(manifest, records, kept, key)
    prev = manifest.get("anchor_hash") or GENESIS
    for rec in records:
        if rec["prev_hash"] != prev:
            raise AuditIntegrityError(f"record seq={rec['seq']} does not link to the previous one (removed or reordered)",
                                      hint="the export was altered after it was written")
        if record_hash(rec) != rec["hash"]:
            raise AuditIntegrityError(f"record seq={rec['seq']} does not match its hash (edited)", hint="the export was altered after it was written")
        prev = rec["hash"]
    if len(records) != manifest["records"]:
        raise AuditIntegrityError(f"{len(records)} records, the manifest says {manifest['records']}", hint="the export is incomplete")
    if prev != manifest["head_hash"]:
        raise AuditIntegrityError("the last record's hash is not the manifest's head hash", hint="the export is incomplete")
    out = {"ok": True, "records": len(records), "head_hash": prev, "anchor_hash": manifest.get("anchor_hash"), "format": manifest["format"]}
    if "merkle" in manifest:
        out["merkle"] = export_proofs.check(manifest["merkle"], records, kept or [], key)
    elif kept:
        raise AuditIntegrityError("this export has no Merkle section, so it cannot be checked against a checkpoint",
                                  hint="export again with this version (`ragledger audit export-bundle`)")
    return out


def _verify_filtered(manifest: dict[str, Any], records: list[dict[str, Any]], kept: list[Checkpoint], key: str | None) -> dict[str, Any]:
    """A filtered export: every record re-hashes and sits at its leaf of the signed tree; the chain
    between them is not there to walk, and records left out by the filters cannot be shown complete."""
    for rec in records:
        if record_hash(rec) != rec["hash"]:
            raise AuditIntegrityError(f"record seq={rec['seq']} does not match its hash (edited)", hint="the export was altered after it was written")
    if len(records) != manifest["records"]:
        raise AuditIntegrityError(f"{len(records)} records, the manifest says {manifest['records']}", hint="the export is incomplete")
    return {"ok": True, "records": len(records), "head_hash": manifest["head_hash"], "anchor_hash": manifest.get("anchor_hash"),
            "format": manifest["format"], "filters": manifest.get("filters", {}), "complete": False,
            "merkle": export_proofs.check_filtered(manifest["merkle"], records, kept, key)}
