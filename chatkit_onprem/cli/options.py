"""The options every admin verb shares, and the decorator that gives them to a verb.

The connection options (``--config``, ``--url``, ``--token-file``, ``--ca-bundle``,
``--output``, ``--json``) may stand before the verb (``admin --url U keys status``: the
``admin`` callback keeps them in the Typer context) or after it (a verb's own value wins).
Click has no such global option, so ``@connected`` adds them to each verb's signature, which
Typer reads, and calls the verb with the ``Connection`` they make instead; the ``admin``
callback is ``remember_options``, with the same signature.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from chatkit_onprem.cli.client import Connection, connect

R = TypeVar("R")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file (for URL and token).")
]
UrlOption = Annotated[
    str | None, typer.Option("--url", envvar="CHATKIT_ONPREM_ADMIN_URL", help="Server base URL.")
]
TokenFileOption = Annotated[Path | None, typer.Option("--token-file", help="File holding the admin token.")]
CaOption = Annotated[
    Path | None, typer.Option("--ca-bundle", help="PEM CA bundle for the server's certificate (internal CA).")
]
OutputOption = Annotated[str | None, typer.Option("--output", "-o", help="json or table.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (same as --output json).")]
ConfirmOption = Annotated[bool, typer.Option("--confirm", help="Act; without it this is a dry run.")]
NoWaitOption = Annotated[bool, typer.Option("--no-wait", help="Queue the job and return at once.")]


def connection_options(
    config: ConfigOption = None,
    url: UrlOption = None,
    token_file: TokenFileOption = None,
    ca_bundle: CaOption = None,
    output: OutputOption = None,
    as_json: JsonOption = False,
) -> dict[str, Any]:
    """The connection options as given (the ``admin`` callback's signature and every verb's)."""
    return {
        "config": config,
        "url": url,
        "token_file": token_file,
        "ca_bundle": ca_bundle,
        "output": "json" if as_json else output,
    }


_OPTIONS = list(inspect.signature(connection_options, eval_str=True).parameters.values())
_CONTEXT = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)


def connection_for(ctx: typer.Context, given: dict[str, Any]) -> Connection:
    """The verb's options over those given before the verb (kept by the ``admin`` callback)."""
    base: dict[str, Any] = {}
    node: typer.Context | None = ctx
    while node is not None:
        if isinstance(node.obj, dict):
            base = node.obj
            break
        node = node.parent  # type: ignore[assignment]
    return connect(
        config=given["config"] or base.get("config"),
        url=given["url"] or base.get("url"),
        token_file=given["token_file"] or base.get("token_file"),
        ca_bundle=given["ca_bundle"] or base.get("ca_bundle"),
        output=given["output"] or base.get("output") or "table",
    )


def connected(verb: Callable[..., R]) -> Callable[..., R]:
    """Give ``verb(conn, ...)`` the connection options; it is called with the ``Connection``."""
    own = list(inspect.signature(verb, eval_str=True).parameters.values())
    if not own or own[0].name != "conn":
        raise TypeError(f"{verb.__name__} must take the connection as its first parameter, 'conn'")
    names = [p.name for p in _OPTIONS]

    @functools.wraps(verb)
    def with_connection(ctx: typer.Context, **given: Any) -> R:
        conn = connection_for(ctx, connection_options(**{name: given.pop(name) for name in names}))
        return verb(conn, **given)

    signature = inspect.Signature([_CONTEXT, *own[1:], *_OPTIONS])
    with_connection.__signature__ = signature  # type: ignore[attr-defined]
    with_connection.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()}
    return with_connection


def remember_options(ctx: typer.Context, **given: Any) -> None:
    """Options given here apply to every verb (a verb's own option wins)."""
    ctx.obj = connection_options(**given)


remember_options.__signature__ = inspect.Signature([_CONTEXT, *_OPTIONS])  # type: ignore[attr-defined]
remember_options.__annotations__ = {p.name: p.annotation for p in [_CONTEXT, *_OPTIONS]}
