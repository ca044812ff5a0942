"""The caller, as every layer below the HTTP edge sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is asking. Every store query and object key is scoped by ``tenant`` and ``user``.

    ``public_base_url`` is the absolute base for links we hand back (upload
    descriptors, previews): ChatKit rejects relative URLs.

    ``turn`` is the state of the streamed turn this request runs (``chat.turn``), set by
    the ChatKit controller for mutating streamed requests and None otherwise. The library
    passes the context to every store call and to ``respond``, so this slot is how a
    turn's data (the thread the precheck read, the early model call, the usage) reaches
    them: explicitly, with the request, never through module-level state. It is typed
    ``Any`` here because Litestar (msgspec) resolves the annotations of the dataclasses it
    injects, and a ``Turn``'s are beyond it; readers annotate it: ``turn: Turn | None``.
    """

    tenant: str
    user: str
    roles: frozenset[str] = field(default_factory=lambda: frozenset({"user"}))
    auth_method: str = "development"
    request_id: str = ""
    public_base_url: str = "http://localhost"
    turn: Any = field(default=None, compare=False, repr=False)
