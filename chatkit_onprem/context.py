"""The caller, as every layer below the HTTP edge sees it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who is asking. Every store query and object key is scoped by ``tenant`` and ``user``.

    ``public_base_url`` is the absolute base for links we hand back (upload
    descriptors, previews): ChatKit rejects relative URLs.
    """

    tenant: str
    user: str
    roles: frozenset[str] = field(default_factory=lambda: frozenset({"user"}))
    auth_method: str = "development"
    request_id: str = ""
    public_base_url: str = "http://localhost"
