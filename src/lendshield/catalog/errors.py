from lendshield.errors import ConfigurationError, InvalidInput


class FieldInvalid(InvalidInput):
    """A value refused by its field's validator. The message names the path, never the value."""

    code = "field-invalid"
    title = "Invalid field value"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}", path=path, reason=reason)
        self.path = path
        self.reason = reason


class UnknownField(InvalidInput):
    code = "unknown-field"
    title = "Unknown field"

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: not a field of the catalog", path=path)


class CatalogError(ConfigurationError):
    code = "catalog-invalid"
