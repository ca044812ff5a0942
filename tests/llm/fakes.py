"""A fake OpenAI-compatible upstream and a real forward proxy, both over real sockets.

Both run an asyncio loop in a background thread of the test process (or, for the
benchmark, in a process of their own) and speak plain HTTP/1.1, so the server
under test reaches them exactly as it would reach vLLM behind a corporate proxy.

The upstream serves ``/v1/chat/completions`` and ``/v1/responses`` (streamed and
not), ``/v1/audio/transcriptions`` and ``/v1/models``. What it answers is
scripted per request (``upstream.plan.append(...)``); with no plan it echoes the
user's last message. It records every request it receives.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# --- behaviours ---------------------------------------------------------------


@dataclass
class Reply:
    """Stream ``text`` (split into word tokens unless ``tokens`` is given)."""

    text: str = ""
    tokens: list[str] | None = None
    first_delay: float = 0.0
    token_delay: float = 0.0
    usage: tuple[int, int] = (11, 7)

    def token_list(self) -> list[str]:
        if self.tokens is not None:
            return self.tokens
        words = self.text.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    usage: tuple[int, int] = (20, 5)


@dataclass
class Status:
    """Answer an HTTP error before any token."""

    code: int
    retry_after: float | None = None
    message: str = "injected failure"


@dataclass
class Hang:
    """Say nothing for ``seconds`` (a read timeout on the client side)."""

    seconds: float


@dataclass
class Cut:
    """Stream ``text`` then drop the connection after ``after`` tokens."""

    text: str
    after: int = 2


Behaviour = Reply | ToolCall | Status | Hang | Cut


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    peer: str

    def last_user_text(self) -> str:
        return last_user_text(self.body)


def last_user_text(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    items = body.get("messages") or body.get("input") or []
    if isinstance(items, str):
        return items
    for item in reversed(items):
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p)
    return ""


# --- a tiny HTTP/1.1 server base --------------------------------------------------


class _LoopThread:
    """An asyncio server on 127.0.0.1:<free port>, run in a daemon thread."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> _LoopThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._server = await asyncio.start_server(
                self._guarded, "127.0.0.1", 0, ssl=self.tls, limit=2**22
            )
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(main())
        self._loop.run_forever()

    async def _guarded(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self.handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            pass
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may already be stopped
                writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        self._thread.join(5)


async def read_head(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], list[tuple[str, str]]] | None:
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    raw: list[tuple[str, str]] = []
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, value = h.decode("latin-1").split(":", 1)
        headers[name.strip().lower()] = value.strip()
        raw.append((name.strip(), value.strip()))
    return method, target, headers, raw


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int((await reader.readline()).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                return bytes(out)
            out += await reader.readexactly(size)
            await reader.readline()
    return b""


def _response_head(code: int, headers: dict[str, str]) -> bytes:
    reason = {200: "OK", 407: "Proxy Authentication Required", 429: "Too Many Requests"}.get(code, "Status")
    lines = [f"HTTP/1.1 {code} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# --- the fake upstream ----------------------------------------------------------------


class FakeUpstream(_LoopThread):
    def __init__(self, tls: ssl.SSLContext | None = None, *, default: Behaviour | None = None) -> None:
        super().__init__(tls)
        self.plan: list[Behaviour] = []
        self.default = default
        self.requests: list[Recorded] = []
        self.transcript = "transcribed words"
        self.abandoned_streams = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/v1"

    def model_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(("/chat/completions", "/responses"))]

    def _next(self, body: Any) -> Behaviour:
        with self._lock:
            if self.plan:
                return self.plan.pop(0)
        if self.default is not None:
            return self.default
        return Reply(f"Echo: {last_user_text(body)}")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        while True:
            head = await read_head(reader)
            if head is None:
                return
            method, target, headers, _ = head
            raw = await read_body(reader, headers)
            path = urlsplit(target).path
            body: Any
            try:
                body = json.loads(raw) if raw and "json" in headers.get("content-type", "") else raw
            except json.JSONDecodeError:
                body = raw
            self.requests.append(Recorded(method, path, headers, body, f"{peer[0]}:{peer[1]}"))
            keep = await self.dispatch(method, path, body, writer)
            if not keep:
                return

    async def dispatch(self, method: str, path: str, body: Any, writer: asyncio.StreamWriter) -> bool:
        if path.endswith("/models"):
            return await self._json(
                writer, 200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}
            )
        if path.endswith("/audio/transcriptions"):
            return await self._json(writer, 200, {"text": self.transcript})
        if not path.endswith(("/chat/completions", "/responses")) or method != "POST":
            return await self._json(writer, 404, {"error": {"message": f"no route {path}"}})
        behaviour = self._next(body)
        if isinstance(behaviour, Status):
            headers = {}
            if behaviour.retry_after is not None:
                headers["Retry-After"] = str(behaviour.retry_after)
            return await self._json(
                writer, behaviour.code, {"error": {"message": behaviour.message}}, headers
            )
        if isinstance(behaviour, Hang):
            await asyncio.sleep(behaviour.seconds)
            return False
        responses = path.endswith("/responses")
        stream = bool(body.get("stream")) if isinstance(body, dict) else False
        if not stream:
            return await self._json(writer, 200, _complete(behaviour, body, responses))
        writer.write(
            _response_head(
                200,
                {
                    "Content-Type": "text/event-stream",
                    "Transfer-Encoding": "chunked",
                    "Cache-Control": "no-cache",
                },
            )
        )
        events = _responses_events(behaviour, body) if responses else _chat_events(behaviour, body)
        try:
            for sent, (delay, payload) in enumerate(events):
                if delay:
                    await asyncio.sleep(delay)
                if isinstance(behaviour, Cut) and sent >= behaviour.after + 1:
                    writer.transport.abort()  # no terminating chunk: the client sees a cut stream
                    return False
                if writer.is_closing():
                    raise ConnectionResetError("the client closed the stream")
                data = (
                    payload
                    if isinstance(payload, bytes)
                    else b"data: " + json.dumps(payload).encode() + b"\n\n"
                )
                writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            self.abandoned_streams += 1  # the client went away before the answer ended
            raise
        return True

    async def _json(
        self, writer: asyncio.StreamWriter, code: int, body: Any, extra: dict[str, str] | None = None
    ) -> bool:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Content-Length": str(len(data)), **(extra or {})}
        writer.write(_response_head(code, headers) + data)
        await writer.drain()
        return True


def _text_of(behaviour: Behaviour) -> tuple[list[str], tuple[int, int]]:
    if isinstance(behaviour, Reply):
        return behaviour.token_list(), behaviour.usage
    if isinstance(behaviour, Cut):
        words = behaviour.text.split(" ")
        return [w + " " for w in words], (0, 0)
    return [], (0, 0)


def _chat_events(behaviour: Behaviour, body: Any) -> list[tuple[float, Any]]:
    model = body.get("model", "fake") if isinstance(body, dict) else "fake"
    base = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    include_usage = (
        bool((body.get("stream_options") or {}).get("include_usage")) if isinstance(body, dict) else False
    )
    out: list[tuple[float, Any]] = []
    if isinstance(behaviour, ToolCall):
        call = {
            "index": 0,
            "id": "call_fake1",
            "type": "function",
            "function": {"name": behaviour.name, "arguments": json.dumps(behaviour.arguments)},
        }
        out.append(
            (0, {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [call]}}]})
        )
        out.append((0, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}))
        usage = behaviour.usage
    else:
        tokens, usage = _text_of(behaviour)
        first = behaviour.first_delay if isinstance(behaviour, Reply) else 0.0
        step = behaviour.token_delay if isinstance(behaviour, Reply) else 0.0
        for i, token in enumerate(tokens):
            delta: dict[str, Any] = {"content": token}
            if i == 0:
                delta["role"] = "assistant"
            out.append((first if i == 0 else step, {**base, "choices": [{"index": 0, "delta": delta}]}))
        out.append((0, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    if include_usage:
        out.append(
            (
                0,
                {
                    **base,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": usage[0],
                        "completion_tokens": usage[1],
                        "total_tokens": sum(usage),
                    },
                },
            )
        )
    out.append((0, b"data: [DONE]\n\n"))
    return out


def _response_obj(
    rid: str, model: str, output: list[Any], status: str, usage: tuple[int, int] | None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "output": output,
        "status": status,
        "parallel_tool_calls": False,
        "tool_choice": "auto",
        "tools": [],
    }
    if usage is not None:
        obj["usage"] = {
            "input_tokens": usage[0],
            "output_tokens": usage[1],
            "total_tokens": sum(usage),
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
    return obj


def _responses_events(behaviour: Behaviour, body: Any) -> list[tuple[float, Any]]:
    model = body.get("model", "fake") if isinstance(body, dict) else "fake"
    rid = f"resp_{time.monotonic_ns()}"
    seq = iter(range(10_000))
    out: list[tuple[float, Any]] = [
        (
            0,
            {
                "type": "response.created",
                "sequence_number": next(seq),
                "response": _response_obj(rid, model, [], "in_progress", None),
            },
        )
    ]
    if isinstance(behaviour, ToolCall):
        args = json.dumps(behaviour.arguments)
        item = {
            "type": "function_call",
            "id": "fc_fake1",
            "call_id": "call_fake1",
            "name": behaviour.name,
            "arguments": "",
            "status": "in_progress",
        }
        done = {**item, "arguments": args, "status": "completed"}
        out += [
            (
                0,
                {
                    "type": "response.output_item.added",
                    "sequence_number": next(seq),
                    "output_index": 0,
                    "item": item,
                },
            ),
            (
                0,
                {
                    "type": "response.function_call_arguments.delta",
                    "sequence_number": next(seq),
                    "output_index": 0,
                    "item_id": "fc_fake1",
                    "delta": args,
                },
            ),
            (
                0,
                {
                    "type": "response.function_call_arguments.done",
                    "sequence_number": next(seq),
                    "output_index": 0,
                    "item_id": "fc_fake1",
                    "arguments": args,
                },
            ),
            (
                0,
                {
                    "type": "response.output_item.done",
                    "sequence_number": next(seq),
                    "output_index": 0,
                    "item": done,
                },
            ),
            (
                0,
                {
                    "type": "response.completed",
                    "sequence_number": next(seq),
                    "response": _response_obj(rid, model, [done], "completed", behaviour.usage),
                },
            ),
        ]
        return out
    tokens, usage = _text_of(behaviour)
    first = behaviour.first_delay if isinstance(behaviour, Reply) else 0.0
    step = behaviour.token_delay if isinstance(behaviour, Reply) else 0.0
    mid = f"msg_{time.monotonic_ns()}"
    text = "".join(tokens)
    part = {"type": "output_text", "text": "", "annotations": []}
    message = {"type": "message", "id": mid, "role": "assistant", "status": "in_progress", "content": []}
    out += [
        (
            first,
            {
                "type": "response.output_item.added",
                "sequence_number": next(seq),
                "output_index": 0,
                "item": message,
            },
        ),
        (
            0,
            {
                "type": "response.content_part.added",
                "sequence_number": next(seq),
                "output_index": 0,
                "item_id": mid,
                "content_index": 0,
                "part": part,
            },
        ),
    ]
    for i, token in enumerate(tokens):
        out.append(
            (
                0 if i == 0 else step,
                {
                    "type": "response.output_text.delta",
                    "sequence_number": next(seq),
                    "output_index": 0,
                    "item_id": mid,
                    "content_index": 0,
                    "delta": token,
                    "logprobs": [],
                },
            )
        )
    full = {"type": "output_text", "text": text, "annotations": []}
    final = {**message, "status": "completed", "content": [full]}
    out += [
        (
            0,
            {
                "type": "response.output_text.done",
                "sequence_number": next(seq),
                "output_index": 0,
                "item_id": mid,
                "content_index": 0,
                "text": text,
                "logprobs": [],
            },
        ),
        (
            0,
            {
                "type": "response.content_part.done",
                "sequence_number": next(seq),
                "output_index": 0,
                "item_id": mid,
                "content_index": 0,
                "part": full,
            },
        ),
        (
            0,
            {
                "type": "response.output_item.done",
                "sequence_number": next(seq),
                "output_index": 0,
                "item": final,
            },
        ),
        (
            0,
            {
                "type": "response.completed",
                "sequence_number": next(seq),
                "response": _response_obj(rid, model, [final], "completed", usage),
            },
        ),
    ]
    return out


def _complete(behaviour: Behaviour, body: Any, responses: bool) -> dict[str, Any]:
    tokens, usage = _text_of(behaviour)
    text = "".join(tokens)
    model = body.get("model", "fake") if isinstance(body, dict) else "fake"
    if responses:
        message = {
            "type": "message",
            "id": "msg_title",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }
        return _response_obj("resp_title", model, [message], "completed", usage)
    return {
        "id": "chatcmpl-title",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


# --- the forward proxy ------------------------------------------------------------------


class ForwardProxy(_LoopThread):
    """HTTP forward proxy: absolute-form requests and CONNECT tunnels.

    ``auth=(user, password)`` demands Basic proxy credentials (else 407);
    ``refuse=502`` answers every request with that status. Every request it
    handles is recorded in ``seen`` ("GET http://..." or "CONNECT host:port").
    Forwarded requests carry ``Via: 1.1 test-proxy`` so the upstream can tell.
    """

    def __init__(self, *, auth: tuple[str, str] | None = None, refuse: int | None = None) -> None:
        super().__init__(None)
        self.auth = auth
        self.refuse = refuse
        self.seen: list[str] = []
        self.refused: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_head(reader)
        if head is None:
            return
        method, target, headers, raw = head
        line = f"{method} {target}"
        if self.refuse is not None:
            self.refused.append(line)
            writer.write(_response_head(self.refuse, {"Content-Length": "0", "Connection": "close"}))
            await writer.drain()
            return
        if self.auth is not None:
            expected = "Basic " + base64.b64encode(f"{self.auth[0]}:{self.auth[1]}".encode()).decode()
            if headers.get("proxy-authorization") != expected:
                self.refused.append(line)
                writer.write(
                    _response_head(
                        407,
                        {
                            "Proxy-Authenticate": 'Basic realm="test"',
                            "Content-Length": "0",
                            "Connection": "close",
                        },
                    )
                )
                await writer.drain()
                return
        self.seen.append(line)
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await _pipe_both(reader, writer, up_reader, up_writer)
            return
        url = urlsplit(target)
        body = await read_body(reader, headers)
        up_reader, up_writer = await asyncio.open_connection(url.hostname, url.port or 80)
        path = url.path + (f"?{url.query}" if url.query else "")
        keep = [
            (k, v)
            for k, v in raw
            if not k.lower().startswith("proxy-")
            and k.lower() not in ("connection", "transfer-encoding", "content-length")
        ]
        keep += [("Connection", "close"), ("Via", "1.1 test-proxy"), ("Content-Length", str(len(body)))]
        up_writer.write(
            (f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in keep) + "\r\n").encode()
            + body
        )
        await up_writer.drain()
        # Relay the response head with Connection: close, so the client opens a new
        # connection (and we see) every request; then the body until the upstream closes.
        status = await up_reader.readline()
        writer.write(status)
        while True:
            h = await up_reader.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            if h.lower().startswith(b"connection:"):
                continue
            writer.write(h)
        writer.write(b"Connection: close\r\n\r\n")
        await _pipe(up_reader, writer)
        up_writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass


async def _pipe_both(
    a_reader: asyncio.StreamReader,
    a_writer: asyncio.StreamWriter,
    b_reader: asyncio.StreamReader,
    b_writer: asyncio.StreamWriter,
) -> None:
    async def one(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _pipe(r, w)
        w.close()

    await asyncio.gather(one(a_reader, b_writer), one(b_reader, a_writer))


Waiter = Callable[[], Awaitable[None]]
