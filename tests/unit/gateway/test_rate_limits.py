"""Rate limits as the gateway applies them (limits/guard.py over in-process counts), with a clock
the test moves; and the pure window arithmetic."""

from __future__ import annotations

from toolmesh.api.integration import Limits as IntegrationLimits
from toolmesh.common.call_meta import REFUSED_META
from toolmesh.gateway.limits import windows
from toolmesh.gateway.limits.breaker import Pass
from toolmesh.gateway.limits.guard import Limits, Refusal, Ticket
from toolmesh.gateway.metrics import GatewayMetrics
from toolmesh.gateway.settings import GatewaySettings


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def guard(clock: Clock, specs: dict[str, IntegrationLimits] | None = None, **settings: object) -> Limits:
    return Limits(
        GatewaySettings(**settings),  # type: ignore[arg-type]
        specs or {},
        GatewayMetrics(),
        clock=clock,
        monotonic=clock,
    )


def test_windows_are_aligned_on_the_minute_so_replicas_agree() -> None:
    assert windows.window(120.0) == (2, 60.0)
    assert windows.window(179.5) == (2, 0.5)
    assert windows.retry_seconds(0.2) == 1
    assert windows.retry_seconds(12.1) == 13


async def test_a_caller_over_their_limit_is_refused_with_when_to_retry_and_others_go_on() -> None:
    clock = Clock(6000.0 + 15)
    limits = guard(clock, limits_caller_per_minute=2)
    assert isinstance(await limits.admit("alice", "t__a", "tasks"), Ticket)
    assert isinstance(await limits.admit("alice", "t__b", "tasks"), Ticket)
    refused = await limits.admit("alice", "t__a", "tasks")
    assert isinstance(refused, Refusal)
    assert refused.outcome == "rate_limited"
    assert "your calls per minute (all tools) is 2" in refused.text
    assert "Retry in 45 s" in refused.text
    assert refused.meta[REFUSED_META] == {
        "reason": "rateLimited", "limit": "caller", "calls": 2, "integration": "tasks", "retryAfterSeconds": 45,
    }  # fmt: skip
    assert isinstance(await limits.admit("bob", "t__a", "tasks"), Ticket)
    clock.now += 45  # the next minute
    assert isinstance(await limits.admit("alice", "t__a", "tasks"), Ticket)
    assert limits.metrics.limited.labels("tasks", "caller")._value.get() == 1


async def test_the_integrations_spec_overrides_the_gateway_defaults_and_zero_lifts_a_limit() -> None:
    clock = Clock(60.0)
    specs = {
        "crm": IntegrationLimits(calls_per_minute=3, per_user_calls_per_minute=1),
        "open": IntegrationLimits(calls_per_minute=0),
    }
    limits = guard(clock, specs, limits_integration_per_minute=1)
    assert isinstance(await limits.admit("alice", "crm__a", "crm"), Ticket)
    refused = await limits.admit("alice", "crm__b", "crm")
    assert isinstance(refused, Refusal)
    assert refused.meta[REFUSED_META]["limit"] == "integrationCaller"
    assert isinstance(await limits.admit("bob", "crm__a", "crm"), Ticket)
    assert isinstance(await limits.admit("carol", "crm__a", "crm"), Ticket)
    refused = await limits.admit("dave", "crm__a", "crm")
    assert isinstance(refused, Refusal)
    assert "integration crm, all callers together is 3" in refused.text
    for caller in ("a", "b", "c"):
        assert isinstance(await limits.admit(caller, "open__x", "open"), Ticket)
    assert isinstance(await limits.admit("a", "other__x", "other"), Ticket)
    assert isinstance(await limits.admit("b", "other__x", "other"), Refusal)  # the default: 1


async def test_a_refused_call_counts_against_no_limit() -> None:
    clock = Clock(60.0)
    limits = guard(clock, limits_caller_per_minute=5, limits_caller_tool_per_minute=1)
    assert isinstance(await limits.admit("alice", "t__a", "tasks"), Ticket)
    for _ in range(10):
        assert isinstance(await limits.admit("alice", "t__a", "tasks"), Refusal)
    for tool in ("t__b", "t__c", "t__d", "t__e"):  # the caller limit saw one call, not eleven
        assert isinstance(await limits.admit("alice", tool, "tasks"), Ticket)


async def test_an_open_circuit_refuses_fast_and_marks_search_results() -> None:
    clock = Clock(60.0)
    limits = guard(clock, breaker_failures=2, breaker_cooldown_seconds=20)
    for _ in range(2):
        ticket = await limits.admit("alice", "t__a", "tasks")
        assert isinstance(ticket, Ticket)
        limits.record(ticket, outage=True)
    refused = await limits.admit("bob", "t__a", "tasks")
    assert isinstance(refused, Refusal)
    assert refused.outcome == "circuit_open"
    assert refused.meta[REFUSED_META]["retryAfterSeconds"] == 20
    assert limits.unavailable("tasks") == " (unavailable: integration tasks is failing; retry in 20 s)"
    assert limits.unavailable("crm") == ""
    assert limits.metrics.circuit_state.labels("tasks")._value.get() == 2
    clock.now += 20
    probe = await limits.admit("bob", "t__a", "tasks")
    assert isinstance(probe, Ticket)
    assert probe.admitted is Pass.PROBE
    limits.record(probe, outage=False)
    assert limits.unavailable("tasks") == ""
    assert limits.metrics.circuit_transitions.labels("tasks", "closed")._value.get() == 1


async def test_a_probe_refused_by_a_rate_limit_leaves_the_next_call_its_turn() -> None:
    clock = Clock(60.0)
    limits = guard(clock, breaker_failures=1, limits_caller_tool_per_minute=1)
    ticket = await limits.admit("alice", "t__a", "tasks")
    assert isinstance(ticket, Ticket)
    limits.record(ticket, outage=True)
    clock.now += 30
    assert isinstance(await limits.admit("alice", "t__a", "tasks"), Refusal)  # alice's tool limit
    probe = await limits.admit("bob", "t__a", "tasks")
    assert isinstance(probe, Ticket)
    assert probe.admitted is Pass.PROBE


def test_each_scope_has_its_own_key_naming_neither_caller_nor_tool() -> None:
    found = windows.limits(windows.Configured(1, 1, 1, 1), "alice@example.com", "crm__delete", "crm")
    assert [limit.scope for limit in found] == list(windows.Scope)
    assert len({limit.key for limit in found}) == 4
    assert not any("alice" in limit.key or "crm" in limit.key for limit in found)
