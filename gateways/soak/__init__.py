"""`lienthong soak`: the province profile through the whole Kafka pipeline on the three-broker
cluster, with faults (see gateways/soak/run.py)."""

from gateways.soak.parts import SoakFailed
from gateways.soak.run import Soak

__all__ = ["Soak", "SoakFailed"]
