# The compiled `gateways/bench/_scan.c`: `scan` is `mining._scan_python`, compiled.
from gateways.bench.mining import Scan

scan: Scan

def plain_instant(raw: bytes, /) -> float | None: ...
