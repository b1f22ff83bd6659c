"""A token refused says why in words a client reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from gateways.auth import AuthError, read_token, secret_key_id

SECRET = "test-secret-of-at-least-thirty-two-bytes"


def _token(**claims: object) -> str:
    now = datetime.now(UTC)  # a token's own times: the library checks them against the clock
    body = {"sub": "u1", "iat": int(now.timestamp()), "exp": int((now + timedelta(hours=1)).timestamp())}
    return jwt.encode({**body, **claims}, SECRET, algorithm="HS256", headers={"kid": secret_key_id(SECRET)})


@pytest.mark.parametrize(
    ("role", "says"), [("officer", "an officer token"), ("supervisor", "a supervisor token")]
)
def test_a_token_of_an_agency_role_without_its_agency_says_which(role: str, says: str) -> None:
    with pytest.raises(AuthError, match=f"^{says} must name its agency_code$"):
        read_token(SECRET, _token(role=role))
