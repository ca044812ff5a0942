"""The turn's state travels explicitly: no module-level context variables, no private
library internals outside their one adapter module."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "chatkit_onprem"


def sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text() for p in PACKAGE.rglob("*.py")}


def test_no_module_level_context_variables() -> None:
    found = [name for name, text in sources().items() if re.search(r"\bContextVar\s*[\[(]", text)]
    assert found == [], f"state must flow through arguments (context.turn), not ContextVars: {found}"


def test_chatkit_server_internals_are_used_in_the_adapter_only() -> None:
    private = re.compile(r"\._process_(streaming|non_streaming|new_thread_item_respond)|\._serialize\(")
    found = [name for name, text in sources().items() if private.search(text) and name != "chat/library.py"]
    assert found == [], found


def test_the_upstream_transport_uses_public_constructors_only() -> None:
    found = [
        name for name, text in sources().items() if "_network_backend" in text or "transport._pool" in text
    ]
    assert found == [], found
