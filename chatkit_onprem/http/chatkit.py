"""``POST /chatkit``: the whole ChatKit protocol behind one route.

The body is parsed once (``chat.protocol.parse_request``). A streaming request is then
admitted before anything is written, each refusal a plain JSON answer with its status:

1. the process's stream limit (``server.max_streams``) → 503 ``overloaded`` + Retry-After;
2. the caller's concurrent-stream limits (``rate_limits``) → 429 + Retry-After;
3. the thread's turn slot (one mutating turn per thread; waits up to
   ``chat.busy_wait_seconds``) → 409 ``thread_busy`` + Retry-After.

What was taken is held by the request's ``Turn`` and released when its stream ends,
or when the request ends if the stream never started.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.response import Stream

from chatkit_onprem.chat.protocol import is_streaming_req, parse_request
from chatkit_onprem.context import RequestContext
from chatkit_onprem.http.middleware import on_request_end
from chatkit_onprem.services import Services

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ChatKitController(Controller):
    path = "/chatkit"

    @post("", status_code=200)
    async def chatkit(
        self, request: Request[Any, Any, Any], services: Services, caller: RequestContext
    ) -> Response[Any]:
        parsed = parse_request(await request.body())
        if not is_streaming_req(parsed):
            body = await services.endpoint.respond_json(parsed, caller)
            return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})
        turn = services.endpoint.new_turn(parsed, caller)
        on_request_end(request.scope, turn.close)
        try:
            turn.on_close(services.admission.admit())
            turn.on_close(services.limiter.open_stream(caller))
            await services.endpoint.enter(turn)
        except BaseException:
            turn.close()
            raise
        return Stream(
            services.endpoint.respond_stream(parsed, replace(caller, turn=turn)),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
