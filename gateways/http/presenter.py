"""Representations the API returns beside the dossier (whose shape the application owns,
`gateways/application/representation.py`): events."""

from __future__ import annotations

from typing import Any

from gateways.eventstore.store import RecordedEvent


def event_json(record: RecordedEvent) -> dict[str, Any]:
    e = record.envelope
    payload = dict(e["payload"])
    if payload.get("applicant"):
        payload["applicant"] = {"sealed": True}  # ciphertext stays in the store
    return {
        "event_id": e["event_id"],
        "seq": e["seq"],
        "type": e["type"],
        "occurred_at": e["occurred_at"],
        "recorded_at": e["recorded_at"],
        "agency_code": e["agency_code"],
        "actor": e["actor"],
        "payload": payload,
        "prev_hash": e["prev_hash"],
        "hash": e["hash"],
        "schema_version": e["schema_version"],
    }
