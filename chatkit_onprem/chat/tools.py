"""Tools the agent can call. They show every kind of item the protocol carries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from agents import FunctionTool, RunContextWrapper, function_tool
from chatkit.agents import AgentContext, ClientToolCall
from chatkit.types import (
    LockedStatus,
    ProgressUpdateEvent,
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
    ThreadItemDoneEvent,
)

from chatkit_onprem.chat.widgets import counter_widget
from chatkit_onprem.context import RequestContext

Ctx = RunContextWrapper[AgentContext[RequestContext]]

CLIENT_TOOL = "get_selection"
#: Tools after which the turn ends and waits for the client or the user.
STOP_AT = ("get_client_selection", "ask_preferences")


@function_tool
async def show_counter_widget(ctx: Ctx, start: int = 0) -> str:
    """Show a counter widget with a +1 button."""
    await ctx.context.stream_widget(counter_widget(start), copy_text=f"Count: {start}")
    return "Showed a counter widget."


@function_tool
async def run_long_task(ctx: Ctx, steps: int = 3) -> str:
    """Run a slow task, reporting progress as it goes."""
    steps = max(1, min(steps, 10))
    for step in range(1, steps + 1):
        await ctx.context.stream(ProgressUpdateEvent(icon="bolt", text=f"Step {step} of {steps}…"))
        await asyncio.sleep(0.02)
    return f"Finished {steps} steps."


@function_tool
async def get_client_selection(ctx: Ctx, reason: str = "") -> str:
    """Ask the web client for the user's current selection (a client tool)."""
    ctx.context.client_tool_call = ClientToolCall(name=CLIENT_TOOL, arguments={"reason": reason})
    return "Waiting for the client."


@function_tool
async def ask_preferences(ctx: Ctx) -> str:
    """Ask the user structured questions and wait for the answers."""
    thread = ctx.context.thread
    item = StructuredInputItem(
        id=ctx.context.generate_id("message"),
        thread_id=thread.id,
        created_at=datetime.now(UTC),
        inputs=[
            StructuredInputMultipleChoice(
                id="tone",
                question="Which tone do you prefer?",
                options=[StructuredInputMultipleChoiceOption(value=v) for v in ("formal", "casual")],
            ),
            StructuredInputFreeform(id="topic", question="What should we talk about?"),
        ],
    )
    await ctx.context.stream(ThreadItemDoneEvent(item=item))
    return "Asked the user."


@function_tool
async def lock_thread(ctx: Ctx, reason: str = "Locked.") -> str:
    """Lock the thread: it accepts no further messages."""
    ctx.context.thread.status = LockedStatus(reason=reason)
    return "The thread is locked."


def default_tools() -> list[FunctionTool]:
    return [show_counter_widget, run_long_task, get_client_selection, ask_preferences, lock_thread]
