"""Policies load, validate at load naming file and field, and evaluate default-deny."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.config import REPO_ROOT
from core.errors import AccessDenied, AuthError, PolicyError
from core.policy.engine import load_policy, require, validate_policy_text

POLICIES = REPO_ROOT / "policies"


@pytest.fixture(scope="module")
def policy():  # type: ignore[no-untyped-def]
    return load_policy(POLICIES)


def test_demo_policy_loads_with_a_versioned_digest(policy) -> None:  # type: ignore[no-untyped-def]
    assert policy.version.startswith("2026-11-23.1+")
    assert set(policy.principal_names()) >= {"alice", "bob", "carol", "dave"}


@pytest.mark.parametrize(
    "name,groups,clearance,role",
    [
        ("alice", {"all-staff", "hr", "finance", "engineering", "support", "legal", "compliance"}, "restricted", "compliance_officer"),
        ("bob", {"hr", "all-staff"}, "confidential", "hr_manager"),
        ("carol", {"all-staff"}, "internal", "employee"),
        ("dave", {"engineering"}, "internal", "ml_engineer"),
    ],
)
def test_demo_principals_match_the_design(policy, name, groups, clearance, role) -> None:  # type: ignore[no-untyped-def]
    p = policy.principal(name)
    assert (set(p.groups), p.clearance, p.role) == (groups, clearance, role)


@pytest.mark.parametrize(
    "who,groups,level,visible",
    [
        ("bob", ["hr"], "confidential", True),
        ("bob", ["hr"], "restricted", False),
        ("bob", ["finance"], "public", False),
        ("carol", ["all-staff"], "internal", True),
        ("carol", ["all-staff"], "confidential", False),
        ("carol", ["hr", "all-staff"], "internal", True),
        ("dave", ["all-staff"], "public", False),
        ("alice", ["legal"], "restricted", True),
        ("carol", [], "public", False),
    ],
)
def test_access_rule_needs_a_shared_group_and_enough_clearance(policy, who, groups, level, visible) -> None:  # type: ignore[no-untyped-def]
    assert policy.principal(who).can_see(groups, level) is visible


@pytest.mark.parametrize(
    "who,entity,operator",
    [
        ("bob", "PERSON", "keep"),
        ("bob", "US_SSN", "placeholder"),
        ("bob", "CREDIT_CARD", "placeholder"),
        ("bob", "IBAN_CODE", "placeholder"),
        ("carol", "PERSON", "pseudonym"),
        ("carol", "EMAIL_ADDRESS", "placeholder"),
        ("carol", "SOME_FUTURE_TYPE", "placeholder"),
        ("alice", "PERSON", "keep"),
        ("alice", "CREDIT_CARD", "mask"),
        ("dave", "IP_ADDRESS", "hash"),
    ],
)
def test_redaction_profiles_per_role(policy, who, entity, operator) -> None:  # type: ignore[no-untyped-def]
    assert policy.profile_for(policy.principal(who)).rule_for(entity).operator == operator


def test_permissions_default_deny(policy) -> None:  # type: ignore[no-untyped-def]
    carol = policy.principal("carol")
    assert carol.may("ask") and not carol.may("audit.read")
    with pytest.raises(AccessDenied, match="may not 'audit.read'"):
        require(carol, "audit.read")
    with pytest.raises(KeyError):
        carol.may("not.an.action")


def test_unknown_principal_lists_no_accounts(policy) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AuthError, match="unknown principal 'mallory'") as err:
        policy.principal("mallory")
    assert not any(name in str(err.value) for name in policy.principal_names()), "the accounts are not disclosed"


BROKEN = [
    ("policy.yaml", "version: [unclosed\n", "line"),
    ("policy.yaml", "groups: [hr]\nanalyzed_entities: [PERSON]\n", "version"),
    ("policy.yaml", "version: x\ngroups: [HR Team]\nanalyzed_entities: []\n", "groups"),
    ("policy.yaml", "version: x\ngroups: [hr]\nanalyzed_entities: []\nabstention: {min_overlap: 1.5}\n", "abstention.min_overlap"),
    ("policy.yaml", "version: x\ngroups: [hr]\nanalyzed_entities: []\nabstention: {min_similarty: 0.3}\n", "abstention.min_similarty"),
    ("roles.yaml", "roles:\n  r:\n    permissions: [ask, fly]\n    redaction: strict\n", "roles.r.permissions"),
    ("roles.yaml", "roles:\n  r:\n    permissions: [ask]\n    redaction: nonexistent\n", "roles.r.redaction"),
    ("roles.yaml", "roles:\n  r:\n    permissions: [ask]\n", "roles.r.redaction"),
    ("principals.yaml", "principals:\n  x:\n    display_name: X\n    role: employee\n    clearance: top-secret\n", "principals.x.clearance"),
    ("principals.yaml", "principals:\n  x:\n    display_name: X\n    role: employee\n    groups: [moon]\n", "principals.x.groups"),
    ("principals.yaml", "principals:\n  x:\n    display_name: X\n    role: janitor\n", "principals.x.role"),
    ("redaction.yaml", "profiles:\n  strict:\n    default: {operator: shred}\n", "profiles.strict.default.operator"),
    ("redaction.yaml", "profiles: {}\nrecognizers:\n  - entity: X\n    patterns: [{name: a, regex: '([unclosed'}]\n", "recognizers.0.patterns.0.regex"),
    ("redaction.yaml", "profiles: {}\nunexpected: 1\n", "unexpected"),
]


@pytest.mark.parametrize("filename,text,field", BROKEN)
def test_broken_policy_fails_at_load_naming_file_and_field(tmp_path: Path, filename: str, text: str, field: str) -> None:
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    (copy / filename).write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(copy)
    assert info.value.file.endswith(filename)
    assert field in info.value.field


def test_validate_edited_text_never_touches_the_files(tmp_path: Path) -> None:
    before = (POLICIES / "roles.yaml").read_text()
    with pytest.raises(PolicyError):
        validate_policy_text(POLICIES, "roles.yaml", "roles: {x: {permissions: [fly], redaction: strict}}")
    assert (POLICIES / "roles.yaml").read_text() == before
    ok = validate_policy_text(POLICIES, "roles.yaml", before.replace("[ask]", "[ask, documents.read]"))
    assert ok.principal("carol").may("documents.read")


def test_oidc_claims_map_to_roles(policy) -> None:  # type: ignore[no-untyped-def]
    p = policy.principal_from_claims({"email": "erin@example.com", "groups": ["ragledger-hr", "hr"]})
    assert (p.role, p.groups, p.clearance) == ("hr_manager", ("hr",), "confidential")
    default = policy.principal_from_claims({"sub": "u1", "groups": []})
    assert default.role == "employee" and default.groups == ()
