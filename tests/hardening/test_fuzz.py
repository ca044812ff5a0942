"""A bounded fuzz run: 5,000 generated requests against a real server, not one 5xx.

Requests are the 16 ChatKit request types, well formed against real threads and items
and then mutated (a parameter swapped for junk, dropped, or given a lone surrogate),
plus broken bodies (truncated, non-UTF-8, deeply nested, random bytes), odd headers
and other routes. The seed is fixed, so a CI failure reproduces.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from chatkit_onprem.chat.protocol import REQUEST_TYPES
from tests.support.client import ChatKitClient, text_input
from tests.support.server import ServerProcess

EXAMPLES = 5_000
JUNK_IDS = ["", "thr_", "x" * 300, "thr_\u0000", "../../etc/passwd", "thr_ä", "%00", "msg missing", "1e309"]

json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


class World:
    """Real ids the fuzzer aims at, so requests also reach past the 404 checks."""

    threads: list[str] = []
    items: list[str] = []
    user_messages: list[str] = []


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each drawn ``weight`` times as often (``one_of`` treats equal
    strategies as one)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.integers(0, len(table) - 1).flatmap(lambda i: table[i])


def pick(pool: list[str]) -> st.SearchStrategy[str]:
    return weighted((3, st.sampled_from(pool)), (1, st.sampled_from(JUNK_IDS)))


def params_for(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    thread, item, message = pick(World.threads), pick(World.items), pick(World.user_messages)
    text = st.text(max_size=80)
    action = st.fixed_dictionaries(
        {"type": st.sampled_from(["counter.increment", "unknown.action"]), "payload": json_value}
    )
    order = st.sampled_from(["asc", "desc"])
    limit = st.one_of(st.none(), st.integers(-5, 500))
    builders: dict[str, st.SearchStrategy[dict[str, Any]]] = {
        "threads.create": st.builds(lambda t: {"input": text_input(t)}, text),
        "threads.add_user_message": st.builds(
            lambda i, t: {"thread_id": i, "input": text_input(t)}, thread, text
        ),
        "threads.add_client_tool_output": st.builds(
            lambda i, r: {"thread_id": i, "result": r}, thread, json_value
        ),
        "threads.add_structured_input": st.builds(
            lambda i, m, s: {"thread_id": i, "item_id": m, "input": {"answers": {}, "status": s}},
            thread,
            item,
            st.sampled_from(["submitted", "skipped"]),
        ),
        "threads.retry_after_item": st.builds(lambda i, m: {"thread_id": i, "item_id": m}, thread, message),
        "threads.custom_action": st.builds(
            lambda i, m, a: {"thread_id": i, "item_id": m, "action": a}, thread, st.none() | item, action
        ),
        "threads.sync_custom_action": st.builds(
            lambda i, m, a: {"thread_id": i, "item_id": m, "action": a}, thread, st.none() | item, action
        ),
        "threads.get_by_id": st.builds(lambda i: {"thread_id": i}, thread),
        "threads.list": st.builds(
            lambda n, a, o: {"limit": n, "after": a, "order": o}, limit, st.none() | thread, order
        ),
        "threads.update": st.builds(lambda i, t: {"thread_id": i, "title": t}, thread, text),
        "threads.delete": st.builds(lambda i: {"thread_id": i}, st.sampled_from([*JUNK_IDS[:2], "thr_gone"])),
        "items.list": st.builds(
            lambda i, n, a, o: {"thread_id": i, "limit": n, "after": a, "order": o},
            thread,
            limit,
            st.none() | item,
            order,
        ),
        "items.feedback": st.builds(
            lambda i, ms, k: {"thread_id": i, "item_ids": ms, "kind": k},
            thread,
            st.lists(item, max_size=3),
            st.sampled_from(["positive", "negative", "meh"]),
        ),
        "attachments.create": st.builds(
            lambda n, s, m: {"name": n, "size": s, "mime_type": m},
            text,
            st.integers(-1, 10**10),
            st.sampled_from(["text/plain", "image/png", "application/x-msdownload", ""]),
        ),
        "attachments.delete": st.builds(lambda a: {"attachment_id": a}, st.sampled_from(JUNK_IDS)),
        "input.transcribe": st.builds(
            lambda b, m: {"audio_base64": b, "mime_type": m},
            st.one_of(
                st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()), st.text(max_size=20)
            ),
            st.sampled_from(["audio/webm", "audio/ogg", "text/plain"]),
        ),
    }
    return builders[kind]


def mutated(params: dict[str, Any], how: int, junk: Any) -> dict[str, Any]:
    """Unchanged (how 0-4), one key dropped (5), or one value swapped for junk (6)."""
    if how < 5 or not params:
        return params
    key = sorted(params)[len(junk if isinstance(junk, str) else "") % len(params)]
    out = dict(params)
    if how == 5:
        del out[key]
    else:
        out[key] = junk
    return out


def well_formed() -> st.SearchStrategy[bytes]:
    return st.sampled_from(REQUEST_TYPES).flatmap(
        lambda kind: st.builds(
            lambda p, how, junk: json.dumps({"type": kind, "params": mutated(p, how, junk)}).encode(),
            params_for(kind),
            st.integers(0, 6),
            json_value,
        )
    )


def broken() -> st.SearchStrategy[bytes]:
    surrogate = st.builds(
        lambda kind, key: (
            json.dumps({"type": kind, "params": {key: "a-SURROGATE-b"}})
            .replace("-SURROGATE-", "\\ud800")
            .encode()
        ),
        st.sampled_from(REQUEST_TYPES),
        st.sampled_from(["thread_id", "item_id", "title", "after", "attachment_id"]),
    )
    deep = st.integers(100, 3000).map(
        lambda n: ('{"type": "threads.list", "params": ' + "[" * n + "]" * n + "}").encode()
    )
    random_types = st.builds(
        lambda kind, p: json.dumps({"type": kind, "params": p}).encode(), st.text(max_size=12), json_value
    )
    truncated = st.builds(lambda body, cut: body[:cut], well_formed(), st.integers(0, 120))
    return st.one_of(surrogate, deep, random_types, truncated, st.binary(max_size=64))


Request = tuple[str, str, bytes, dict[str, str]]


def request() -> st.SearchStrategy[Request]:
    user = weighted(
        (9, st.just("fuzzer")),
        (1, st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=30)),
    )
    headers = st.builds(
        lambda ct, u, rid: {"Content-Type": ct, "X-Dev-User": u, "X-Request-Id": rid},
        st.sampled_from(["application/json", "application/json", "text/plain", ""]),
        user,
        st.text(alphabet="abc-._:/", max_size=20),
    )
    chatkit = weighted((6, well_formed()), (1, broken()))
    other = st.tuples(
        st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS"]),
        st.one_of(
            st.sampled_from(
                ["/files", "/healthz", "/readyz", "/metrics", "/admin/v1/whoami", "/", "/static/x"]
            ),
            pick(World.items).map(lambda i: f"/files/{i}"),
            st.sampled_from(JUNK_IDS).map(lambda i: f"/files/{i}/preview?exp=1&sig=x"),
            st.text(alphabet="abc/%.", max_size=20).map(lambda p: "/" + p),
        ),
        st.binary(max_size=64),
        headers,
    )
    return weighted((5, st.tuples(st.just("POST"), st.just("/chatkit"), chatkit, headers)), (1, other))


def _seed_world(client: ChatKitClient) -> None:
    for text in ("plain words", "show me a widget", "ask me something", "call the client tool"):
        thread_id, _ = client.create_thread(text)
        client.send(thread_id, "and a second message")
        items = client.call("items.list", {"thread_id": thread_id, "limit": 50})["data"]
        World.threads.append(thread_id)
        World.items += [i["id"] for i in items]
        World.user_messages += [i["id"] for i in items if i["type"] == "user_message"]


def test_fuzzed_requests_never_get_a_5xx(server: ServerProcess) -> None:
    client = ChatKitClient(server.url, user="fuzzer")
    _seed_world(client)
    http = httpx.Client(base_url=server.url, timeout=30)
    seen: dict[str, int] = {"requests": 0, "streams": 0}
    statuses: dict[int, int] = {}

    @seed(20261124)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(request())
    def fuzz(req: Request) -> None:
        method, path, body, headers = req
        seen["requests"] += 1
        try:
            response = http.request(method, path, content=body, headers=headers)
        except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
            return  # a request httpx itself refuses to send
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code == 501:
            # The one deliberate 5xx: input.transcribe on a server with no transcription
            # upstream configured (README: "absent: 501"). Not a failure of the server.
            assert response.json()["error"]["code"] == "not_supported", response.text[:300]
            return
        assert response.status_code < 500, (response.status_code, response.text[:500])
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            seen["streams"] += 1
            assert "internal error" not in response.text, response.text[:500]

    fuzz()
    print("fuzzed statuses:", dict(sorted(statuses.items())), "streams:", seen["streams"])
    assert seen["requests"] >= EXAMPLES
    # The run reached past parsing: successes and streams, not only refusals.
    assert statuses.get(200, 0) > EXAMPLES // 10 and seen["streams"] > EXAMPLES // 20, statuses
    assert http.get("/healthz").status_code == 200
