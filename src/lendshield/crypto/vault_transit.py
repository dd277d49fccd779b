"""A key provider backed by HashiCorp Vault's Transit engine (production).

Data keys are wrapped and unwrapped by Vault (`transit/encrypt`, `transit/decrypt` with the
associated data), so the key-encryption key never leaves Vault. Rotation is Vault's
`transit/keys/<name>/rotate`; retiring a version raises `min_decryption_version`.

Named secrets (blind-index key, ledger subject-reference key ...) and signing keys are kept in a
small local file whose every value is Vault ciphertext: they are decrypted once at start-up and
never stored in clear anywhere.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hvac
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hvac.exceptions import VaultError

from lendshield.crypto.errors import DecryptionFailed, KeyUnavailable
from lendshield.crypto.keys import derive_secret

SEALED_FORMAT = "lendshield-vault-sealed/v1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def _version_of(ciphertext: str) -> str:
    parts = ciphertext.split(":")
    if len(parts) != 3 or parts[0] != "vault" or not parts[1].startswith("v") or not parts[1][1:].isdigit():
        raise DecryptionFailed()
    return parts[1][1:]


class VaultTransitProvider:
    def __init__(
        self, *, url: str, token: str, key_name: str, sealed_file: Path, mount_point: str = "transit", client: hvac.Client | None = None
    ) -> None:
        self._client = client or hvac.Client(url=url, token=token)
        self._transit = self._client.secrets.transit
        self._key = key_name
        self._mount = mount_point
        self._file = sealed_file
        self._lock = threading.Lock()
        self._secret_cache: dict[str, bytes] = {}
        try:
            self._transit.read_key(name=key_name, mount_point=mount_point)
        except (VaultError, OSError) as exc:
            raise KeyUnavailable(f"Vault transit key {key_name!r} is not reachable") from exc
        self._sealed = self._load_or_create()

    # -- KEKs: Vault's key versions -------------------------------------------------------------
    def _key_info(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = self._transit.read_key(name=self._key, mount_point=self._mount)["data"]
        except (VaultError, OSError) as exc:
            raise KeyUnavailable("Vault transit is not reachable") from exc
        return data

    def current_kek_version(self) -> str:
        return str(self._key_info()["latest_version"])

    def kek_versions(self) -> list[str]:
        info = self._key_info()
        return sorted((v for v in info["keys"] if int(v) >= int(info.get("min_decryption_version", 1))), key=int)

    def wrap(self, plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
        try:
            resp = self._transit.encrypt_data(name=self._key, plaintext=_b64(plaintext), associated_data=_b64(aad), mount_point=self._mount)
        except (VaultError, OSError) as exc:
            raise KeyUnavailable("Vault transit encryption failed") from exc
        ciphertext = str(resp["data"]["ciphertext"])
        return _version_of(ciphertext), ciphertext.encode()

    def unwrap(self, version: str, wrapped: bytes, aad: bytes) -> bytes:
        text = wrapped.decode("ascii", errors="replace")
        if _version_of(text) != version:
            raise DecryptionFailed()
        try:
            resp = self._transit.decrypt_data(name=self._key, ciphertext=text, associated_data=_b64(aad), mount_point=self._mount)
        except VaultError as exc:
            raise DecryptionFailed() from exc
        except OSError as exc:
            raise KeyUnavailable("Vault transit is not reachable") from exc
        return _unb64(str(resp["data"]["plaintext"]))

    def add_kek(self) -> str:
        try:
            self._transit.rotate_key(name=self._key, mount_point=self._mount)
        except (VaultError, OSError) as exc:
            raise KeyUnavailable("Vault transit key rotation failed") from exc
        return self.current_kek_version()

    def retire_kek(self, version: str) -> None:
        info = self._key_info()
        if version == str(info["latest_version"]):
            raise KeyUnavailable("the current KEK cannot be retired")
        if int(version) != int(info.get("min_decryption_version", 1)):
            raise KeyUnavailable("Vault retires versions oldest first; retire the older versions before this one")
        # The root secret and the signing keys are sealed under a key version too: seal them
        # again under the current one first, or retiring would make them unreadable.
        self._reseal_all()
        try:
            self._transit.update_key_configuration(name=self._key, min_decryption_version=int(version) + 1, mount_point=self._mount)
        except (VaultError, OSError) as exc:
            raise KeyUnavailable("Vault refused to retire the key version") from exc

    # -- named secrets and signing keys, sealed by Vault ------------------------------------------
    def _seal(self, data: bytes, label: str) -> str:
        _, ciphertext = self.wrap(data, b"lendshield/sealed/" + label.encode())
        return ciphertext.decode()

    def _unseal(self, text: str, label: str) -> bytes:
        return self.unwrap(_version_of(text), text.encode(), b"lendshield/sealed/" + label.encode())

    def _reseal_all(self) -> None:
        """Seal the root secret and every signing key again under the current key version, and
        write the file atomically. Other processes read it again when their copy no longer opens
        (``_opened``)."""
        with self._lock:
            data = json.loads(json.dumps(self._load_or_create()))
            data["root_secret"] = self._seal(self._unseal(data["root_secret"], "root"), "root")
            for name, entry in data["signing"].items():
                for version, sealed in entry["keys"].items():
                    label = f"signing/{name}/{version}"
                    entry["keys"][version] = self._seal(self._unseal(sealed, label), label)
            self._write(data)
            self._sealed = data

    def _opened(self, pick: Callable[[dict[str, Any]], str], label: str) -> bytes:
        """Unseal what ``pick`` names in the sealed file; if this process's copy no longer opens
        (another process re-sealed it and retired the version), read the file again once."""
        try:
            return self._unseal(pick(self._sealed), label)
        except DecryptionFailed:
            with self._lock:
                self._sealed = self._load_or_create()
            return self._unseal(pick(self._sealed), label)

    def _load_or_create(self) -> dict[str, Any]:
        if self._file.exists():
            data: dict[str, Any] = json.loads(self._file.read_text())
            if data.get("format") != SEALED_FORMAT:
                raise KeyUnavailable("the sealed secrets file has an unknown format")
            return data
        data = {"format": SEALED_FORMAT, "root_secret": self._seal(secrets.token_bytes(32), "root"), "signing": {}}
        self._write(data)
        return data

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self._file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, self._file)

    def secret(self, name: str) -> bytes:
        cached = self._secret_cache.get(name)
        if cached is None:
            cached = derive_secret(self._opened(lambda d: str(d["root_secret"]), "root"), name)
            self._secret_cache[name] = cached
        return cached

    def signing_versions(self, name: str) -> list[str]:
        return sorted(self._sealed["signing"].get(name, {}).get("keys", {}), key=int)

    def add_signing_key(self, name: str) -> str:
        with self._lock:
            entry = self._sealed["signing"].setdefault(name, {"current": "0", "keys": {}})
            version = str(max((int(v) for v in entry["keys"]), default=0) + 1)
            entry["keys"][version] = self._seal(secrets.token_bytes(32), f"signing/{name}/{version}")
            entry["current"] = version
            self._write(self._sealed)
            return version

    def signing_key(self, name: str, version: str | None = None) -> tuple[str, Ed25519PrivateKey]:
        if name not in self._sealed["signing"]:
            self.add_signing_key(name)
        entry = self._sealed["signing"][name]
        chosen = version if version is not None else str(entry["current"])
        if entry["keys"].get(chosen) is None:
            raise KeyUnavailable(f"signing key {name} version {chosen} is not available")
        raw = self._opened(lambda d: str(d["signing"][name]["keys"][chosen]), f"signing/{name}/{chosen}")
        return chosen, Ed25519PrivateKey.from_private_bytes(raw)
