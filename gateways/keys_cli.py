"""`lienthong keys rotate`: new JWT, checkpoint and PII master keys, old ones kept by id for
reading only (gateways/keys.py)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from gateways.bootstrap import bootstrap
from gateways.pii import master_key_id

keys = typer.Typer(help="Key material: rotation.", no_args_is_help=True)
err = Console(stderr=True)


class Kind(StrEnum):
    jwt = "jwt"
    checkpoint = "checkpoint"
    pii = "pii"


@keys.command("rotate")
def rotate(
    only: Annotated[
        list[Kind] | None, typer.Option("--only", help="rotate only these (repeat); default all three")
    ] = None,
) -> None:
    """Make new current keys. Tokens and checkpoints signed with the old keys still verify (until
    the tokens expire); every dossier's data key is re-wrapped under the new PII master key in
    one transaction. Restart running servers so they sign and wrap with the new keys."""
    kinds = list(dict.fromkeys(only or list(Kind)))
    container = bootstrap()
    try:
        keyring = container.keyring
        if Kind.jwt in kinds:
            try:
                old, new = keyring.rotate_jwt()
                err.print(f"jwt: {old} → {new} (tokens signed with {old} verify until they expire)")
            except ValueError as exc:
                err.print(f"[yellow]jwt: not rotated: {exc}[/yellow]")
        if Kind.checkpoint in kinds:
            old, new = keyring.rotate_checkpoint()
            err.print(f"checkpoint: {old} → {new} (the public key of {old} is kept to verify its signatures)")
        if Kind.pii in kinds:
            old_id = container.vault.key_id
            staged = keyring.stage_pii_key()
            count = container.vault.rewrap(staged)
            keyring.promote_pii_key(staged)
            err.print(f"pii: {old_id} → {master_key_id(staged)}: {count} data keys re-wrapped")
    finally:
        container.close()
