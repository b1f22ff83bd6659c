"""Rate limits: token buckets in this process, per token (its subject and role) and per
client address, on commands and on the citizen lookup. Over a limit: 429 problem+json with
`Retry-After` (whole seconds until a request would pass).

In-process buckets suit one API process; several processes behind a balancer each apply
the limit (so the whole is N times it). The client address is the connection's (uvicorn
rewrites it from X-Forwarded-For only for the proxies `--forwarded-allow-ips` trusts).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class Buckets:
    """One token bucket per key: `rate` tokens a second, at most `burst` saved up."""

    def __init__(
        self,
        rate: float,
        burst: float,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = max(1.0, burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        """0 if a request under `key` may pass now (and count it), else seconds to wait."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)  # the longest idle: its bucket is full again
            return wait


class RateLimits:
    def __init__(
        self,
        commands_per_token: float,
        commands_per_address: float,
        commands_burst: float,
        lookups_per_address: float,
        lookups_burst: float,
    ) -> None:
        self.by_kind: dict[str, tuple[Buckets | None, Buckets]] = {
            "commands": (
                Buckets(commands_per_token, commands_burst),
                Buckets(commands_per_address, commands_burst),
            ),
            "lookup": (None, Buckets(lookups_per_address, lookups_burst)),
        }

    def check(self, kind: str, address: str, _subject: None = None) -> tuple[str, int] | None:
        """(which limit, Retry-After seconds) when the address is over its limit, else None."""
        wait = self.by_kind[kind][1].take(address)
        return (f"{kind}_per_address", max(1, math.ceil(wait))) if wait else None

    def check_subject(self, kind: str, subject: str) -> tuple[str, int] | None:
        """The same for the token's subject (commands only)."""
        per_token = self.by_kind[kind][0]
        wait = per_token.take(subject) if per_token is not None else 0.0
        return (f"{kind}_per_token", max(1, math.ceil(wait))) if wait else None
