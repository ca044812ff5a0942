"""Every admin action leaves an entry in the audit chain, whatever its outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from chatkit_onprem.context import RequestContext
from chatkit_onprem.errors import ApiError
from chatkit_onprem.services import Services

T = TypeVar("T")


async def audited(
    services: Services,
    caller: RequestContext,
    verb: str,
    params: dict[str, Any],
    action: Callable[[], Awaitable[T]],
    *,
    outcome: Callable[[T], tuple[str, dict[str, Any]]] = lambda _: ("ok", {}),
) -> T:
    """Run ``action``; append (verb, parameters, outcome, counts) to the audit chain.

    A refusal (an ``ApiError``) is recorded as ``refused: <code>`` and raised on; any
    other failure as ``failed`` (the client gets the usual internal error).
    """
    try:
        result = await action()
    except ApiError as exc:
        await services.audit.append(caller, verb, params, f"refused: {exc.code}")
        raise
    except Exception:
        await services.audit.append(caller, verb, params, "failed")
        raise
    text, counts = outcome(result)
    await services.audit.append(caller, verb, params, text, counts)
    return result
