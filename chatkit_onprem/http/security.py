"""Security headers on every response, as plain ASGI middleware (cheap on the stream path).

* API responses get ``Content-Security-Policy: default-src 'none'`` (nothing in a JSON
  or file response may load or run anything, even if a browser renders it);
* our HTML pages get a same-origin CSP (no CDN: the bundle serves every asset itself);
* ``frame-ancestors`` (and legacy ``X-Frame-Options``) from ``security.frame_ancestors``;
* ``Strict-Transport-Security`` only when we are reached over TLS (``server.public_url``
  is https, or the request came in over https), since HSTS over plain http is ignored
  and would break a plain-http development setup once cached;
* ``nosniff`` and ``Referrer-Policy: no-referrer`` everywhere.

Headers a handler set itself are kept.
"""

from __future__ import annotations

from collections.abc import Callable

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from chatkit_onprem.config import Settings


def _policies(settings: Settings) -> tuple[bytes, bytes]:
    ancestors = " ".join(settings.security.frame_ancestors) or "'none'"
    api = f"default-src 'none'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'none'"
    page = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        f"form-action 'self'; frame-ancestors {ancestors}"
    )
    return api.encode(), page.encode()


def security_headers(settings: Settings) -> Callable[[ASGIApp], ASGIApp]:
    """A middleware factory bound to ``settings`` (Litestar calls it with the next app)."""
    api_csp, page_csp = _policies(settings)
    always_tls = bool(settings.server.public_url and settings.server.public_url.startswith("https://"))
    hsts = f"max-age={settings.security.hsts_seconds}".encode() if settings.security.hsts_seconds else b""
    deny_frames = settings.security.frame_ancestors == ["'none'"]

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":  # type: ignore[comparison-overlap]
                await app(scope, receive, send)
                return
            tls = always_tls or scope.get("scheme") == "https"

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    present = {k.lower() for k, _ in headers}
                    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                    extra = [
                        (b"x-content-type-options", b"nosniff"),
                        (b"referrer-policy", b"no-referrer"),
                        (
                            b"content-security-policy",
                            page_csp if content_type.startswith(b"text/html") else api_csp,
                        ),
                    ]
                    if deny_frames:
                        extra.append((b"x-frame-options", b"DENY"))
                    if tls and hsts:
                        extra.append((b"strict-transport-security", hsts))
                    headers.extend((k, v) for k, v in extra if k not in present)
                    message = {**message, "headers": headers}
                await send(message)

            await app(scope, receive, send_with_headers)

        return middleware

    return factory
