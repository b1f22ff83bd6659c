"""Benchmark results: a ratio against a baseline measured in the same run, printed and saved
as var/bench/NAME.json (BENCHMARKS.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table


@dataclass
class BenchResult:
    name: str
    value: float
    unit: str
    baseline: float | None
    target_ratio: float | None
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    # An absolute ceiling for benchmarks without a baseline (latency, memory growth).
    target_max: float | None = None

    @property
    def ratio(self) -> float | None:
        return round(self.value / self.baseline, 4) if self.baseline else None

    @property
    def met(self) -> bool | None:
        checks = []
        if self.target_ratio is not None and self.ratio is not None:
            checks.append(self.ratio >= self.target_ratio)
        if self.target_max is not None:
            checks.append(self.value <= self.target_max)
        return all(checks) if checks else None

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["ratio"] = self.ratio
        body["target_met"] = self.met
        return body

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.json"
        path.write_bytes(orjson.dumps(self.as_json(), option=orjson.OPT_INDENT_2))
        return path

    def print(self, console: Console) -> None:
        table = Table(title=f"bench {self.name}")
        for column in ("measure", "value"):
            table.add_column(column)
        table.add_row("value", f"{self.value:,.1f} {self.unit}")
        table.add_row("baseline (same run)", f"{self.baseline:,.1f} {self.unit}" if self.baseline else "—")
        table.add_row("ratio", f"{self.ratio}" if self.ratio is not None else "—")
        table.add_row("target ratio", f"≥ {self.target_ratio}" if self.target_ratio else "—")
        if self.target_max is not None:
            table.add_row("target", f"≤ {self.target_max:,} {self.unit}")
        table.add_row("target met", {True: "yes", False: "NO", None: "—"}[self.met])
        for key, value in {**self.params, **self.extra}.items():
            table.add_row(key, str(value))
        console.print(table)
