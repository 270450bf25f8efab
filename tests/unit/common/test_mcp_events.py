"""ListWatch: a list's change is published once, and only a change."""

from __future__ import annotations

from mcp.server.subscriptions import InMemorySubscriptionBus, ServerEvent, ToolsListChanged

from toolmesh.common.mcp_events import ListWatch


async def test_a_change_is_published_once_and_the_first_look_is_not_a_change() -> None:
    bus = InMemorySubscriptionBus()
    seen: list[ServerEvent] = []
    bus.subscribe(seen.append)
    tools = ["a"]
    prompts: list[str] = []
    watch = ListWatch(bus, {"tools": lambda: tuple(tools), "prompts": lambda: tuple(prompts)})

    assert await watch.check() == []
    assert await watch.check() == []
    tools.append("b")
    assert await watch.check() == ["tools"]
    assert await watch.check() == [], "told once"
    assert seen == [ToolsListChanged()]
