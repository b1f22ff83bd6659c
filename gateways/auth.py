"""API tokens: HS256 JWT with claims sub, role, agency_code."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

ROLES = ("officer", "supervisor", "inspector", "integration", "admin")
AGENCY_ROLES = ("officer", "supervisor")


class AuthError(Exception):
    """Missing or invalid credentials (HTTP 401)."""


class TokenExpired(AuthError):
    """A token whose signature holds but whose `exp` has passed."""


@dataclass(frozen=True)
class Principal:
    sub: str
    role: str
    agency_code: str | None


def issue_token(
    secret: str, *, role: str, sub: str, agency_code: str | None, now: datetime, ttl: timedelta
) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role '{role}' (one of {', '.join(ROLES)})")
    if role in AGENCY_ROLES and not agency_code:
        raise ValueError(f"role '{role}' needs an agency code")
    claims: dict[str, object] = {
        "sub": sub,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if agency_code and role in AGENCY_ROLES:
        claims["agency_code"] = agency_code
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": secret_key_id(secret)})


def secret_key_id(secret: str) -> str:
    """The id a token's `kid` header names its signing secret by (not the secret)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _secret_for(secrets: Sequence[str], token: str) -> str:
    """The secret the token names (the current one for tokens without a key id)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    for secret in secrets:
        if kid is None or secret_key_id(secret) == kid:
            return secret
    raise AuthError("invalid token: signed with an unknown key")


def read_token(secret: str | Sequence[str], token: str, *, expired_ok: bool = False) -> Principal:
    """`secret`: the current secret, or the current one then retired ones (after a rotation).
    `expired_ok`: the principal of a token signed by us whatever its `exp` (only to replay what
    that principal was answered while the token was valid)."""
    key = _secret_for([secret] if isinstance(secret, str) else secret, token)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            options={"require": ["sub", "exp"], "verify_exp": not expired_ok},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("the token has expired") from exc
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    role = claims.get("role")
    if role not in ROLES:
        raise AuthError(f"the token's role '{role}' is not one of {', '.join(ROLES)}")
    agency = claims.get("agency_code")
    if role in AGENCY_ROLES and not agency:
        article = "an" if role[0] in "aeiou" else "a"
        raise AuthError(f"{article} {role} token must name its agency_code")
    return Principal(sub=str(claims["sub"]), role=str(role), agency_code=agency if agency else None)
