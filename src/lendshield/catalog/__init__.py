"""The field catalog: fields, categories, roles, loaded from YAML in the policies directory."""

from lendshield.catalog.errors import CatalogError, FieldInvalid, UnknownField
from lendshield.catalog.loader import Catalog, FieldSpec, load_catalog

__all__ = ["Catalog", "CatalogError", "FieldInvalid", "FieldSpec", "UnknownField", "load_catalog"]
