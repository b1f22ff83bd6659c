"""The API of a benchmark run, served by a child process on loopback, and what clients share."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from gateways.auth import issue_token
from gateways.bench.child import free_port, running, wait_for_http, write_settings
from gateways.bench.workload import Workbench, derive
from gateways.settings import Settings

# Only ever loopback: the benchmark's clients never send a request anywhere else.
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Api:
    base: str
    settings: Settings

    def token(self, role: str, agency: str | None = None) -> str:
        from gateways.bootstrap import system_clock
        from gateways.keys import Keyring

        secret = Keyring(self.settings).jwt_secret
        return issue_token(
            secret,
            role=role,
            sub=f"bench-{role}",
            agency_code=agency,
            now=system_clock(),
            ttl=timedelta(hours=2),
        )


@contextlib.contextmanager
def serving(bench: Workbench, *, views_out_of_process: bool) -> Iterator[Api]:
    """The API on the run's stores until the block ends.

    `views_out_of_process`: as with Kafka, commands only append to the store (the outbox)
    and the views are fed by other processes; otherwise views follow in the request.
    """
    settings = bench.settings
    if views_out_of_process and not settings.kafka_bootstrap:
        # Nothing connects to this address: it only switches the in-process view feed off.
        settings = derive(settings, kafka_bootstrap=f"{HOST}:9")
    settings_file = write_settings(settings, bench.work / "api-settings.json")
    port = free_port()
    base = f"http://{HOST}:{port}"
    with running("serve", settings_file, str(port)) as child:
        wait_for_http(base, child)
        yield Api(base, settings)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in [0, 100])."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]
