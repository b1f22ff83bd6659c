"""Key material: created once under $LIENTHONG_KEYS_DIR (default $LIENTHONG_DATA_DIR/keys; folder
0700, files 0600), shared by every process. The keys may live apart from the data.

- jwt.key: HS256 secret for API tokens (LIENTHONG_JWT_SECRET overrides)
- pii.key: the master key that wraps each dossier's own data key
- checkpoint.ed25519: the signing key of audit checkpoints
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from gateways.files import private_dir
from gateways.settings import Settings


def _read_or_create(path: Path, make: bytes) -> bytes:
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(make)
    return make


class Keyring:
    def __init__(self, settings: Settings) -> None:
        self._dir = settings.keys_dir
        self._jwt_override = settings.jwt_secret

    @property
    def jwt_secret(self) -> str:
        if self._jwt_override:
            return self._jwt_override
        raw = _read_or_create(self._dir / "jwt.key", secrets.token_urlsafe(48).encode())
        return raw.decode().strip()

    @property
    def pii_master_key(self) -> bytes:
        raw = _read_or_create(self._dir / "pii.key", base64.b64encode(secrets.token_bytes(32)))
        return base64.b64decode(raw)

    @property
    def checkpoint_key(self) -> Ed25519PrivateKey:
        fresh = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        raw = _read_or_create(self._dir / "checkpoint.ed25519", base64.b64encode(fresh))
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw))
