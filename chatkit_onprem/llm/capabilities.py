"""What a model object can do, declared by the model itself.

The provider reads these once per alias when it is built (``llm.provider``), and the
turn engine takes its decisions from the alias's combined capabilities: no
``isinstance`` checks on concrete classes at turn time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ModelCapabilities:
    #: Streams are parsed by our own parser (cheap events, real item ids).
    lean_stream: bool = False
    #: A stream may be opened in one task and read in another: the model sets no context
    #: variables (the SDK's models do, and resetting them in another task fails).
    starts_early: bool = False


#: The Agents SDK's own models.
SDK_MODEL = ModelCapabilities()
#: Our models: the lean Chat Completions and Responses parsers, the scripted model.
OWN_MODEL = ModelCapabilities(lean_stream=True, starts_early=True)


def capabilities_of(model: Any) -> ModelCapabilities:
    found = getattr(model, "capabilities", None)
    return found if isinstance(found, ModelCapabilities) else SDK_MODEL
