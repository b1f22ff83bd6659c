"""Every view the service maintains, in one list: the in-process feed, the Kafka projectors
and `lienthong projections` all take their views from here."""

from __future__ import annotations

from gateways.views.dossier_index import DossierIndexView
from gateways.views.runtime import View


def build_views() -> list[View]:
    return [DossierIndexView()]
