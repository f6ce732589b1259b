"""Proving an erasure: retrieval as every role finds nothing, and a scan that decodes every Lance
file (data, index, transaction, manifest), the SQLite files (with WAL and free pages), the uploads
and the journal finds no erased string. The certificate is hashed into the audit chain."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from core.chunk_store import id_predicate
from core.erasure import get_request, now
from core.erasure_events import ErasureStep
from core.erasure_tables import ErasureRequest
from core.ledger import Ledger
from core.policy import Principal
from core.retrieval import retrieve


def verify_retrieval(ledger: Ledger, probes: list[str], erased_chunk_ids: list[str], max_probes: int = 8) -> dict[str, Any]:
    erased = set(erased_chunk_ids)
    store = ledger.store
    store.refresh()
    searches = hits = 0
    for name in ledger.policy.principal_names():
        principal = ledger.policy.principal(name)
        for probe in probes[:max_probes]:
            result = retrieve(ledger, principal, probe, k=10)
            searches += 1
            hits += sum(1 for h in result.hits if h.chunk_id in erased or probe.lower() in h.row["text"].lower())
    for probe in probes[:max_probes]:  # every search mode, no access filter: vector, full text, fused
        vector = ledger.embedder.embed_query(probe)
        rows = store.search(vector, probe, None, 20)
        searches += 1
        hits += sum(1 for h in rows if h.chunk_id in erased or probe.lower() in h.row["text"].lower())
    versions = store.table.list_versions()
    old_rows = 0
    for v in versions:
        table = ledger.store.db.open_table(store.name)
        table.checkout(v["version"])
        for i in range(0, len(erased_chunk_ids), 500):
            old_rows += table.count_rows(id_predicate("chunk_id", erased_chunk_ids[i:i + 500]))
    return {"principals": len(ledger.policy.principal_names()), "probes": min(len(probes), max_probes), "searches": searches,
            "hits": hits, "table_versions_checked": len(versions), "erased_rows_in_any_version": old_rows}


def _decode_lance(path: Path) -> str | None:
    try:
        from lance.file import LanceFileReader

        table = LanceFileReader(str(path)).read_all().to_table()
        return json.dumps(table.to_pylist(), default=str)
    except Exception:  # not a Lance file format this reader knows (e.g. a legacy index page)
        return None


ROW_ID_COLUMNS = ("_rowid", "ids", "row_ids", "_row_id")


def scan_indexes(lance_dir: Path) -> dict[str, Any]:
    """No code or vector of an erased row remains in any index file.

    Every file of every index is decoded (Lance files: IVF partitions with their PQ/SQ codes,
    B-tree pages, full-text postings); each row id column in them must name a live row of the
    current version, and one code is stored per row id, so a code of a removed row would show up as
    a row id that is not live. Index folders the manifest no longer references must be gone."""
    import lance
    from lance.file import LanceFileReader

    report: dict[str, Any] = {"index_files_decoded": 0, "index_files_not_decodable": 0, "row_ids_checked": 0,
                              "row_ids_not_live": 0, "unreferenced_index_dirs": 0, "indexes": []}
    if not lance_dir.exists():
        return report
    for root in sorted(p for p in lance_dir.iterdir() if p.suffix == ".lance" and p.is_dir()):
        dataset = lance.dataset(str(root))
        live = set(dataset.to_table(columns=[], with_row_address=True)["_rowaddr"].to_pylist())
        referenced = {i["uuid"] for i in dataset.list_indices()}
        report["indexes"].extend(sorted({i["name"] for i in dataset.list_indices()}))
        folder = root / "_indices"
        for index_dir in sorted(folder.iterdir()) if folder.exists() else []:
            if index_dir.name not in referenced:
                report["unreferenced_index_dirs"] += 1
            for path in sorted(p for p in index_dir.rglob("*") if p.is_file()):
                try:
                    table = LanceFileReader(str(path)).read_all().to_table()
                except (OSError, ValueError, RuntimeError):  # not a Lance file (a legacy index page): counted, stated in the certificate
                    report["index_files_not_decodable"] += 1
                    continue
                report["index_files_decoded"] += 1
                for column in ROW_ID_COLUMNS:
                    if column in table.schema.names:
                        ids = table[column].to_pylist()
                        report["row_ids_checked"] += len(ids)
                        report["row_ids_not_live"] += sum(1 for i in ids if i not in live)
    report["clean"] = report["row_ids_not_live"] == 0 and report["unreferenced_index_dirs"] == 0
    return report


def _sqlite_files(ledger: Ledger) -> list[Path]:
    url = make_url(ledger.settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return []
    base = Path(url.database)
    return [p for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm"), Path(f"{base}-journal")) if p.exists()]


def scan_disk(ledger: Ledger, probes: list[str]) -> dict[str, Any]:
    needles = [p.lower() for p in probes if p]
    stores = {
        "lance": sorted(p for p in ledger.settings.lance_dir.rglob("*") if p.is_file()) if ledger.settings.lance_dir.exists() else [],
        "sqlite": _sqlite_files(ledger),
        "uploads": sorted(p for p in ledger.settings.uploads_dir.rglob("*") if p.is_file()) if ledger.settings.uploads_dir.exists() else [],
        "journal": sorted(p for p in ledger.settings.journal_dir.rglob("*") if p.is_file()) if ledger.settings.journal_dir.exists() else [],
    }
    report: dict[str, Any] = {"files_scanned": 0, "lance_files_decoded": 0, "lance_files_not_decodable": 0, "hits": [], "by_store": {}}
    for store, files in stores.items():
        report["by_store"][store] = len(files)
        for path in files:
            report["files_scanned"] += 1
            raw = path.read_bytes()
            texts = [raw.decode("utf-8", errors="ignore").lower(), raw.decode("utf-16-le", errors="ignore").lower()]
            if path.suffix in (".lance", ".idx"):
                decoded = _decode_lance(path)
                if decoded is None:
                    report["lance_files_not_decodable"] += 1
                else:
                    report["lance_files_decoded"] += 1
                    texts.append(decoded.lower())
            if any(n in t for n in needles for t in texts):
                report["hits"].append({"store": store, "file": str(path.relative_to(ledger.settings.home)) if path.is_relative_to(ledger.settings.home) else path.name})
    if ledger.engine.dialect.name == "postgresql":
        report["postgresql"] = "server files are not readable from here; VACUUM FULL rewrote the touched tables"
    report["hit_count"] = len(report["hits"])
    return report


def certificate_hash(cert: dict[str, Any]) -> str:
    body = {k: v for k, v in cert.items() if k != "certificate_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def issue_certificate(ledger: Ledger, principal: Principal, request: dict[str, Any], journal: dict[str, Any]) -> dict[str, Any]:
    s = journal["stats"]
    cert: dict[str, Any] = {
        "certificate": "RAG Ledger erasure certificate",
        "request_id": request["request_id"], "kind": request["kind"], "scope": request["scope"],
        "requested_by": request["requested_by"], "recorded_by": request["recorded_by"], "executed_by": journal.get("actor", principal.name),
        "reason": request["reason"], "received_at": request["received_at"], "due_at": request["due_at"],
        "certified_at": now(), "policy_version": ledger.policy.version,
        "erased": {
            "lancedb": s["lance"], "document_registry": s["registry"], "uploaded_files": s["uploads"],
            "audit_log": s["keys"], "caches": {"result_or_answer_caches": 0, "note": "RAG Ledger keeps no result cache"},
            "sql": s["sql_compact"],
        },
        "models_flagged_for_retraining": s["models"]["checkpoints_flagged"],
        "verification": s["verify"],
        "verified_clean": s["verify"]["retrieval"]["hits"] == 0 and s["verify"]["retrieval"]["erased_rows_in_any_version"] == 0
        and s["verify"]["disk_scan"]["hit_count"] == 0 and s["verify"].get("index_scan", {}).get("clean", False),
    }
    cert["certificate_sha256"] = certificate_hash(cert)
    record_id = ledger.audit.append(ErasureStep(actor=principal.name, actor_role=principal.role, request_id=request["request_id"],
                                                stage="certified", counts={"chunks": s["lance"]["chunks_deleted"], "documents": s["registry"]["documents_erased"]},
                                                certificate_sha256=cert["certificate_sha256"]))
    cert_stored = {**cert, "audit_record_id": record_id}
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        conn.execute(table.update().where(table.c.request_id == request["request_id"]).values(
            status="certified", certified_at=cert["certified_at"], certificate_json=json.dumps(cert_stored), certificate_sha256=cert["certificate_sha256"]))
    return cert_stored


def certificate_markdown(cert: dict[str, Any]) -> str:
    e, v = cert["erased"], cert["verification"]
    lines = [
        f"# Erasure certificate {cert['request_id']}", "",
        f"- Request: {cert['kind']} erasure ({cert['scope']}), requested by {cert['requested_by']}, recorded by {cert['recorded_by']}",
        f"- Received {cert['received_at']}, due {cert['due_at']}, certified {cert['certified_at']}",
        f"- Policy version {cert['policy_version']}; certificate SHA-256 `{cert['certificate_sha256']}` (in the audit chain, record {cert.get('audit_record_id', '?')})",
        "", "## Erased", "",
        f"- LanceDB: {e['lancedb']['chunks_deleted']} chunks deleted, {e['lancedb']['versions_removed']} old table versions removed",
        f"- Document registry: {e['document_registry']['documents_erased']} documents erased, {e['document_registry']['documents_partially_erased']} partially",
        f"- Uploaded source files removed: {e['uploaded_files']['files_removed']}",
        f"- Audit log: {e['audit_log']['keys_destroyed']} document keys destroyed; {e['audit_log']['audit_records_unreadable']} records' text made unreadable, chain intact",
        f"- Caches: {e['caches']['result_or_answer_caches']} ({e['caches']['note']})",
        f"- Models flagged for retraining: {', '.join(cert['models_flagged_for_retraining']) or 'none'}",
        "", "## Verification", "",
        f"- Retrieval as {v['retrieval']['principals']} principals and unfiltered vector/full-text search, {v['retrieval']['searches']} searches: {v['retrieval']['hits']} hits",
        f"- Table versions checked: {v['retrieval']['table_versions_checked']}; erased rows in any version: {v['retrieval']['erased_rows_in_any_version']}",
        f"- Disk scan: {v['disk_scan']['files_scanned']} files ({v['disk_scan']['lance_files_decoded']} Lance files decoded): {v['disk_scan']['hit_count']} hits",
        f"- Index files: {v.get('index_scan', {}).get('index_files_decoded', 0)} decoded, {v.get('index_scan', {}).get('row_ids_checked', 0)} row ids checked, "
        f"{v.get('index_scan', {}).get('row_ids_not_live', '?')} not live, {v.get('index_scan', {}).get('unreferenced_index_dirs', '?')} unreferenced index folders",
        "", f"**Verified clean: {'yes' if cert['verified_clean'] else 'NO'}**", "",
    ]
    return "\n".join(lines)


def request_for_certificate(ledger: Ledger, request_id: str) -> dict[str, Any]:
    return get_request(ledger, request_id)
