"""The FastAPI application factory. Nothing is created at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from lendshield.logging_setup import configure_logging
from lendshield.runtime import Runtime, build_runtime
from lendshield.settings import Settings
from lendshield.web import problem
from lendshield.web.limits import BodyLimit
from lendshield.web.observability import Metrics, RequestObservability, metrics_router
from lendshield.web.pages import mount_static
from lendshield.web.routers import all_routers


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or (runtime.settings if runtime else Settings())
    configure_logging(settings.log_format, settings.log_level)
    rt = runtime or build_runtime(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # In-process periodic jobs (ledger integrator); off with settings.jobs_enabled=False.
        from lendshield.jobs import default_runner, jobs_wanted

        runner = default_runner(rt) if jobs_wanted(rt.settings) else None
        if runner is not None:
            runner.start()
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="LendShield",
        version="0.1.0",
        description="Personal-information vault, consent gate, transparency ledger and device safeguards for lenders.",
    )
    app.state.runtime = rt
    problem.install(app)
    for router in all_routers():
        app.include_router(router)
    mount_static(app)
    problem.document(app)
    metrics = Metrics()
    from lendshield.ops.metrics import OpsCollector

    metrics.registry.register(OpsCollector(rt))
    app.include_router(metrics_router(metrics))
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger=[(r"^/v1/collection/contacts/[^/]+/recordings$", settings.collection_max_recording_bytes)],
    )
    app.add_middleware(RequestObservability, metrics=metrics)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory lendshield.web.app:app_from_env`` (one per worker process)."""
    return create_app(Settings())
