"""Refuse oversized request bodies before they are read into memory."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimit:
    """``larger`` lets named routes (path regex, limit) take bigger bodies, e.g. call recordings."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = [(re.compile(pattern), limit) for pattern, limit in larger]

    def _limit_for(self, path: str) -> int:
        for pattern, limit in self.larger:
            if pattern.match(path):
                return limit
        return self.max_bytes

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        body = json.dumps(
            {
                "type": "https://lendshield.dev/problems/payload-too-large",
                "title": "Payload too large",
                "status": 413,
                "detail": f"request bodies are limited to {max_bytes} bytes",
                "code": "payload-too-large",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self._limit_for(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await self._refuse(send, max_bytes)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > max_bytes:
                    raise _TooLargeError(max_bytes)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLargeError:
            await self._refuse(send, max_bytes)


class _TooLargeError(HTTPException):
    """Raised from ``receive`` when a body without Content-Length (chunked) grows too large.

    It must be an HTTPException: FastAPI turns any other error raised while reading the body into
    a 400 "error parsing the body", which would hide the real cause from the client.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request bodies are limited to {max_bytes} bytes")
