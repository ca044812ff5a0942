"""What the pod can serve: the store is required, everything else only degrades features.

Readiness decides whether Kubernetes sends traffic to this pod. Chat needs the
store and nothing else (the scripted model, cached IdP keys and API keys all work
without the network), so only the store (and a shutdown in progress) makes the
pod unready. The optional dependencies are checked in the background every
``server.dependency_check_seconds``, reported in ``/readyz``'s body and in
``chatkit_dependency_up``, and degrade only the features that need them:

=================  =====================================  ===========================================
check              how                                    when failing
=================  =====================================  ===========================================
``store``          a real write through the writer        pod not ready (503)
``blobs``          bucket check (S3) / folder write       uploads and downloads answer 503
``upstream.<n>``   TCP connect (+ TLS handshake for       turns on aliases of that upstream end with
                   https) to the upstream or its proxy    an SSE error (fallbacks are tried)
``idp``            signing keys held (no extra fetch)     new OIDC tokens answer 503 auth_unavailable
=================  =====================================  ===========================================

Each result has a public ``reason`` (a fixed phrase: what, never where or why in
detail) and an operator ``detail`` (exception text, addresses) that ``/readyz``
shows only to an admin caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from chatkit_onprem.auth.oidc import KeySet
from chatkit_onprem.blobs import BlobBackend, BlobUnavailableError
from chatkit_onprem.llm.upstreams import Upstream, ssl_context
from chatkit_onprem.logging import get_logger
from chatkit_onprem.metrics import DEPENDENCY_UP

log = get_logger(__name__)

PROBE_TIMEOUT = 3.0

#: What stops working while a check fails (said in /readyz's body and the docs).
AFFECTS = {
    "store": "everything (the pod is not ready)",
    "blobs": "uploads, downloads and previews",
    "upstream": "model answers from this upstream (fallback aliases are tried)",
    "idp": "OIDC sign-in (API keys and other methods keep working)",
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    state: Literal["ok", "failing", "pending"]
    reason: str = ""  # public: a fixed phrase
    detail: str = ""  # operator only: may name addresses and exception text
    checked_at: float = 0.0

    @property
    def public(self) -> str:
        if self.state == "ok":
            return "ok"
        if self.state == "pending":
            return "pending: not checked yet"
        return f"failing: {self.reason}"


def ok() -> CheckResult:
    return CheckResult("ok", checked_at=time.time())


def failing(reason: str, detail: str) -> CheckResult:
    return CheckResult("failing", reason, detail[:300], time.time())


async def check_store(probe: Callable[[], Awaitable[None]]) -> CheckResult:
    """The required check, run live on every ``/readyz``."""
    try:
        await asyncio.wait_for(probe(), PROBE_TIMEOUT)
    except TimeoutError:
        result = failing("store not answering", f"no write within {PROBE_TIMEOUT:g} s")
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"
        full = _is_disk_full(exc)
        result = failing("storage full" if full else "store not writable", text)
    else:
        result = ok()
    DEPENDENCY_UP.labels(check="store").set(1 if result.state == "ok" else 0)
    return result


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space left" in text or "disk full" in text or "quota exceeded" in text


class DependencyMonitor:
    """Checks the optional dependencies in the background and keeps the latest results."""

    def __init__(
        self,
        *,
        blobs: BlobBackend,
        upstreams: Mapping[str, Upstream],
        keys: KeySet | None,
        interval: float,
        timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self.interval = interval
        self.timeout = timeout
        self._checks: dict[str, Callable[[], Awaitable[CheckResult]]] = {
            "blobs": lambda: self._blobs(blobs)
        }
        for name, upstream in upstreams.items():
            self._checks[f"upstream.{name}"] = _upstream_check(upstream, timeout)
        if keys is not None:
            self._checks["idp"] = lambda: _idp(keys)
        self.results: dict[str, CheckResult] = {name: CheckResult("pending") for name in self._checks}
        self._task: asyncio.Task[None] | None = None

    async def _blobs(self, blobs: BlobBackend) -> CheckResult:
        try:
            await blobs.check()  # S3: also creates the bucket once the store is back, when allowed
        except BlobUnavailableError as exc:
            return failing(exc.reason, str(exc))
        except OSError as exc:
            reason = "storage full" if _is_disk_full(exc) else "blob folder not writable"
            return failing(reason, f"{type(exc).__name__}: {exc}")
        return ok()

    async def check_all(self) -> dict[str, CheckResult]:
        async def one(name: str, check: Callable[[], Awaitable[CheckResult]]) -> None:
            try:
                result = await asyncio.wait_for(check(), self.timeout + 1)
            except TimeoutError:
                result = failing("not answering", f"no answer within {self.timeout:g} s")
            except Exception as exc:  # a check must never stop the others or the loop
                result = failing("check failed", f"{type(exc).__name__}: {exc}")
            before = self.results.get(name)
            if before is not None and before.state != result.state and before.state != "pending":
                log.warning("dependency state changed", check=name, state=result.state, reason=result.reason)
            elif result.state == "failing" and (before is None or before.state == "pending"):
                log.warning("dependency failing", check=name, reason=result.reason, detail=result.detail)
            self.results[name] = result
            DEPENDENCY_UP.labels(check=name).set(1 if result.state == "ok" else 0)

        await asyncio.gather(*(one(name, check) for name, check in self._checks.items()))
        return dict(self.results)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="dependency-monitor")

    async def _run(self) -> None:
        while True:
            await self.check_all()
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _upstream_check(upstream: Upstream, timeout: float) -> Callable[[], Awaitable[CheckResult]]:
    """A TCP connect (and TLS handshake for https) to the upstream, or to its proxy.

    Deliberately no HTTP request: it costs the model server nothing, shows in no
    access log, and still catches what operators get wrong (address, port, proxy,
    certificate). Whether a model answers is what ``config check --probe`` is for.
    """
    settings = upstream.settings
    target = urlsplit(settings.proxy.url if settings.proxy else settings.base_url)
    secure = target.scheme == "https"
    host = target.hostname or ""
    port = target.port or (443 if secure else 80)
    what = "proxy" if settings.proxy else "upstream"
    context: ssl.SSLContext | None = ssl_context(settings) if secure else None

    async def check() -> CheckResult:
        connect_timeout = min(timeout, settings.timeouts.connect)
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=context, server_hostname=host if context else None),
                connect_timeout,
            )
        except TimeoutError:
            return failing(
                f"{what} not answering", f"{host}:{port}: no connection within {connect_timeout:g} s"
            )
        except ssl.SSLError as exc:
            return failing(f"{what} TLS verification failed", f"{host}:{port}: {exc}")
        except OSError as exc:
            return failing(f"{what} unreachable", f"{host}:{port}: {exc.strerror or exc}")
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return ok()

    return check


async def _idp(keys: KeySet) -> CheckResult:
    """Passive: whether tokens can be verified now (the key set fetches on its own schedule)."""
    if keys.keys:
        return ok()
    return failing(
        "no signing keys from the identity provider",
        f"no usable keys fetched from {keys.url or keys.file}; the next token retries",
    )
