"""structlog setup: JSON lines in production, a readable console in development.

Every line of a request carries its ``request_id`` (bound in contextvars by the
request-id middleware). Whatever the format and the level:

* secrets and message content are redacted by key before anything is rendered;
* tracebacks are plain text (``format_exc_info``), never rendered with local
  variables (a console renderer with rich shows each frame's locals, and a request
  frame holds the ``Authorization`` header and the body);
* every string in an event, the traceback included, is cut to ``VALUE_LIMIT``
  characters per line, so a value a client sent (a 3 MB action type in an error
  message) never becomes a megabyte log line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

_SECRET_KEYS = ("authorization", "token", "secret", "password", "api_key", "apikey", "cookie", "key")
_CONTENT_KEYS = ("text", "content", "input", "prompt", "message_text", "arguments", "output")
_KEEP = ("event", "request_id", "level", "timestamp", "logger")
_REDACTED = "[redacted]"
#: Longest string (per line, for tracebacks) a log event keeps.
VALUE_LIMIT = 1000


def _redactor(log_content: bool) -> structlog.types.Processor:
    def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key in list(event):
            lowered = key.lower()
            if lowered in _KEEP:
                continue
            if (any(s in lowered for s in _SECRET_KEYS) and not lowered.endswith(("_id", "_count"))) or (
                not log_content and lowered in _CONTENT_KEYS
            ):
                event[key] = _REDACTED
        return event

    return redact


def _clip(text: str) -> str:
    if len(text) <= VALUE_LIMIT:
        return text
    if "\n" in text:
        return "\n".join(_clip(line) for line in text.split("\n"))
    return f"{text[:VALUE_LIMIT]}… [{len(text) - VALUE_LIMIT} more characters]"


def _truncate(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str) and len(value) > VALUE_LIMIT:
            event[key] = _clip(value)
        elif not isinstance(value, str | int | float | bool | type(None)):
            rendered = repr(value)
            if len(rendered) > VALUE_LIMIT:
                event[key] = _clip(rendered)
    return event


def configure_logging(
    *, level: str = "info", fmt: Literal["json", "console"] = "console", log_content: bool = False
) -> None:
    """Route structlog and the standard library (granian, chatkit, agents) through one pipeline."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redactor(log_content),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,  # plain text: no locals, in either format
                _truncate,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # openai-agents logs model and tool payloads at DEBUG only when its environment says so
    # (read at import): ``serve`` sets it from ``logging.log_content`` before the worker starts.
    # The chatkit library logs every request op at INFO; keep it at WARNING unless debugging.
    for noisy in ("chatkit", "openai", "httpx", "httpcore", "openai.agents"):
        logging.getLogger(noisy).setLevel(logging.WARNING if level != "debug" else logging.DEBUG)


def agents_log_environment(log_content: bool) -> dict[str, str]:
    """The Agents SDK's own switches for logging model and tool payloads (its public
    environment variables, read when it is imported): off unless content logging is on."""
    flag = "0" if log_content else "1"
    return {"OPENAI_AGENTS_DONT_LOG_MODEL_DATA": flag, "OPENAI_AGENTS_DONT_LOG_TOOL_DATA": flag}


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)  # type: ignore[no-any-return]
