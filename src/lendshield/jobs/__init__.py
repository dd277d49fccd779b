"""In-process periodic jobs (the ledger integrator) run on a daemon thread."""

from lendshield.jobs.runner import PeriodicRunner, default_runner, jobs_wanted

__all__ = ["PeriodicRunner", "default_runner", "jobs_wanted"]
