"""Authentication failures as client errors: 401 with ``WWW-Authenticate``, 403, 503.

Messages say what is wrong with the credential (expired, wrong audience...) so an
operator can fix the client, never which value was expected or which key exists.
"""

from __future__ import annotations

from chatkit_onprem.errors import ApiError

REALM = "chatkit-onprem"


class Unauthenticated(ApiError):
    """No usable credential: 401 with a Bearer challenge (RFC 6750)."""

    def __init__(self, message: str, *, error: str | None = "invalid_token") -> None:
        challenge = f'Bearer realm="{REALM}"'
        if error:
            challenge += f', error="{error}", error_description="{message}"'
        super().__init__(401, "unauthenticated", message, headers={"WWW-Authenticate": challenge})


class MissingCredentials(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("authentication required: send 'Authorization: Bearer <token>'", error=None)


class Forbidden(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(403, "forbidden", message)


class AuthUnavailable(ApiError):
    """We cannot check credentials at all (no signing keys): the server's problem, not the caller's."""

    def __init__(self, message: str) -> None:
        super().__init__(503, "auth_unavailable", message, headers={"Retry-After": "30"})
