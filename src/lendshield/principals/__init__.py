"""Who is asking: staff and service principals with roles, authenticated by API tokens."""

from lendshield.principals.principal import SYSTEM, Principal

__all__ = ["SYSTEM", "Principal"]
