"""Prometheus gauges for operations, so an alert rule can page the operator: the restore-drill age
and the incidents whose regulator notice is past its internal deadline."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from lendshield.runtime import Runtime

LAST_GOOD = "lendshield_restore_drill_last_good_timestamp_seconds"
OVERDUE = "lendshield_restore_drill_overdue"
INCIDENTS_OVERDUE = "lendshield_incident_notices_overdue"
_HELP = {
    LAST_GOOD: "When the last good restore drill finished (0: never).",
    OVERDUE: "1 when the last good restore drill is older than drill_max_age_days.",
    INCIDENTS_OVERDUE: "Open incidents whose regulator notice is past incident_notice_hours and not sent.",
}


class OpsCollector(Collector):
    """Read at each scrape (two small queries); a database that does not answer yields no sample."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def describe(self) -> Iterator[GaugeMetricFamily]:
        for name, text in _HELP.items():
            yield GaugeMetricFamily(name, text)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from lendshield.ops.incidents import overdue_incidents
        from lendshield.ops.jobs import drill_overdue

        now = self.rt.clock.now()
        try:
            overdue, last = drill_overdue(self.rt, now)
            with self.rt.sessions() as session:
                incidents = len(overdue_incidents(session, self.rt, now))
        except SQLAlchemyError:
            return
        yield GaugeMetricFamily(LAST_GOOD, _HELP[LAST_GOOD], value=last.timestamp() if last else 0.0)
        yield GaugeMetricFamily(OVERDUE, _HELP[OVERDUE], value=1.0 if overdue else 0.0)
        yield GaugeMetricFamily(INCIDENTS_OVERDUE, _HELP[INCIDENTS_OVERDUE], value=float(incidents))
