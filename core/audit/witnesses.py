"""Witnesses: places outside the database that receive a copy of every signed checkpoint.

A directory witness writes each checkpoint note as its own file (a folder on another volume, a
mounted share, a folder a backup job ships away); `ragledger audit verify` reads them back. A syslog
witness sends each checkpoint to syslog (a local daemon or a remote collector over UDP), where a
SIEM keeps it; it cannot be read back, so it protects by being elsewhere. Kinds are registered in
`WITNESSES` through `register()`, the built-ins included. An S3 witness (core/audit/s3_witness.py) puts
each checkpoint into a bucket as its own object and reads them back for verify; it is tested
against a real S3 endpoint (moto's standalone server).
"""
from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from core.policy.models import Witness as WitnessSpec
from core.audit.signed_note import Checkpoint, parse_checkpoint
from core.audit.s3_witness import factory as s3_factory


class Witness(Protocol):
    name: str

    def publish(self, cp: Checkpoint) -> None: ...

    def read(self) -> list[Checkpoint]: ...


WitnessFactory = Callable[[WitnessSpec, Path], Witness]
WITNESSES: dict[str, WitnessFactory] = {}


def register(kind: str, factory: WitnessFactory) -> None:
    WITNESSES[kind] = factory


class DirectoryWitness:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"directory {path}"

    def publish(self, cp: Checkpoint) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        final = self.path / f"checkpoint-{cp.size:012d}-{cp.root.hex()[:16]}-{cp.time.replace(':', '')}.txt"
        tmp = final.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(cp.note)
        os.replace(tmp, final)  # a reader never sees half a note

    def read(self) -> list[Checkpoint]:
        if not self.path.is_dir():
            return []
        return [parse_checkpoint(p.read_text(), source=f"witness {p}") for p in sorted(self.path.glob("checkpoint-*.txt"))]


class SyslogWitness:
    """RFC 3164 syslog, one datagram per checkpoint: `<37>ragledger: ragledger-checkpoint {"note": ...}`
    (facility auth, severity notice), to /dev/log or to a collector at host:port over UDP."""

    PRIORITY = 4 * 8 + 5

    def __init__(self, address: str) -> None:
        self.name = f"syslog {address}"
        self.address = address

    def publish(self, cp: Checkpoint) -> None:
        message = f"<{self.PRIORITY}>ragledger: ragledger-checkpoint {json.dumps({'note': cp.note})}".encode()
        if self.address.startswith("/"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.send(message)
        else:
            host, port = self.address.rsplit(":", 1)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(message, (host, int(port)))

    def read(self) -> list[Checkpoint]:
        return []


register("directory", lambda spec, home: DirectoryWitness(Path(spec.path or "") if Path(spec.path or "").is_absolute() else home / (spec.path or "")))
register("syslog", lambda spec, home: SyslogWitness(spec.address or "/dev/log"))
register("s3", s3_factory)


def make_witnesses(specs: list[WitnessSpec], home: Path) -> list[Witness]:
    return [WITNESSES[s.kind](s, home) for s in specs]
