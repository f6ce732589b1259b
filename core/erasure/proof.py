"""Proving an erasure: retrieval as every role finds nothing, the subject's normalised re-scan finds
no match the officer did not exclude, and a scan that decodes every Lance data and index file (the
others are formats that hold no compressed row data: transaction and manifest protobufs, JSON
hints, deletion vectors), the SQLite files (with WAL and free pages), the uploads and the journal
finds no erased string. A Lance file that cannot be decoded is listed by name and fails the proof.
The certificate is hashed into the audit chain; one that does not verify clean leaves the request
open (`incomplete`) and says what remains."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from core.rag import object_store
from core.rag.chunk_store import id_predicate
from core.erasure.records import CERTIFICATE_TITLE, Certificate, Journal, Request
from core.erasure.requests import get_request, now, request_key_ref
from core.erasure.events import ErasureStep
from core.erasure.impact import describe, performed
from core.stores.erasure_tables import ErasureRequest
from core.erasure.targets import Targets, find_matches
from core.ledger import Ledger
from core.rag.object_store import Snapshot
from core.policy.engine import Principal
from core.rag.retrieval import retrieve
from core.safe_text import inert_label
from core.audit.sealing import load_keys, unseal
from core.subject_match import normalise


def verify_retrieval(ledger: Ledger, probes: list[str], erased_chunk_ids: list[str], max_probes: int = 8,
                     kept: set[str] | None = None) -> dict[str, Any]:
    """`kept`: chunks the officer excluded (another person of the same name): they may contain a probe."""
    erased = set(erased_chunk_ids)
    kept = kept or set()
    store = ledger.store
    store.refresh()
    searches = hits = 0
    for name in ledger.policy.principal_names():
        principal = ledger.policy.principal(name)
        for probe in probes[:max_probes]:
            result = retrieve(ledger, principal, probe, k=10)
            searches += 1
            hits += sum(1 for h in result.hits if h.chunk_id in erased or (probe.lower() in h.row["text"].lower() and h.chunk_id not in kept))
    for probe in probes[:max_probes]:  # every search mode, no access filter: vector, full text, fused
        vector = ledger.embedder.embed_query(probe)
        rows = store.search(vector, probe, None, 20)
        searches += 1
        hits += sum(1 for h in rows if h.chunk_id in erased or (probe.lower() in h.row["text"].lower() and h.chunk_id not in kept))
    versions = store.versions()
    old_rows = 0
    for v in versions:
        for i in range(0, len(erased_chunk_ids), 500):
            old_rows += store.count_in_version(v, id_predicate("chunk_id", erased_chunk_ids[i:i + 500]))
    return {"principals": len(ledger.policy.principal_names()), "probes": min(len(probes), max_probes), "searches": searches,
            "hits": hits, "table_versions_checked": len(versions), "erased_rows_in_any_version": old_rows}


def remaining_matches(ledger: Ledger, request: Request, subject: str | None, targets: Targets) -> tuple[dict[str, Any], set[str]]:
    """Re-run the subject search after the erasure: every match left must be one the officer excluded.
    Returns the report (opaque ids and places only) and the chunks that were kept by exclusion."""
    if subject is None:
        return {"matches_left": 0, "excluded_kept": 0, "left": []}, set()
    skip = set(targets.excluded)
    matches, _ = find_matches(ledger, subject)
    kept = [m for m in matches if m.match_id in skip or m.doc_id in skip]
    left = [m for m in matches if m not in kept]
    return ({"matches_left": len(left), "excluded_kept": len(kept),
             "left": [{"doc_id": m.doc_id, "chunk_id": m.chunk_id, "where": m.where, "kind": m.kind} for m in left[:50]]},
            {m.chunk_id for m in kept if m.chunk_id})


# Lance folders hold data and index files in the Lance file format (compressed: they must be decoded)
# and files whose format stores strings uncompressed or holds no row data at all.
_RAW_FORMATS = {".txn": "transaction (protobuf)", ".manifest": "manifest (protobuf)", ".json": "version hint (JSON)",
                ".arrow": "deletion vector (row offsets)", ".bin": "deletion vector (row offsets)"}
_DECODED_FORMATS = (".lance", ".idx")


def _decode_lance(path: Path) -> tuple[str | None, str | None]:
    """(every string the file holds, None) or (None, why it could not be decoded). Binary values of a
    data file are read as UTF-8 and as UTF-16; those of an index file (postings, codes, bitmaps: numbers
    derived from the rows, whose text the index keeps in string columns) as UTF-8 only."""
    from lance.file import LanceFileReader  # a missing pylance is an installation error, not "not decodable"

    try:
        table = LanceFileReader(str(path)).read_all().to_table()
    except (OSError, ValueError, RuntimeError) as exc:  # what the Lance reader raises for a file it cannot read
        return None, f"{type(exc).__name__}: {str(exc)[:160]}"
    out: list[str] = _schema_metadata(table.schema)
    utf16 = "_indices" not in path.parts
    for column in table.columns:
        for chunk in column.chunks:
            _arrow_strings(chunk, out, utf16)
    return "\n".join(out), None


def _schema_metadata(schema: Any) -> list[str]:
    """The key/value metadata of a file's schema and of each field, nested fields included: text the file's
    footer holds beside its rows (this code writes none; a writer that did would be read here too)."""
    import pyarrow as pa

    found: list[str] = []

    def pairs(meta: dict[bytes, bytes] | None) -> None:
        for key, value in (meta or {}).items():
            found.extend(b.decode("utf-8", errors="ignore") for b in (key, value))

    def field(f: Any) -> None:
        pairs(f.metadata)
        kind = f.type
        if pa.types.is_struct(kind):
            for i in range(kind.num_fields):
                field(kind.field(i))
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
            field(kind.value_field)

    pairs(schema.metadata)
    for f in schema:
        field(f)
    return found


def _arrow_strings(array: Any, out: list[str], utf16: bool = True) -> None:
    """Every string (and every binary value, as UTF-8 and, with `utf16`, as UTF-16) in `array`, however nested, joined by line
    breaks inside Arrow: what converting the rows to Python and collecting their strings gives,
    without turning a million vectors into Python floats (numbers hold no text)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        _arrow_strings(array.dictionary, out, utf16)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        wide = pa.large_string() if pa.types.is_string(kind) or pa.types.is_large_string(kind) else pa.large_binary()
        values = array.drop_null().cast(wide)  # 64-bit offsets: a column's text may pass 2 GB
        if len(values):
            one = pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values)
            joined = pc.binary_join(one, pa.scalar("\n" if wide == pa.large_string() else b"\n", wide))[0].as_py()
            if isinstance(joined, bytes):  # binary values may hold text in either encoding
                out += [joined.decode("utf-8", errors="ignore")] + ([joined.decode("utf-16-le", errors="ignore")] if utf16 else [])
            else:
                out.append(joined)
    elif pa.types.is_map(kind):
        _arrow_strings(array.keys, out, utf16)
        _arrow_strings(array.items, out, utf16)
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        _arrow_strings(array.flatten(), out, utf16)
    elif pa.types.is_struct(kind):
        for child in array.flatten():
            _arrow_strings(child, out, utf16)


def _flat(text: str) -> str:
    """Case- and spacing-insensitive form for the scan (a probe "Helena\nMarchetti" is found as "helena marchetti")."""
    return " " + normalise(text) + " "


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
    report["clean"] = report["row_ids_not_live"] == 0 and report["unreferenced_index_dirs"] == 0 and report["index_files_not_decodable"] == 0
    return report


def _sqlite_files(ledger: Ledger) -> list[Path]:
    url = make_url(ledger.settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return []
    base = Path(url.database)
    return [p for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm"), Path(f"{base}-journal")) if p.exists()]


@contextmanager
def lance_view(ledger: Ledger) -> Iterator[Snapshot]:
    """The chunk store as files to decode: the folder itself, or for an object store
    (RAGLEDGER_LANCE_URI) a private local copy of every object under the prefix, old object
    versions of a versioned bucket included (core/rag/object_store.py)."""
    location = ledger.settings.lance_location
    if not object_store.is_remote(location):
        yield Snapshot(Path(location), [], 0)
        return
    with object_store.snapshot(object_store.Remote.parse(str(location))) as snap:
        yield snap


def _lance_files(ledger: Ledger, view: Snapshot) -> list[tuple[str, Path]]:
    location, home = ledger.settings.lance_location, ledger.settings.home
    current = sorted(p for p in view.current.rglob("*") if p.is_file()) if view.current.exists() else []
    if object_store.is_remote(location):
        named = [(f"{str(location).rstrip('/')}/{p.relative_to(view.current)}", p) for p in current]
    else:
        named = [(str(p.relative_to(home)) if p.is_relative_to(home) else p.name, p) for p in current]
    return named + list(view.old)


def scan_disk(ledger: Ledger, probes: list[str], view: Snapshot | None = None) -> dict[str, Any]:
    if view is None:
        with lance_view(ledger) as own:
            return scan_disk(ledger, probes, own)
    needles = [p.lower() for p in probes if p]
    flat_needles = [f" {n} " for p in probes if (n := normalise(p))]
    home = ledger.settings.home

    def named(paths: list[Path]) -> list[tuple[str, Path]]:
        return [(str(p.relative_to(home)) if p.is_relative_to(home) else p.name, p) for p in paths]

    stores = {
        "lance": _lance_files(ledger, view),
        "sqlite": named(_sqlite_files(ledger)),
        "uploads": named(sorted(p for p in ledger.settings.uploads_dir.rglob("*") if p.is_file()) if ledger.settings.uploads_dir.exists() else []),
        "journal": named(sorted(p for p in ledger.settings.journal_dir.rglob("*") if p.is_file()) if ledger.settings.journal_dir.exists() else []),
    }
    report: dict[str, Any] = {"files_scanned": 0, "lance_files_decoded": 0, "lance_files_not_decodable": 0, "not_decodable": [],
                              "raw_formats": {}, "hits": [], "by_store": {}}
    if object_store.is_remote(ledger.settings.lance_location):
        report["object_store"] = {"uri": str(ledger.settings.lance_location), "objects_read": view.objects_read,
                                  "old_object_versions_read": len(view.old)}
    for store, files in stores.items():
        report["by_store"][store] = len(files)
        for name, path in files:
            report["files_scanned"] += 1
            texts: list[str] | None = None
            if store == "lance":
                suffix = path.suffix.lower()
                if suffix in _DECODED_FORMATS:
                    decoded, why = _decode_lance(path)
                    if decoded is None:
                        report["lance_files_not_decodable"] += 1
                        report["not_decodable"].append({"file": name, "error": why})
                    else:
                        report["lance_files_decoded"] += 1
                        # Decoded, the file's whole content is known (every row, deleted ones included: the
                        # file reader knows no deletion vector), so its raw bytes are not read as text as
                        # well: at a million chunks that was most of the proof's time and could find nothing more.
                        texts = [decoded]
                elif suffix in _RAW_FORMATS:
                    report["raw_formats"][_RAW_FORMATS[suffix]] = report["raw_formats"].get(_RAW_FORMATS[suffix], 0) + 1
                else:  # a format not known to hold no compressed row data: it cannot be proven clean
                    report["lance_files_not_decodable"] += 1
                    report["not_decodable"].append({"file": name, "error": f"unknown file format {suffix or '(no suffix)'}"})
            if texts is None:  # every other file, and a Lance file that could not be decoded: its bytes, as UTF-8 and as UTF-16
                raw = path.read_bytes()
                texts = [raw.decode("utf-8", errors="ignore"), raw.decode("utf-16-le", errors="ignore")]
            lowered = [t.lower() for t in texts]
            flat = [_flat(t) for t in texts] if flat_needles else []
            if any(n in t for n in needles for t in lowered) or any(n in t for n in flat_needles for t in flat):
                report["hits"].append({"store": store, "file": name})
    if ledger.engine.dialect.name == "postgresql":
        report["postgresql"] = "server files are not readable from here; VACUUM FULL rewrote the touched tables"
    report["hit_count"] = len(report["hits"])
    return report


def certificate_hash(cert: dict[str, Any] | Certificate) -> str:
    """The SHA-256 of a certificate's body as issued (without its hash; a stored one also drops audit_record_id first)."""
    data = cert.to_dict() if isinstance(cert, Certificate) else cert
    body = {k: v for k, v in data.items() if k != "certificate_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def sealed_documents(ledger: Ledger, journal: Journal) -> list[dict[str, Any]]:
    """The affected documents as the certificate names them (sealed in the journal under the request key)."""
    if journal.documents is None:  # a journal written before documents were listed
        return []
    ref = request_key_ref(journal.request_id)
    with ledger.engine.connect() as conn:
        data = unseal(journal.documents, [ref], load_keys(conn, [ref]))
    return data["documents"] if data else []


def issue_certificate(ledger: Ledger, principal: Principal, request: Request, journal: Journal) -> Certificate:
    """Build the certificate from the journal's step reports, hash it into the audit chain and store it.
    The stored JSON is built as a plain object, exactly as before the records were typed; the
    Certificate is read back from it."""
    s = journal.stats
    cert: dict[str, Any] = {
        "certificate": CERTIFICATE_TITLE,
        "request_id": request.request_id, "kind": request.kind, "scope": request.scope,
        "requested_by": request.requested_by, "recorded_by": request.recorded_by,
        "executed_by": journal.actor if journal.actor is not None else principal.name,
        "reason": request.reason, "received_at": request.received_at, "due_at": request.due_at,
        "certified_at": now(), "policy_version": ledger.policy.version,
        "erased": {
            "lancedb": s["lance"], "document_registry": s["registry"], "uploaded_files": s["uploads"],
            "audit_log": s["keys"], "caches": {"result_or_answer_caches": 0, "note": "RAG Ledger keeps no result cache"},
            "sql": s["sql_compact"],
        },
        "models_flagged_for_retraining": s["models"]["checkpoints_flagged"],
        "serving_embedder_fallback": s["models"].get("embedder_fallback"),
        # The preview's counts (core/erasure_impact.measure, stored at plan time) beside what the steps did.
        "planned": journal.impact, "performed": performed(s),
        "documents": sealed_documents(ledger, journal),
        "verification": s["verify"],
        "attempt": journal.attempt,
    }
    cert["remaining"] = what_remains(s["verify"])
    cert["verified_clean"] = not cert["remaining"]
    if not cert["verified_clean"]:
        cert["next_step"] = f"the request stays open: run `ragledger purge --request {request.request_id}` to continue the erasure"
    cert["certificate_sha256"] = certificate_hash(cert)
    record_id = ledger.audit.append(ErasureStep(actor=principal.name, actor_role=principal.role, request_id=request.request_id,
                                                stage="certified" if cert["verified_clean"] else "verification_failed", counts={"chunks": s["lance"]["chunks_deleted"], "documents": s["registry"]["documents_erased"]},
                                                certificate_sha256=cert["certificate_sha256"]))
    cert_stored = {**cert, "audit_record_id": record_id}
    table = ErasureRequest.__table__  # type: ignore[attr-defined]
    with ledger.engine.begin() as conn:
        conn.execute(table.update().where(table.c.request_id == request.request_id).values(
            status="certified" if cert["verified_clean"] else "incomplete", certified_at=cert["certified_at"] if cert["verified_clean"] else None,
            certificate_json=json.dumps(cert_stored), certificate_sha256=cert["certificate_sha256"]))
    return Certificate.from_dict(cert_stored)


def what_remains(verify: dict[str, Any]) -> dict[str, Any]:
    """Every check that failed, with opaque ids and file names only; empty when clean."""
    r, d = verify["retrieval"], verify["disk_scan"]
    subject = verify.get("subject_scan") or {}
    out: dict[str, Any] = {}
    if r["hits"]:
        out["retrieval_hits"] = r["hits"]
    if r["erased_rows_in_any_version"]:
        out["erased_rows_in_old_versions"] = r["erased_rows_in_any_version"]
    if d["hit_count"]:
        out["files_with_erased_strings"] = [h["file"] for h in d["hits"]]
    if d.get("lance_files_not_decodable"):
        out["lance_files_not_decodable"] = d.get("not_decodable", [])
    if subject.get("matches_left"):
        out["subject_matches_left"] = subject["left"]
    index = verify.get("index_scan")
    if index is not None and not index.get("clean", False):
        out["index_files"] = {k: index[k] for k in ("row_ids_not_live", "unreferenced_index_dirs", "index_files_not_decodable")}
    return out


def certificate_markdown(cert: Certificate) -> str:
    e, v = cert.erased, cert.verification
    lines = [
        f"# Erasure certificate {cert.request_id}", "",
        f"- Request: {cert.kind} erasure ({cert.scope}), requested by {cert.requested_by}, recorded by {cert.recorded_by}",
        f"- Received {cert.received_at}, due {cert.due_at}, certified {cert.certified_at}",
        f"- Policy version {cert.policy_version}; certificate SHA-256 `{cert.certificate_sha256}` (in the audit chain, record "
        f"{cert.audit_record_id if cert.audit_record_id is not None else '?'})",
        "", "## Erased", "",
        f"- LanceDB: {e['lancedb']['chunks_deleted']} chunks deleted, {e['lancedb']['versions_removed']} old table versions removed",
        f"- Document registry: {e['document_registry']['documents_erased']} documents erased, {e['document_registry']['documents_partially_erased']} partially",
        f"- Uploaded source files removed: {e['uploaded_files']['files_removed']}",
        f"- Audit log: {e['audit_log']['keys_destroyed']} document keys destroyed; {e['audit_log']['audit_records_unreadable']} records' text made unreadable, chain intact",
        f"- Caches: {e['caches']['result_or_answer_caches']} ({e['caches']['note']})",
        f"- Models flagged for retraining: {', '.join(cert.models_flagged_for_retraining) or 'none'}",
    ]
    if cert.planned:
        lines += [f"- Previewed: {describe(cert.planned)}", f"- Done: {describe(cert.performed)}"]  # type: ignore[arg-type]
    if cert.documents:
        lines += ["", "## Documents", ""]
        lines += [f"- {inert_label(d['title'])} ({d['doc_id']}; {', '.join(d['groups'])}; {d['classification']}): erased {d['erased']}, "
                  f"{d['chunks_deleted']} of {d['chunks_total']} chunk(s)" + (f", fields {', '.join(d['registry_fields'])}" if d["registry_fields"] else "")
                  for d in cert.documents]
    lines += [
        "", "## Verification", "",
        f"- Retrieval as {v['retrieval']['principals']} principals and unfiltered vector/full-text search, {v['retrieval']['searches']} searches: {v['retrieval']['hits']} hits",
        f"- Table versions checked: {v['retrieval']['table_versions_checked']}; erased rows in any version: {v['retrieval']['erased_rows_in_any_version']}",
        f"- Disk scan: {v['disk_scan']['files_scanned']} files ({v['disk_scan']['lance_files_decoded']} Lance files decoded, "
        f"{v['disk_scan'].get('lance_files_not_decodable', 0)} not decodable): {v['disk_scan']['hit_count']} hits",
        f"- Subject re-scan (normalised, every chunk and registry field): {v.get('subject_scan', {}).get('matches_left', 0)} matches left, "
        f"{v.get('subject_scan', {}).get('excluded_kept', 0)} kept as excluded by the officer",
        "", f"**Verified clean: {'yes' if cert.verified_clean else 'NO'}**", "",
    ]
    if not cert.verified_clean:
        lines += ["## What remains", ""]
        for key, value in cert.remaining.items():
            items = value if isinstance(value, list) else [value]
            lines.append(f"- {key.replace('_', ' ')}: " + "; ".join(
                ", ".join(f"{k} {x}" for k, x in i.items() if x) if isinstance(i, dict) else str(i) for i in items))
        lines += ["", f"Request status: open (incomplete). {cert.next_step or ''}", ""]
    return "\n".join(lines)


def request_for_certificate(ledger: Ledger, request_id: str) -> Request:
    return get_request(ledger, request_id)
