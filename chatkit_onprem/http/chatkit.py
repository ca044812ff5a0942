"""``POST /chatkit``: the whole ChatKit protocol behind one route."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.response import Stream

from chatkit_onprem.chat.protocol import is_streaming_req, parse_request
from chatkit_onprem.context import RequestContext
from chatkit_onprem.services import Services

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ChatKitController(Controller):
    path = "/chatkit"

    @post("", status_code=200)
    async def chatkit(
        self, request: Request[Any, Any, Any], services: Services, caller: RequestContext
    ) -> Response[Any]:
        parsed = parse_request(await request.body())
        if is_streaming_req(parsed):
            return Stream(
                services.endpoint.respond_stream(parsed, caller),
                media_type="text/event-stream",
                headers=SSE_HEADERS,
            )
        body = await services.endpoint.respond_json(parsed, caller)
        return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})
