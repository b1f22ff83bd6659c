"""The typed answers of the reports: Biểu 06, the SLA report, the at-risk list, the
bottleneck reports and the service indicators (see gateways/http/schemas.py for the rules)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from gateways.http.schemas import Cursor, Model

# --- reports ------------------------------------------------------------------------------------


class Received(Model):
    online: int
    direct: int
    postal: int
    carried_over: int
    total: int


class Resolved(Model):
    early: int
    on_time: int
    late: int
    total: int


class InProcess(Model):
    within_due: int
    overdue: int
    total: int


class Freshness(Model):
    view_position: int = Field(description="the last event the view applied")
    lag: int = Field(description="events recorded but not applied to the view yet")


class Bieu06(Freshness):
    """Biểu 06 (Circular 01/2020) of one desk."""

    agency_code: str
    include_children: bool
    scope: Literal["received", "handled"]
    include_imported: bool = Field(
        description="imported legacy history counted too; false (the default): left out of every count"
    )
    from_: str = Field(alias="from", description="a date, or an instant with offset")
    to: str
    period: str | None
    judged_at: datetime | None
    agencies: list[str]
    received: Received
    resolved: Resolved
    in_process: InProcess
    closed_without_result: int
    on_time_rate: float | None = Field(ge=0, le=1)
    components_digitized: int | None = Field(
        default=None,
        description="scope=received: dossiers received whose every required component has a file",
    )


class SlaRow(Model):
    group: str
    received: Received
    resolved: Resolved
    in_process: InProcess
    closed_without_result: int
    on_time_rate: float | None = Field(ge=0, le=1)
    late_attributed: int


class SlaReport(Freshness):
    group_by: Literal["agency", "level", "procedure"]
    scope: Literal["received", "handled"]
    include_imported: bool = Field(
        description="imported legacy history counted too; false (the default): left out of every count"
    )
    agency_code: str | None
    from_: str = Field(alias="from")
    to: str
    period: str | None
    judged_at: datetime | None
    items: list[SlaRow]
    next_cursor: Cursor


class LateStepItem(Model):
    dossier_id: str
    receipt_code: str
    procedure_code: str
    receiving_agency_code: str
    agency_code: str = Field(description="the agency charged: it held the dossier while its step overran")
    level: str = Field(description="that agency's level on the day the step went over budget")
    route_step: int | None
    entered_at: datetime
    step_due_at: datetime | None
    overrun_at: datetime = Field(description="the instant the step went over its budget")
    left_at: datetime | None = Field(description="null: the step is still open at the report's end")
    timeliness: Literal["early", "on_time", "late"] | None
    budget_working_hours: float
    used_working_hours: float = Field(description="up to the report's end while the step is open")
    overrun_working_hours: float = Field(description="used minus budget")


class LateSteps(Freshness):
    """The steps behind `late_attributed` of the SLA report."""

    agency_code: str | None
    include_children: bool
    include_imported: bool
    from_: str = Field(alias="from")
    to: str
    period: str | None
    judged_at: datetime
    agencies: list[str] | None = Field(description="the agencies whose steps count; null: every agency")
    total: int = Field(description="every step over budget in the range; items stop at the limit")
    items: list[LateStepItem]
    next_cursor: Cursor


class AtRiskItem(Model):
    id: str
    receipt_code: str
    procedure_code: str
    receiving_agency_code: str | None
    holder_agency_code: str | None
    pending_handoff_to: str | None
    received_at: datetime | None
    due_at: datetime | None
    promised_at: datetime | None
    paused: Literal["supplement", "fee"] | None = Field(
        description="waiting for the citizen: the clock stops"
    )
    overdue: bool
    remaining_working_hours: float
    step_due_at: datetime | None
    step_remaining_working_hours: float | None


class AtRisk(Freshness):
    agency_code: str | None
    within_hours: float
    now: datetime
    items: list[AtRiskItem]
    next_cursor: Cursor


class Quantiles(Model):
    p50: float | None
    p90: float | None
    p99: float | None


class BottleneckAgency(Model):
    group: str
    agency_code: str
    agency_name: str | None
    wip: int
    in_transit: int
    overdue_wip: int
    arrivals: int
    completions: int
    returns: int
    supplements: int
    consultations: int
    stays: int
    dwell_hours: Quantiles
    mean_dwell_hours: float | None
    mean_dwell_calendar_hours: float | None


class BottleneckEdge(Model):
    group: str
    from_agency_code: str
    to_agency_code: str
    count: int
    returns: int
    transit_hours: Quantiles
    mean_transit_hours: float | None
    mean_transit_calendar_hours: float | None


class BottleneckStep(Model):
    group: str
    procedure_code: str
    route_step: int
    agency_code: str
    stays: int
    dwell_hours: Quantiles
    mean_dwell_hours: float | None


class Bottlenecks(Freshness):
    from_: date = Field(alias="from")
    to: date
    levels_at: date = Field(description="WIP levels are those at the start of this day")
    quantile_relative_error: float
    agencies: list[BottleneckAgency]
    edges: list[BottleneckEdge]
    steps: list[BottleneckStep] | None = Field(default=None, description="with steps=true")


class HeatCell(Model):
    week: str
    week_start: date
    value: float | None
    p90: float | None = None
    count: int | None = None
    wip: int | None = None


class HeatRow(Model):
    group: str
    agency_name: str | None
    cells: list[HeatCell]


class Heatmap(Freshness):
    metric: Literal["dwell", "overdue_wip"]
    from_: date = Field(alias="from")
    to: date
    weeks: list[str]
    rows: list[HeatRow]


class WipPoint(Model):
    period: str
    start: date
    arrivals: int
    completions: int
    wip: int
    in_transit: int
    overdue_wip: int


class Wip(Freshness):
    agency_code: str
    agency_name: str | None
    bucket: Literal["day", "week"]
    from_: date = Field(alias="from")
    to: date
    items: list[WipPoint]


class Stay(Model):
    dossier_id: str
    receipt_code: str | None
    procedure_code: str | None
    route_step: int | None
    agency_code: str
    entered_at: datetime | None
    left_at: datetime | None
    dwell_hours: float | None
    dwell_calendar_hours: float | None


class Transit(Model):
    dossier_id: str
    receipt_code: str | None
    from_agency_code: str
    to_agency_code: str
    handed_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    off_route: bool
    transit_hours: float | None
    transit_calendar_hours: float | None


class BottleneckDossiers(Freshness):
    items: list[Stay] | list[Transit]
    next_cursor: Cursor


# --- service indicators ---------------------------------------------------


class IndicatorValue(Model):
    key: str
    group: str
    title: str
    numerator: int
    denominator: int
    value: float | None = Field(description="numerator / denominator; null when nothing was counted")


class IndicatorRow(Model):
    group: str
    counts: dict[str, int]
    indicators: dict[str, IndicatorValue]


class NotMeasurable(Model):
    group: str
    reason: str


class Indicators(Freshness):
    """Service indicators (Decision 766/QĐ-TTg of 2022)."""

    group_by: Literal["agency", "level"]
    agency_code: str | None
    include_children: bool
    period: str | None
    from_: date = Field(alias="from")
    to: date
    scope: Literal["received"]
    rows: list[IndicatorRow]
    total: IndicatorRow
    not_measurable: list[NotMeasurable]
    composite_score: None
    composite_note: str
