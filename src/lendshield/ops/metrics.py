"""Prometheus gauges for operations: the restore-drill age, so an alert rule can page the operator."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from lendshield.runtime import Runtime

LAST_GOOD = "lendshield_restore_drill_last_good_timestamp_seconds"
OVERDUE = "lendshield_restore_drill_overdue"


class DrillCollector(Collector):
    """Read at each scrape (one indexed query); a database that does not answer yields no sample."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(LAST_GOOD, "When the last good restore drill finished (0: never).")
        yield GaugeMetricFamily(OVERDUE, "1 when the last good restore drill is older than drill_max_age_days.")

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from lendshield.ops.jobs import drill_overdue

        try:
            overdue, last = drill_overdue(self.rt, self.rt.clock.now())
        except SQLAlchemyError:
            return
        yield GaugeMetricFamily(LAST_GOOD, "When the last good restore drill finished (0: never).", value=last.timestamp() if last else 0.0)
        yield GaugeMetricFamily(
            OVERDUE, "1 when the last good restore drill is older than drill_max_age_days.", value=1.0 if overdue else 0.0
        )
