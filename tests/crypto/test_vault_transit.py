"""The Vault Transit key provider, over real HTTP, against a small Transit-compatible server.

No Vault server can be installed where the suite runs, so the test runs a minimal server that
implements the Transit endpoints LendShield uses, as Vault documents them (keys, encrypt and
decrypt with associated data, rotate, config), with real AES-GCM keys per version.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lendshield.crypto import FieldCipher, new_data_key, unwrap_data_key, wrap_data_key
from lendshield.crypto.errors import DecryptionFailed, KeyUnavailable
from lendshield.crypto.vault_transit import VaultTransitProvider

TOKEN = "test-root-token"


class TransitState:
    def __init__(self) -> None:
        self.keys: dict[str, dict[int, bytes]] = {"lendshield-kek": {1: AESGCM.generate_key(bit_length=256)}}
        self.min_decryption: dict[str, int] = {"lendshield-kek": 1}


def make_handler(state: TransitState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            return

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _auth(self) -> bool:
            if self.headers.get("X-Vault-Token") != TOKEN:
                self._reply(403, {"errors": ["permission denied"]})
                return False
            return True

        def do_GET(self) -> None:
            if not self._auth():
                return
            name = self.path.rsplit("/", 1)[-1]
            if name not in state.keys:
                self._reply(404, {"errors": []})
                return
            versions = state.keys[name]
            self._reply(
                200,
                {
                    "data": {
                        "latest_version": max(versions),
                        "min_decryption_version": state.min_decryption[name],
                        "keys": {str(v): 0 for v in versions},
                        "type": "aes256-gcm96",
                    }
                },
            )

        def do_POST(self) -> None:
            if not self._auth():
                return
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            parts = self.path.strip("/").split("/")  # v1 transit <op> <name> [rotate|config]
            op, name = parts[2], parts[3]
            versions = state.keys.get(name)
            if versions is None:
                self._reply(404, {"errors": ["no such key"]})
                return
            aad = base64.b64decode(body.get("associated_data", ""))
            if op == "encrypt":
                version = max(versions)
                nonce = os.urandom(12)
                ct = AESGCM(versions[version]).encrypt(nonce, base64.b64decode(body["plaintext"]), aad or None)
                self._reply(200, {"data": {"ciphertext": f"vault:v{version}:" + base64.b64encode(nonce + ct).decode()}})
            elif op == "decrypt":
                _, v, blob = body["ciphertext"].split(":")
                version = int(v[1:])
                if version < state.min_decryption[name] or version not in versions:
                    self._reply(400, {"errors": ["ciphertext version is disallowed by policy"]})
                    return
                raw = base64.b64decode(blob)
                try:
                    pt = AESGCM(versions[version]).decrypt(raw[:12], raw[12:], aad or None)
                except Exception:
                    self._reply(400, {"errors": ["cipher: message authentication failed"]})
                    return
                self._reply(200, {"data": {"plaintext": base64.b64encode(pt).decode()}})
            elif op == "keys" and parts[-1] == "rotate":
                versions[max(versions) + 1] = AESGCM.generate_key(bit_length=256)
                self._reply(200, {"data": {}})
            elif op == "keys" and parts[-1] == "config":
                if "min_decryption_version" in body:
                    state.min_decryption[name] = int(body["min_decryption_version"])
                self._reply(200, {"data": {}})
            else:
                self._reply(404, {"errors": []})

    return Handler


@pytest.fixture
def vault_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(TransitState()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _provider(url: str, path: Path, token: str = TOKEN) -> VaultTransitProvider:
    return VaultTransitProvider(url=url, token=token, key_name="lendshield-kek", sealed_file=path)


def test_wrap_unwrap_rotate_retire(vault_url: str, tmp_path: Path) -> None:
    provider = _provider(vault_url, tmp_path / "sealed.json")
    dek = new_data_key()
    version, wrapped = wrap_data_key(provider, "subject-1", dek)
    assert version == "1"
    assert wrapped.startswith(b"vault:v1:")
    assert unwrap_data_key(provider, "subject-1", version, wrapped) == dek
    with pytest.raises(DecryptionFailed):
        unwrap_data_key(provider, "subject-2", version, wrapped)  # associated data binds the subject
    assert provider.add_kek() == "2"
    v2, wrapped2 = wrap_data_key(provider, "subject-1", dek)
    assert v2 == "2"
    provider.retire_kek("1")
    assert provider.kek_versions() == ["2"]
    with pytest.raises(DecryptionFailed):
        unwrap_data_key(provider, "subject-1", "1", wrapped)
    assert (
        FieldCipher("subject-1", unwrap_data_key(provider, "subject-1", v2, wrapped2)).decrypt(
            "name", 1, FieldCipher("subject-1", dek).encrypt("name", 1, "张三")
        )
        == "张三"
    )


def test_secrets_and_signing_keys_survive_restart_and_are_sealed(vault_url: str, tmp_path: Path) -> None:
    path = tmp_path / "sealed.json"
    first = _provider(vault_url, path)
    secret = first.secret("vault/blind-index")
    _, key = first.signing_key("ledger")
    again = _provider(vault_url, path)
    assert again.secret("vault/blind-index") == secret
    assert again.signing_key("ledger")[1].public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    text = path.read_text()
    assert "vault:v1:" in text
    assert base64.b64encode(secret).decode() not in text
    assert path.stat().st_mode & 0o777 == 0o600


def test_wrong_token_or_unreachable_vault_is_a_clear_error(vault_url: str, tmp_path: Path) -> None:
    with pytest.raises(KeyUnavailable):
        _provider(vault_url, tmp_path / "s.json", token="wrong")
    with pytest.raises(KeyUnavailable):
        _provider("http://127.0.0.1:9", tmp_path / "s.json")


def test_settings_select_the_vault_provider(vault_url: str, tmp_path: Path) -> None:
    from lendshield.runtime import make_key_provider
    from lendshield.settings import Settings

    settings = Settings(key_provider="vault", vault_url=vault_url, vault_token=TOKEN, data_dir=tmp_path)  # type: ignore[arg-type]
    provider = make_key_provider(settings)
    assert isinstance(provider, VaultTransitProvider)
    assert (tmp_path / "vault-sealed.json").exists()


def test_retiring_a_version_seals_the_root_secret_and_signing_keys_again_first(vault_url: str, tmp_path: Path) -> None:
    """The root secret (blind indexes, subject references) and the signing keys are sealed under a
    key version like data keys: retiring the version must not make them unreadable, in this
    process, in another one that read the sealed file before, or after a restart."""
    path = tmp_path / "sealed.json"
    first = _provider(vault_url, path)
    secret = first.secret("vault/blind-index")
    public = first.signing_key("ledger")[1].public_key().public_bytes_raw()
    other = _provider(vault_url, path)  # another process, holding the file as it was
    assert first.add_kek() == "2"
    first.retire_kek("1")
    assert "vault:v1:" not in path.read_text()
    assert "vault:v2:" in path.read_text()
    for provider in (first, other, _provider(vault_url, path)):
        assert provider.secret("vault/blind-index") == secret
        assert provider.secret("vault/other-name") == first.secret("vault/other-name")
        assert provider.signing_key("ledger")[1].public_key().public_bytes_raw() == public
