"""Key material: created once under $LIENTHONG_KEYS_DIR (default $LIENTHONG_DATA_DIR/keys; folder
0700, files 0600), shared by every process. The keys may live apart from the data.

- jwt.key: HS256 secret for API tokens (LIENTHONG_JWT_SECRET overrides)
- pii.key: the master key that wraps each dossier's own data key
- pii-index.key: the key of the blind index of ID numbers (HMAC-SHA-256)
- checkpoint.ed25519: the signing key of audit checkpoints

Every key has an id (16 hex digits of a SHA-256 over it, or over the public key).
`lienthong keys rotate` makes new current keys and keeps the old ones, named by id, for
reading only: `jwt.<id>.key` (tokens signed before still verify until they expire),
`pii.<id>.key` (for processes still wrapping with it until they restart; every stored data
key is re-wrapped under the new key) and `checkpoint.<id>.pub` (checkpoints signed before
still verify; the private half is destroyed).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from gateways.files import private_dir
from gateways.settings import Settings


class DamagedKey(ValueError):
    """A key file that does not hold what it must (truncated, edited, another file copied over)."""


def _key_bytes(path: Path, raw: bytes) -> bytes:
    """The 32 key bytes a key file holds in base64, or `DamagedKey` naming the file."""
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise DamagedKey(
            f"the key file {path} is damaged (not the base64 of a 32-byte key): put it back from the "
            "backup `lienthong backup` made (its keys/ folder); without it what the key protects "
            "cannot be read or verified"
        )
    return key


def _read_or_create(path: Path, make: bytes) -> bytes:
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as handle:
        handle.write(make)
    return make


def _write_new(path: Path, data: bytes) -> None:
    """Write `data` to `path` (0600) through a side file renamed into place."""
    private_dir(path.parent)
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(part, path)


def secret_id(material: bytes) -> str:
    return hashlib.sha256(material).hexdigest()[:16]


def _public_id(public_key: Ed25519PublicKey) -> str:
    return secret_id(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))


class Keyring:
    def __init__(self, settings: Settings) -> None:
        self._dir = settings.keys_dir
        self._jwt_override = settings.jwt_secret
        self._retired_jwt: tuple[int, list[str]] = (-1, [])

    @property
    def directory(self) -> Path:
        return self._dir

    # -- API tokens ---------------------------------------------------------------------------
    @property
    def jwt_secret(self) -> str:
        """The secret new tokens are signed with."""
        if self._jwt_override:
            return self._jwt_override
        raw = _read_or_create(self._dir / "jwt.key", secrets.token_urlsafe(48).encode())
        return raw.decode().strip()

    @property
    def jwt_secrets(self) -> list[str]:
        """Every secret a token may be signed with: the current one first, then retired ones."""
        if self._jwt_override:
            return [self._jwt_override]
        current = self.jwt_secret
        # Read on every request: re-list retired secrets only when the folder changed.
        stamp = self._dir.stat().st_mtime_ns
        if stamp != self._retired_jwt[0]:
            retired = [p.read_text().strip() for p in sorted(self._dir.glob("jwt.*.key"))]
            self._retired_jwt = (stamp, retired)
        return [current, *self._retired_jwt[1]]

    # -- PII ----------------------------------------------------------------------------------
    @property
    def pii_master_key(self) -> bytes:
        return self._random_key("pii.key")

    @property
    def pii_retired_keys(self) -> dict[str, bytes]:
        """Retired master keys by id (stored data keys may still be wrapped by one of them)."""
        keys = {}
        for path in sorted(self._dir.glob("pii.*.key")):
            key = _key_bytes(path, path.read_bytes())
            keys[secret_id(key)] = key
        return keys

    def pii_all_keys(self) -> dict[str, bytes]:
        """Every master key on disk by id, the current one included (read again after a rotation
        by processes that started before it)."""
        current = self.pii_master_key
        return {**self.pii_retired_keys, secret_id(current): current}

    @property
    def pii_index_key(self) -> bytes:
        return self._random_key("pii-index.key")

    def _random_key(self, name: str) -> bytes:
        """The 32 random bytes the key file `name` holds, made on first use."""
        path = self._dir / name
        return _key_bytes(path, _read_or_create(path, base64.b64encode(secrets.token_bytes(32))))

    # -- audit checkpoints -----------------------------------------------------------------------
    @property
    def checkpoint_key(self) -> Ed25519PrivateKey:
        fresh = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        path = self._dir / "checkpoint.ed25519"
        raw = _read_or_create(path, base64.b64encode(fresh))
        return Ed25519PrivateKey.from_private_bytes(_key_bytes(path, raw))

    @property
    def checkpoint_retired_keys(self) -> list[Ed25519PublicKey]:
        return [
            Ed25519PublicKey.from_public_bytes(_key_bytes(p, p.read_bytes()))
            for p in sorted(self._dir.glob("checkpoint.*.pub"))
        ]

    # -- rotation -------------------------------------------------------------------------------
    def rotate_jwt(self) -> tuple[str, str]:
        """A new token secret; the old one verifies tokens until they expire. (old id, new id)"""
        if self._jwt_override:
            raise ValueError("the JWT secret comes from LIENTHONG_JWT_SECRET: change it there")
        old = self.jwt_secret
        _write_new(self._dir / f"jwt.{secret_id(old.encode())}.key", old.encode())
        new = secrets.token_urlsafe(48)
        _write_new(self._dir / "jwt.key", new.encode())
        return secret_id(old.encode()), secret_id(new.encode())

    def rotate_checkpoint(self) -> tuple[str, str]:
        """A new signing key; the old public key is kept to verify what it signed. (old id, new id)"""
        old = self.checkpoint_key.public_key()
        _write_new(
            self._dir / f"checkpoint.{_public_id(old)}.pub",
            base64.b64encode(old.public_bytes(Encoding.Raw, PublicFormat.Raw)),
        )
        fresh = Ed25519PrivateKey.generate()
        raw = fresh.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        _write_new(self._dir / "checkpoint.ed25519", base64.b64encode(raw))
        return _public_id(old), _public_id(fresh.public_key())

    def stage_pii_key(self) -> bytes:
        """A new master key, kept as `pii.<id>.key` (readable by every process) until it is made
        current, once every data key has been re-wrapped under it."""
        key = secrets.token_bytes(32)
        _write_new(self._dir / f"pii.{secret_id(key)}.key", base64.b64encode(key))
        return key

    def promote_pii_key(self, key: bytes) -> None:
        """Make `key` (staged) the current master key; the old one is kept as retired."""
        old = self.pii_master_key
        _write_new(self._dir / f"pii.{secret_id(old)}.key", base64.b64encode(old))
        staged = self._dir / f"pii.{secret_id(key)}.key"
        os.replace(staged, self._dir / "pii.key")
