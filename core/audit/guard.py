"""Permission checks that audit the denial before raising it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from core.audit.events import Denied
from core.policy.engine import Principal, require

if TYPE_CHECKING:
    from core.ledger import Ledger


def require_audited(ledger: "Ledger", principal: Principal, action: str, target: str) -> None:
    if not principal.may(action):
        ledger.audit.append(Denied(actor=principal.name, actor_role=principal.role, action=action, target=target, reason="permission not granted"))
    require(principal, action)
