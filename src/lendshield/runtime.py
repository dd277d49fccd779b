"""The collaborators a running LendShield process shares: built once from Settings, passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from lendshield.catalog import Catalog, load_catalog
from lendshield.clock import Clock, SystemClock
from lendshield.crypto import KeyProvider, LocalKeyFile
from lendshield.db import make_engine, make_sessionmaker
from lendshield.db.engine import UnitSession
from lendshield.policy import PolicyEngine, PolicyInvalid, load_policy
from lendshield.settings import Settings
from lendshield.subjects.keycache import DataKeyCache


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[UnitSession]
    """Units of work: sessions whose precompiled statements run on one connection (``db.engine``)."""
    keys: KeyProvider
    catalog: Catalog
    policy: PolicyEngine
    clock: Clock
    dek_cache: DataKeyCache = field(default_factory=DataKeyCache)
    policy_error: str | None = None
    """Why the last policy reload failed (the previous, good policy stays in force)."""

    def reload_policy(self) -> str | None:
        """Reload purposes.yaml and policy.yaml; on any error keep the last good policy and say why."""
        try:
            self.policy = load_policy(self.settings.policies_dir, self.catalog)
        except PolicyInvalid as exc:
            self.policy_error = str(exc)
            return self.policy_error
        self.policy_error = None
        return None


def make_key_provider(settings: Settings) -> KeyProvider:
    if settings.key_provider == "vault":
        from lendshield.crypto.vault_transit import VaultTransitProvider

        token = settings.vault_token.get_secret_value() if settings.vault_token else ""
        return VaultTransitProvider(
            url=settings.vault_url, token=token, key_name=settings.vault_transit_key, sealed_file=settings.data_dir / "vault-sealed.json"
        )
    return LocalKeyFile(settings.resolved_key_file())


def build_runtime(settings: Settings, *, clock: Clock | None = None, engine: Engine | None = None) -> Runtime:
    from lendshield.db.models_registry import import_all_models

    import_all_models()  # foreign keys between domains resolve only when every table is known
    engine = engine or make_engine(settings.resolved_database_url())
    catalog = load_catalog(settings.policies_dir)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        keys=make_key_provider(settings),
        catalog=catalog,
        policy=load_policy(settings.policies_dir, catalog),  # a bad policy at start-up is fatal
        clock=clock or SystemClock(),
        dek_cache=DataKeyCache(settings.dek_cache_size),
    )
