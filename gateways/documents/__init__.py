"""Printed forms of the one-stop desk (issue 13, item 1): the receipt and appointment slip, the
supplement request, the refusal slip, the apology letter, the control sheet and the desk's
register, each as print-ready HTML and as PDF.

The callers (HTTP, CLI) authorize first; this package reads the dossier's events, opens the
applicant through the PII vault (a logged access) and renders.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from domain import events as ev
from domain.errors import InvalidValue
from gateways.application.service import Loaded
from gateways.documents import forms
from gateways.documents.facts import DocumentError, Reader, check_secret, gather, sealed_applicant
from gateways.documents.forms import KINDS, Lookup
from gateways.documents.pdf import to_pdf
from gateways.interchange.selection import is_date, parse_bound

if TYPE_CHECKING:
    from gateways.bootstrap import Container

Format = Literal["pdf", "html"]
MEDIA_TYPES: dict[str, str] = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}
REGISTER_LIMIT = 5000

__all__ = [
    "KINDS",
    "MEDIA_TYPES",
    "DocumentError",
    "Format",
    "Printed",
    "Reader",
    "lookup_url",
    "print_dossier",
    "print_register",
]


@dataclass(frozen=True)
class Printed:
    body: bytes
    media_type: str
    filename: str


def lookup_url(base_url: str, receipt_code: str) -> str:
    """The dashboard's citizen lookup page with the receipt code filled in (never the secret)."""
    return f"{base_url.rstrip('/')}/#/lookup?code={quote(receipt_code, safe='')}"


# The event a form is made from, and what to say when the dossier has none.
_MADE_FROM: dict[str, tuple[type[ev.DossierEvent], str]] = {
    "receipt": (ev.DossierReceived, "it has not been received at a desk"),
    "control-sheet": (ev.DossierReceived, "it has not been received at a desk"),
    "supplement": (ev.SupplementRequested, "no supplement was requested"),
    "refusal": (ev.DossierRefusedAtIntake, "it was not refused"),
    "apology": (ev.ApologyIssued, "no apology was issued"),
}


def _check_applies(kind: str, receipt_code: str, loaded: Loaded) -> None:
    """Before the applicant is opened: a 404 must not leave a PII access behind."""
    made_from, why = _MADE_FROM[kind]
    if not any(isinstance(r.to_domain(), made_from) for r in loaded.records):
        raise DocumentError(
            404, "No such document", f"dossier {receipt_code} has no {kind} form: {why}", "no-document"
        )


def _agency(container: Container, code: str) -> tuple[str, str]:
    hierarchy = container.catalogue.hierarchy
    agency = hierarchy.latest(code)
    parent = hierarchy.latest(agency.parent_code) if agency and agency.parent_code else None
    return (agency.name if agency else code), (parent.name if parent else "")


def _finish(html: str, fmt: Format, name: str) -> Printed:
    if fmt == "html":
        return Printed(html.encode("utf-8"), MEDIA_TYPES["html"], name + ".html")
    return Printed(to_pdf(html), MEDIA_TYPES["pdf"], name + ".pdf")


def print_dossier(
    container: Container,
    reader: Reader,
    dossier_id: str,
    kind: str,
    fmt: Format = "pdf",
    *,
    base_url: str,
    secret: str | None = None,
    loaded: Loaded | None = None,
) -> Printed:
    """`loaded`: the dossier as the caller already loaded it to authorize the read."""
    if kind not in KINDS:
        raise DocumentError(
            422, "Unknown document", f"kind must be one of {', '.join(KINDS)}, not {kind!r}", "invalid-value"
        )
    if loaded is None:
        loaded = container.service.load(dossier_id)
    state = loaded.state
    if state is None:
        raise DocumentError(404, "Unknown dossier", f"no dossier {dossier_id}", "unknown-dossier")
    _check_applies(kind, state.receipt_code, loaded)
    if kind == "receipt" and state.imported:
        # Imported history had no applicant and has no lookup secret: a slip would name an
        # erased applicant and send a citizen to a lookup that cannot answer.
        raise DocumentError(
            404,
            "No such document",
            f"dossier {state.receipt_code} has no receipt form: it was imported from a legacy log, "
            "with no applicant and no lookup secret",
            "no-document",
        )
    secret = check_secret(state, secret) if kind == "receipt" else None
    now = container.service.now()
    f = gather(loaded, container.catalogue, container.vault, reader, f"print:{kind}", now)
    tz = container.calendar.tz
    match kind:
        case "receipt":
            lookup = Lookup(lookup_url(base_url, f.receipt_code), secret)
            html = forms.receipt(f, tz, lookup, state.deadline_working_hours)
        case "supplement":
            assert f.supplement is not None
            name, parent = _agency(container, f.supplement.officer.agency_code)
            html = forms.supplement(f, tz, f.supplement, name, parent)
        case "refusal":
            assert f.refusal is not None
            html = forms.refusal(f, tz, f.refusal)
        case "apology":
            assert f.apology is not None
            name, parent = _agency(container, f.apology.officer.agency_code)
            html = forms.apology(f, tz, f.apology, name, parent)
        case _:
            html = forms.control_sheet(f, tz, now)
    return _finish(html, fmt, f"{kind}-{f.receipt_code}")


def _rows_received(container: Container, agency_code: str, start: datetime, end: datetime) -> Iterator[str]:
    after: str | None = None
    while True:
        batch = container.index.search(["receiving_agency_code = ?"], [agency_code], 1000, after)
        for row in batch:
            if row.received_at is not None and start <= row.received_at < end:
                yield row.dossier_id
        if len(batch) < 1000:
            return
        after = batch[-1].dossier_id


def register_span(first: str, last: str, tz: tzinfo) -> tuple[datetime, datetime]:
    """The register's [start, end) from `from` and `to` as a desk writes them: a date is the
    whole local day (`to` included: 2026-11-01 to 2026-11-18 is eighteen days), an instant is
    itself (`to` excluded) and one without offset is local time. Raises `InvalidValue`."""
    start = parse_bound(first, tz, end=False, name="from")
    end = parse_bound(last, tz, end=True, name="to")
    if start is None or end is None:
        raise InvalidValue("the register needs both from and to")
    if is_date(last):
        end += timedelta(microseconds=1)  # the day after `to`, at midnight
    return start, end


def print_register(
    container: Container,
    reader: Reader,
    agency_code: str,
    start: datetime,
    end: datetime,
    fmt: Format = "pdf",
) -> Printed:
    """Sổ theo dõi hồ sơ: the dossiers received at the agency's desk in [start, end)."""
    if container.catalogue.hierarchy.latest(agency_code) is None:
        raise DocumentError(404, "Unknown agency", f"no agency {agency_code}", "unknown-agency")
    if end <= start:
        raise DocumentError(422, "Invalid period", "`to` must be after `from`", "invalid-value")
    now = container.service.now()
    tz = container.calendar.tz
    ids = list(_rows_received(container, agency_code, start, end))
    if len(ids) > REGISTER_LIMIT:
        raise DocumentError(
            422, "Period too long", f"{len(ids)} dossiers; print at most {REGISTER_LIMIT}", "too-many"
        )
    rows: list[forms.RegisterRow] = []
    for dossier_id in ids:
        loaded = container.service.load(dossier_id)
        state = loaded.state
        if state is None:  # pragma: no cover - indexed, so it has events
            continue
        sealed = sealed_applicant(loaded.records)
        applicant = (
            container.vault.open(
                dossier_id, sealed, subject=reader.subject, role=reader.role, purpose="print:register", at=now
            )
            if sealed
            else None
        ) or {}
        contact = ", ".join(str(applicant[k]) for k in ("address", "phone") if applicant.get(k))
        rows.append(
            forms.RegisterRow(
                receipt_code=state.receipt_code,
                procedure_name=state.procedure_name or state.procedure_code,
                applicant_name=str(applicant.get("name") or "(đã xóa)"),
                applicant_contact=contact,
                holder_agency_name=_agency(container, state.holder_agency_code)[0],
                received_at=state.received_at,
                due_at=state.due_at,
                promised_at=state.promised_at,
                resolved_at=state.resolved_at,
                closed_at=state.closed_at,
                status=state.status.value,
                timeliness=state.timeliness.value if state.timeliness else None,
            )
        )
    rows.sort(key=lambda r: (r.received_at or start, r.receipt_code))
    name, parent = _agency(container, agency_code)
    html = forms.register(name, parent, start, end, rows, tz, now)
    return _finish(html, fmt, f"register-{agency_code}-{start.astimezone(tz):%Y%m%d}")
