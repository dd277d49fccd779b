"""DLP errors: each names what is wrong, never the data that was being scanned."""

from __future__ import annotations

from lendshield.errors import ConfigurationError, InvalidInput


class DlpConfigInvalid(ConfigurationError):
    code = "dlp-config-invalid"


class ScanInputInvalid(InvalidInput):
    """A path, format or option the scanner cannot work with (one line, no file content)."""

    code = "scan-input-invalid"


class RedactionFailed(InvalidInput):
    code = "redaction-failed"


class EngineUnavailable(ConfigurationError):
    code = "scan-engine-unavailable"
