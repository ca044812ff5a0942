"""structlog setup: JSON lines in production, a readable console in development.

Every line of a request carries its ``request_id`` (bound in contextvars by the
request-id middleware). Secrets and message content are redacted by default.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

_SECRET_KEYS = ("authorization", "token", "secret", "password", "api_key", "apikey", "cookie", "key")
_CONTENT_KEYS = ("text", "content", "input", "prompt", "message_text", "arguments", "output")
_REDACTED = "[redacted]"


def _redactor(log_content: bool) -> structlog.types.Processor:
    def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key in list(event):
            lowered = key.lower()
            if lowered in ("event", "request_id", "level", "timestamp", "logger"):
                continue
            if (any(s in lowered for s in _SECRET_KEYS) and not lowered.endswith(("_id", "_count"))) or (
                not log_content and lowered in _CONTENT_KEYS
            ):
                event[key] = _REDACTED
        return event

    return redact


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
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
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
                structlog.processors.format_exc_info if fmt == "json" else _noop,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # openai-agents logs model and tool payloads at DEBUG unless told not to; ours decides.
    from agents import _debug as agents_debug

    agents_debug.DONT_LOG_MODEL_DATA = not log_content
    agents_debug.DONT_LOG_TOOL_DATA = not log_content
    # The chatkit library logs every request op at INFO; keep it at WARNING unless debugging.
    for noisy in ("chatkit", "openai", "httpx", "httpcore", "openai.agents"):
        logging.getLogger(noisy).setLevel(logging.WARNING if level != "debug" else logging.DEBUG)


def _noop(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return event


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)  # type: ignore[no-any-return]
