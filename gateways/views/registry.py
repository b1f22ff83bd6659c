"""Every view the service maintains, in one list: the in-process feed, the Kafka projectors
and `lienthong projections` all take their views from here."""

from __future__ import annotations

from domain.calendar import WorkingCalendar
from gateways.views.bottleneck import BottleneckView
from gateways.views.dossier_index import DossierIndexView
from gateways.views.indicators import IndicatorsView
from gateways.views.runtime import View
from gateways.views.sla import SlaView


def build_views(calendar: WorkingCalendar) -> list[View]:
    return [DossierIndexView(), SlaView(calendar.tz), BottleneckView(calendar), IndicatorsView(calendar.tz)]
