"""Erasure of a person's data (admin): `POST /api/v1/privacy/forget`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from gateways.application.commands import Body
from gateways.application.privacy import forget as forget_person
from gateways.http import schemas
from gateways.http.deps import ContainerDep, PrincipalDep
from gateways.http.schemas import answers

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])


class ForgetIn(Body):
    id_number: str | None = Field(default=None, min_length=1, max_length=40)
    dossier_id: str | None = Field(default=None, min_length=1, max_length=100)


@router.post("/forget", **answers(schemas.Forgotten))
def forget(body: ForgetIn, principal: PrincipalDep, container: ContainerDep) -> dict[str, Any]:
    """Destroy the data keys of one dossier or of every dossier of one ID number (admin).
    Statistics and the audit trail are unchanged; the erasure itself is recorded."""
    result = forget_person(
        container.vault,
        container.store,
        role=principal.role,
        subject=principal.sub,
        at=container.clock(),
        id_number=body.id_number,
        dossier_id=body.dossier_id,
        files=container.attachments,
    )
    return result.as_json()
