"""Loading and evaluating the declarative policies: who may do what, and see which chunks.

Default deny everywhere: no group, no clearance, no permission and no redaction rule means nothing
is visible or allowed, and every unnamed PII type is replaced by a placeholder.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from core.policy.actions import ACTIONS
from core.errors import AccessDenied, AuthError, PolicyError
from core.policy.models import (
    OidcMapping,
    PolicyFile,
    PrincipalsFile,
    RedactionFile,
    RedactionProfile,
    Role,
    RolesFile,
    class_rank,
)

POLICY_FILES: dict[str, type[BaseModel]] = {
    "policy.yaml": PolicyFile,
    "roles.yaml": RolesFile,
    "principals.yaml": PrincipalsFile,
    "redaction.yaml": RedactionFile,
}


@dataclass(frozen=True)
class Principal:
    """Who is acting. Every core function that reads or changes governed data takes one."""

    name: str
    display_name: str
    role: str
    groups: tuple[str, ...]
    clearance: str
    permissions: frozenset[str]
    redaction_profile: str

    @property
    def clearance_rank(self) -> int:
        return class_rank(self.clearance)

    def may(self, action: str) -> bool:
        if action not in ACTIONS:
            raise KeyError(f"action {action!r} is not registered in core.policy.actions")
        return action in self.permissions

    def can_see(self, groups: list[str] | tuple[str, ...], classification: str) -> bool:
        """The access rule itself: share at least one group, and hold at least the classification."""
        return bool(set(groups) & set(self.groups)) and class_rank(classification) <= self.clearance_rank


@dataclass(frozen=True)
class Policy:
    version: str
    files: PolicyFile
    roles: dict[str, Role]
    principals: PrincipalsFile
    redaction: RedactionFile
    directory: Path

    @property
    def groups(self) -> list[str]:
        return self.files.groups

    @property
    def golden_set(self) -> Path | None:
        """The configured golden set's file (policy.yaml `evaluation.golden_set`), or None."""
        name = self.files.evaluation.golden_set
        return None if name is None else self.directory / name

    @property
    def oidc(self) -> OidcMapping:
        return self.principals.oidc

    def principal(self, name: str) -> Principal:
        entry = self.principals.principals.get(name)
        if entry is None:
            # Never list the accounts: the error reaches whoever typed the name.
            raise AuthError(f"unknown principal {name!r}", hint="check the name (--user or RAGLEDGER_USER); accounts are defined in policies/principals.yaml")
        return self._resolve(name, entry.display_name, entry.role, entry.groups, entry.clearance)

    def principal_names(self) -> list[str]:
        return sorted(self.principals.principals)

    def principal_from_claims(self, claims: dict) -> Principal:
        """Map OIDC claims (from st.user) to a principal: groups claim -> role through the policy's map."""
        mapping = self.oidc
        name = str(claims.get("email") or claims.get("sub") or "")
        if not name:
            raise AuthError("the identity provider returned no e-mail or subject claim")
        claimed = claims.get(mapping.groups_claim) or []
        if isinstance(claimed, str):
            claimed = [claimed]
        role = next((mapping.role_claim_map[c] for c in claimed if c in mapping.role_claim_map), mapping.default_role)
        if role is None:
            raise AuthError(f"no role is mapped for {name}'s groups", hint="add one to oidc.role_claim_map in principals.yaml")
        groups = [g for g in claimed if g in self.groups]
        clearance = mapping.clearance_by_role.get(role, "public")
        return self._resolve(name, str(claims.get("name") or name), role, groups, clearance)

    def _resolve(self, name: str, display: str, role: str, groups: list[str], clearance: str) -> Principal:
        role_def = self.roles[role]
        return Principal(
            name=name,
            display_name=display,
            role=role,
            groups=tuple(groups),
            clearance=clearance,
            permissions=frozenset(role_def.permissions),
            redaction_profile=role_def.redaction,
        )

    def profile_for(self, principal: Principal) -> RedactionProfile:
        return self.redaction.profiles[principal.redaction_profile]

    def password_hash(self, name: str) -> str | None:
        entry = self.principals.principals.get(name)
        return entry.password_hash if entry else None


def require(principal: Principal, action: str) -> None:
    """Raise AccessDenied unless the principal holds the action. Callers audit the denial first."""
    if not principal.may(action):
        raise AccessDenied(
            f"{principal.name} ({principal.role}) may not '{action}'",
            hint="ask a compliance officer to grant the permission in policies/roles.yaml",
        )


def load_policy(directory: Path, *, relative_to: Path | None = None) -> Policy:
    """Load and cross-validate every policy file; fail at once naming file, field and expectation.
    Relative paths inside them (the golden set) resolve against `relative_to` (default: `directory`)."""
    parsed: dict[str, BaseModel] = {}
    digest = hashlib.sha256()
    for filename, model in POLICY_FILES.items():
        path = directory / filename
        if not path.is_file():
            raise PolicyError(str(path), "(file)", "the file must exist")
        raw = path.read_bytes()
        digest.update(filename.encode() + b"\0" + raw)
        parsed[filename] = _parse(path, raw, model)
    policy_file: PolicyFile = parsed["policy.yaml"]  # type: ignore[assignment]
    roles: RolesFile = parsed["roles.yaml"]  # type: ignore[assignment]
    principals: PrincipalsFile = parsed["principals.yaml"]  # type: ignore[assignment]
    redaction: RedactionFile = parsed["redaction.yaml"]  # type: ignore[assignment]
    _cross_validate(directory, policy_file, roles, principals, redaction, relative_to or directory)
    return Policy(
        version=f"{policy_file.version}+{digest.hexdigest()[:12]}",
        files=policy_file,
        roles=roles.roles,
        principals=principals,
        redaction=redaction,
        directory=directory,
    )


def validate_policy_text(directory: Path, filename: str, text: str) -> Policy:
    """Validate an edited policy file as if it replaced the one on disk; nothing is written."""
    import shutil
    import tempfile

    if filename not in POLICY_FILES:
        raise PolicyError(filename, "(file)", f"one of {', '.join(POLICY_FILES)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in POLICY_FILES:
            shutil.copy(directory / name, Path(tmp) / name)
        (Path(tmp) / filename).write_text(text)
        return load_policy(Path(tmp), relative_to=directory)


def _parse(path: Path, raw: bytes, model: type[BaseModel]) -> BaseModel:
    try:
        data = yaml.safe_load(raw) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(syntax)"
        raise PolicyError(str(path), where, f"valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise PolicyError(str(path), "(top level)", "a mapping of keys to values")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise PolicyError(str(path), field, err["msg"]) from None


def _cross_validate(
    directory: Path, policy: PolicyFile, roles: RolesFile, principals: PrincipalsFile, redaction: RedactionFile, base: Path
) -> None:
    roles_path, principals_path = str(directory / "roles.yaml"), str(directory / "principals.yaml")
    for role_name, role in roles.roles.items():
        for perm in role.permissions:
            if perm not in ACTIONS:
                raise PolicyError(roles_path, f"roles.{role_name}.permissions", f"a registered action, not {perm!r} (known: {', '.join(ACTIONS)})")
        if role.redaction not in redaction.profiles:
            raise PolicyError(roles_path, f"roles.{role_name}.redaction", f"a profile in redaction.yaml, not {role.redaction!r}")
    for name, principal in principals.principals.items():
        if principal.role not in roles.roles:
            raise PolicyError(principals_path, f"principals.{name}.role", f"a role in roles.yaml, not {principal.role!r}")
        for g in principal.groups:
            if g not in policy.groups:
                raise PolicyError(principals_path, f"principals.{name}.groups", f"a group in policy.yaml, not {g!r}")
    for role in policy.routing.budget_by_role:
        if role not in roles.roles:
            raise PolicyError(str(directory / "policy.yaml"), f"routing.budget_by_role.{role}", f"a role in roles.yaml, not {role!r}")
    golden = policy.evaluation.golden_set
    if golden is not None:
        from core.policy.golden_set import EvaluationError, load_golden

        if not (base / golden).is_file():
            raise PolicyError(str(directory / "policy.yaml"), "evaluation.golden_set",
                              f"a golden-set file (relative to {base}), not {golden!r}: no such file")
        try:
            load_golden(base / golden)
        except EvaluationError as exc:
            raise PolicyError(str(directory / "policy.yaml"), "evaluation.golden_set", f"a valid golden set: {exc}") from None
    for claim, role in principals.oidc.role_claim_map.items():
        if role not in roles.roles:
            raise PolicyError(principals_path, f"oidc.role_claim_map.{claim}", f"a role in roles.yaml, not {role!r}")
