"""Run a simulation into a sink: the world goes into the catalogue, the histories into the sink."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.calendar import WorkingCalendar
from gateways.catalogue import Catalogue
from gateways.simulation.engine import Simulation, Tally
from gateways.simulation.profiles import Profile
from gateways.simulation.sinks import Sink
from gateways.simulation.world import World

Progress = Callable[[Tally], None]


def install_world(catalogue: Catalogue, world: World) -> None:
    """Put the world's agencies (every version) and procedures into the catalogue (idempotent)."""
    # One read of the catalogue: each write bumps its version, which would reload it per lookup.
    hierarchy = catalogue.hierarchy
    known = {p.code: p for p in catalogue.procedures()}
    for agency in world.agencies:
        if agency not in hierarchy.history(agency.code):
            catalogue.put_agency(agency)
    for procedure in world.procedures.values():
        if known.get(procedure.code) != procedure:
            catalogue.put_procedure(procedure)


def run_simulation(
    simulation: Simulation, sink: Sink, progress: Progress | None = None, every: int = 500
) -> Tally:
    """Write every history of `simulation` into `sink`; the tally of what was generated."""
    tally = Tally()
    for history in simulation.histories():
        tally.add(history, simulation.start, simulation.end)
        sink.write(history)
        if progress is not None and tally.dossiers % every == 0:
            progress(tally)
    sink.close()
    if progress is not None:
        progress(tally)
    return tally


def simulation_for(
    profile: Profile,
    seed: int,
    catalogue: Catalogue,
    sink: Sink,
    calendar: WorkingCalendar,
    now: datetime | None,
) -> Simulation:
    """A simulation whose world is in `catalogue` and whose applicants `sink` seals."""
    simulation = Simulation(profile, seed, calendar, seal=sink.seal, now=now)
    install_world(catalogue, simulation.world)
    return simulation
