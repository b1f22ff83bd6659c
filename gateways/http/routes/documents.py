"""Printed forms: `GET /api/v1/dossiers/{id}/documents/{kind}` (authorized like dossier reads) and
the desk's register `GET /api/v1/agencies/{code}/documents/register?from=&to=`.

PDF by default; `Accept: text/html` (or `?format=html`) gives the same form as print-ready HTML.
The receipt prints the lookup secret only when the caller sends it in `X-Lookup-Secret` (the
secret is known once, at creation) and it matches the dossier's; otherwise the slip says where
the secret is. Decisions: docs/decisions.md, "Printed forms".
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response

from gateways.auth import Principal
from gateways.bootstrap import Container
from gateways.documents import DocumentError, Printed, Reader, print_dossier, print_register, register_span
from gateways.http.deps import ContainerDep, PrincipalDep
from gateways.http.problems import Problem
from gateways.http.responses import content_disposition
from gateways.http.routes.reads import _may_read

router = APIRouter(prefix="/api/v1", tags=["documents"])

Kind = Literal["receipt", "supplement", "refusal", "apology", "control-sheet"]
FormatParam = Annotated[
    Literal["pdf", "html"] | None, Query(alias="format", description="overrides Accept: pdf or html")
]
AcceptHeader = Annotated[str | None, Header(alias="Accept")]
_PDF = {
    "description": "the form as PDF (default) or print-ready HTML",
    "content": {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        "text/html": {"schema": {"type": "string"}},
    },
}


def _format(explicit: str | None, accept: str | None) -> Literal["pdf", "html"]:
    if explicit in ("pdf", "html"):
        return "html" if explicit == "html" else "pdf"
    text = (accept or "").lower()
    if "text/html" in text and "application/pdf" not in text:
        return "html"
    return "pdf"


def _reader(principal: Principal) -> Reader:
    return Reader(subject=principal.sub, role=principal.role)


def _answer(printed: Printed) -> Response:
    return Response(
        printed.body,
        media_type=printed.media_type,
        headers={
            "Content-Disposition": content_disposition("inline", printed.filename),
            "Cache-Control": "no-store",  # personal data
            "Vary": "Accept",
        },
    )


def _problem(exc: DocumentError) -> Problem:
    return Problem(exc.status, exc.title, exc.detail, exc.kind)


@router.get("/dossiers/{dossier_id}/documents/{kind}", responses={200: _PDF}, response_class=Response)
def get_document(
    dossier_id: str,
    kind: Kind,
    request: Request,
    principal: PrincipalDep,
    container: ContainerDep,
    format_: FormatParam = None,
    accept: AcceptHeader = None,
    secret: Annotated[str | None, Header(alias="X-Lookup-Secret", max_length=200)] = None,
) -> Response:
    """A printed form of the dossier (Vietnamese, national heading): `receipt` (giấy tiếp nhận
    hồ sơ và hẹn trả kết quả), `supplement`, `refusal`, `apology`, `control-sheet`; 404 when the
    dossier has no such form (e.g. `apology` when none was issued)."""
    loaded = container.service.load(dossier_id)
    if loaded.state is None:
        raise Problem(404, "Unknown dossier", f"no dossier {dossier_id}", "unknown-dossier")
    _may_read(container, principal, loaded.state)
    try:
        printed = print_dossier(
            container,
            _reader(principal),
            dossier_id,
            kind,
            _format(format_, accept),
            base_url=container.settings.public_url or str(request.base_url),
            secret=secret,
            loaded=loaded,
        )
    except DocumentError as exc:
        raise _problem(exc) from exc
    return _answer(printed)


def _may_read_agency(container: Container, principal: Principal, agency_code: str) -> None:
    if principal.role in ("inspector", "admin"):
        return
    own = principal.agency_code or ""
    if principal.role == "officer" and own == agency_code:
        return
    if principal.role == "supervisor" and agency_code in container.catalogue.hierarchy.subtree_ever(own):
        return
    raise Problem(403, "Forbidden", f"agency {own} may not read the register of {agency_code}", "forbidden")


@router.get("/agencies/{agency_code}/documents/register", responses={200: _PDF}, response_class=Response)
def get_register(
    agency_code: str,
    principal: PrincipalDep,
    container: ContainerDep,
    from_: Annotated[
        str, Query(alias="from", max_length=40, description="a date (its whole local day) or an instant")
    ],
    to: Annotated[str, Query(max_length=40, description="a date (included) or an instant (excluded)")],
    format_: FormatParam = None,
    accept: AcceptHeader = None,
) -> Response:
    """Sổ theo dõi hồ sơ: the dossiers received at the agency's desk from `from` to `to`."""
    _may_read_agency(container, principal, agency_code)
    start, end = register_span(from_, to, container.calendar.tz)
    try:
        printed = print_register(
            container, _reader(principal), agency_code, start, end, _format(format_, accept)
        )
    except DocumentError as exc:
        raise _problem(exc) from exc
    return _answer(printed)
