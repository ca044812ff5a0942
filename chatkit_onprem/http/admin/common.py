"""Small helpers every admin controller shares: strict JSON bodies and the body cap."""

from __future__ import annotations

from typing import Any, TypeVar

from litestar import Request
from pydantic import BaseModel, ConfigDict, ValidationError

from chatkit_onprem.auth.identity import valid_identity
from chatkit_onprem.errors import ApiError, validation_details

ADMIN_BODY_CAP = 64 * 1024
M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


async def parse_body(request: Request[Any, Any, Any], model: type[M]) -> M:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise ApiError(
            400, "invalid_params", "invalid request body", details=validation_details(exc)
        ) from None


def check_identity(label: str, value: str | None) -> None:
    if value is not None and valid_identity(value) is None:
        raise ApiError(400, "invalid_params", f"{label} must be printable text without edge spaces")
