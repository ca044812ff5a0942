"""One ``AsyncOpenAI`` client per configured upstream, built on ``httpx2``.

Facts that shape this module (ARCHITECTURE §4):

* openai 3.x runs on ``httpx2``; a custom CA and a client certificate go in an
  ``ssl.SSLContext`` (``verify=<path>`` is deprecated and cannot carry a cert);
* an explicit ``proxy=`` on the *client* also proxies loopback and ignores
  ``NO_PROXY``. Each upstream therefore gets its own transport (direct or
  through its own proxy) mounted for every URL, with ``trust_env=False`` so no
  ``HTTP(S)_PROXY`` variable changes where calls go: the config file alone
  decides (one upstream direct, another proxied); trust (CAs) follows the one
  rule of ``chatkit_onprem.trust``, like every other client;
* retries on connection errors, 408, 429 and 5xx, honouring ``Retry-After``,
  are the openai client's own for SDK calls and ``llm.retry`` (the same policy)
  for our lean parsers.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx2
from openai import AsyncOpenAI

from chatkit_onprem.config import UpstreamSettings
from chatkit_onprem.llm.transport import UpstreamTransport
from chatkit_onprem.trust import client_ssl_context

#: The openai client refuses to start without a key; upstreams that need none get this.
NO_KEY = "not-needed"


def ssl_context(settings: UpstreamSettings) -> ssl.SSLContext:
    """The one trust rule (``chatkit_onprem.trust``) plus this upstream's CA bundle and mTLS certificate."""
    return client_ssl_context(
        settings.ca_bundle, client_cert=settings.client_cert, client_key=settings.client_key
    )


def http_client(settings: UpstreamSettings) -> httpx2.AsyncClient:
    context = ssl_context(settings)
    proxy: httpx2.Proxy | None = None
    if settings.proxy is not None:
        auth = None
        if settings.proxy.username is not None:
            password = settings.proxy.password.get_secret_value() if settings.proxy.password else ""
            auth = (settings.proxy.username, password)
        # An https proxy is verified with the same trust store as the upstream.
        proxy_tls = context if settings.proxy.url.startswith("https://") else None
        proxy = httpx2.Proxy(settings.proxy.url, auth=auth, ssl_context=proxy_tls)
    transport = UpstreamTransport(
        ssl_context=context,
        proxy=proxy,
        limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30),
    )
    timeouts = settings.timeouts
    return httpx2.AsyncClient(
        mounts={"all://": transport},
        trust_env=False,
        timeout=httpx2.Timeout(timeouts.read, connect=timeouts.connect, pool=timeouts.connect),
        follow_redirects=False,
    )


@dataclass(slots=True)
class Upstream:
    """A configured endpoint and the one client that reaches it."""

    name: str
    settings: UpstreamSettings
    client: AsyncOpenAI
    http: httpx2.AsyncClient

    @classmethod
    def build(cls, name: str, settings: UpstreamSettings) -> Upstream:
        key = settings.api_key.get_secret_value() if settings.api_key else NO_KEY
        http = http_client(settings)
        client = AsyncOpenAI(
            api_key=key,
            base_url=settings.base_url,
            default_headers=settings.headers or None,
            max_retries=settings.max_retries,
            timeout=httpx2.Timeout(settings.timeouts.read, connect=settings.timeouts.connect),
            http_client=http,
            # No organisation/project headers, no websocket transport: plain HTTP only.
            organization=None,
            project=None,
        )
        return cls(name=name, settings=settings, client=client, http=http)

    @property
    def route(self) -> str:
        """Where calls go, for operator messages (never the credentials)."""
        via = f" via proxy {self.settings.proxy.url}" if self.settings.proxy else ""
        return f"{self.settings.base_url}{via}"

    async def close(self) -> None:
        await self.client.close()
