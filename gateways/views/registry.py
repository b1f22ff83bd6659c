"""Every view the service maintains, in one list: the in-process feed, the Kafka projectors
and `lienthong projections` all take their views from here."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from gateways.settings import Settings
from gateways.views.dossier_index import DossierIndexView
from gateways.views.runtime import View
from gateways.views.sla import SlaView


def build_views(settings: Settings) -> list[View]:
    tz = ZoneInfo(settings.timezone)
    return [DossierIndexView(), SlaView(tz)]
