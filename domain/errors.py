"""Typed domain errors. Gateways map each kind once (HTTP problem+json, CLI exit code)."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule said no. Never a crash: the caller gets a clear answer."""

    title = "Domain rule violated"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class RuleViolated(DomainError):
    """The command is well-formed but the dossier's state does not allow it (HTTP 409)."""

    title = "Dossier state does not allow this"


class InvalidValue(DomainError):
    """A value in the command makes no sense for the domain (HTTP 422)."""

    title = "Invalid value"


class ActorNotAllowed(DomainError):
    """The acting agency or role may not do this to this dossier (HTTP 403)."""

    title = "Not allowed for this actor"


class UnknownDossier(DomainError):
    """A command names a dossier that has no history (HTTP 404)."""

    title = "Unknown dossier"
