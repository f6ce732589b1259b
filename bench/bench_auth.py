"""Sign-in timing: an unknown name vs a wrong password for a known one (the two must not be told apart),
and the cost the throttle adds to a sign-in on SQLite. Medians over interleaved attempts."""
from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from core.identity.auth import authenticate
from core.config import REPO_ROOT, Settings
from core.errors import AuthError
from core.ledger import Ledger
from core.identity.sign_in import sign_in

ROUNDS = 31


def _ms(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    try:
        fn()
    except AuthError:
        pass
    return (time.perf_counter() - t) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        ledger = Ledger.open(Settings(home=home, policies_dir=REPO_ROOT / "policies", database_url=f"sqlite:///{home / 'ledger.db'}"))
        policy = ledger.policy
        authenticate(policy, "alice", "alice-demo")
        known, unknown, passwordless, throttled = [], [], [], []
        for i in range(ROUNDS):
            known.append(_ms(lambda: authenticate(policy, "bob", "wrong")))
            unknown.append(_ms(lambda: authenticate(policy, "nobody", "wrong")))
            passwordless.append(_ms(lambda: authenticate(policy, "ops", "wrong")))
            # a full sign-in (throttle check, scrypt, counter update, audit records); spaced past any backoff
            throttled.append(_ms(lambda: sign_in(ledger, f"user{i}", "wrong", now=time.time() + i * 1000)))
        med = statistics.median
        print(json.dumps({
            "rounds": ROUNDS, "wrong_password_ms_p50": round(med(known), 2), "unknown_name_ms_p50": round(med(unknown), 2),
            "passwordless_ms_p50": round(med(passwordless), 2), "unknown_over_known_ratio": round(med(unknown) / med(known), 3),
            "failed_sign_in_with_throttle_and_audit_ms_p50": round(med(throttled), 2),
        }))


if __name__ == "__main__":
    main()
