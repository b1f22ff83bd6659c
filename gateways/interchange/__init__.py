"""Interchange: dossier history out as XES, OCEL 2.0 and CSV; legacy XES logs in as imported history."""
