"""Crypto errors. A decryption failure is one opaque error: it never says which check failed."""

from lendshield.errors import ConfigurationError, LendShieldError


class DecryptionFailed(LendShieldError):
    status = 500
    code = "decryption-failed"
    title = "Stored data could not be decrypted"

    def __init__(self) -> None:
        super().__init__("stored data could not be decrypted")


class KeyUnavailable(ConfigurationError):
    code = "key-unavailable"
    title = "Key unavailable"
