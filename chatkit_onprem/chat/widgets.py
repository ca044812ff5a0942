"""The demo counter widget: one action, answered both streaming and sync."""

from __future__ import annotations

from typing import Any

from chatkit.widgets import DynamicWidgetRoot

COUNTER_ACTION = "counter.increment"


def counter_widget(count: int) -> DynamicWidgetRoot:
    return DynamicWidgetRoot.model_validate(
        {
            "type": "Card",
            "children": [
                {"type": "Title", "id": "counter-title", "value": "Counter"},
                {"type": "Text", "id": "counter-value", "value": f"Count: {count}"},
                {
                    "type": "Button",
                    "label": "+1",
                    "onClickAction": {"type": COUNTER_ACTION, "payload": {"count": count}},
                },
                {
                    "type": "Button",
                    "label": "+1 (sync)",
                    "onClickAction": {
                        "type": COUNTER_ACTION,
                        "payload": {"count": count},
                        "streaming": False,
                    },
                },
            ],
        }
    )


def counter_value(payload: Any) -> int:
    """The count an action carries; bad payloads count as zero."""
    if isinstance(payload, dict):
        value = payload.get("count", 0)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(0, min(value, 1_000_000))
    return 0
