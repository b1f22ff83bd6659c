"""What a checkpoint signs, and with which key.

A checkpoint signs, with Ed25519, the ASCII bytes of

    lienthong-audit-checkpoint-v1 LF n LF size LF root LF last_notification_id LF created_at LF

(`root` lower-case hex, `created_at` ISO 8601 in UTC). A leaf is SHA-256(0x00 ||
dossier_id LF seq LF event_hash) and the tree is RFC 6962's (projections/merkle.py),
so anyone holding the public key can check a checkpoint and an inclusion proof alone.
The key id is the first 16 hex digits of SHA-256 over the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from projections.merkle import leaf_hash

MESSAGE_FORMAT = "lienthong-audit-checkpoint-v1\n{n}\n{size}\n{root}\n{last_notification_id}\n{created_at}\n"
LEAF_FORMAT = "SHA-256(0x00 || dossier_id LF seq LF event_hash)"


def checkpoint_message(n: int, size: int, root: str, last_notification_id: int, created_at: str) -> bytes:
    return MESSAGE_FORMAT.format(
        n=n, size=size, root=root, last_notification_id=last_notification_id, created_at=created_at
    ).encode("ascii")


def event_leaf(dossier_id: str, seq: int, event_hash: str) -> bytes:
    return leaf_hash(f"{dossier_id}\n{seq}\n{event_hash}".encode("ascii"))


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public_key(public_key)).hexdigest()[:16]


def trusted_keys(
    public_key: Ed25519PublicKey, retired: Sequence[Ed25519PublicKey] = ()
) -> dict[str, Ed25519PublicKey]:
    """The keys whose signatures a verifier accepts, by key id: this server's and the rotated ones."""
    trusted = {key_id(k): k for k in retired}
    trusted[key_id(public_key)] = public_key
    return trusted


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def sign(private_key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message)).decode("ascii")


def signature_valid(public_key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
