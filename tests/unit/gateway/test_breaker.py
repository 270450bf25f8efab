"""The circuit breaker's states, with a clock the test moves."""

from __future__ import annotations

from toolmesh.gateway.limits import available
from toolmesh.gateway.limits.breaker import Breaker, Pass, State


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def through(b: Breaker) -> Pass:
    admitted = b.admit()
    assert isinstance(admitted, Pass)
    return admitted


def breaker(clock: Clock, seen: list[State], failures: int = 3) -> Breaker:
    return Breaker(failures, cooldown=30.0, probe_timeout=10.0, clock=clock, on_change=seen.append)


def test_consecutive_outages_open_it_and_a_success_in_between_starts_the_count_again() -> None:
    clock, seen = Clock(), list[State]()
    b = breaker(clock, seen)
    for outage in (True, True, False, True, True):
        b.record(through(b), outage=outage)
    assert b.state is State.CLOSED
    b.record(Pass.CALL, outage=True)
    assert b.state is State.OPEN
    assert seen == [State.OPEN]
    assert b.admit() == 30.0  # fails fast, saying when to try again
    clock.now += 12
    assert b.retry_after() == 18.0


def test_after_the_cooldown_one_probe_goes_through_and_its_success_closes_it() -> None:
    clock, seen = Clock(), list[State]()
    b = breaker(clock, seen, failures=1)
    b.record(Pass.CALL, outage=True)
    clock.now += 30
    assert b.admit() is Pass.PROBE
    assert b.state is State.HALF_OPEN
    assert b.admit() == 10.0  # the others still fail fast while the probe is out
    b.record(Pass.CALL, outage=False)  # a call let through before it opened says nothing
    assert b.state is State.HALF_OPEN
    b.record(Pass.PROBE, outage=False)
    assert b.state is State.CLOSED
    assert seen == [State.OPEN, State.HALF_OPEN, State.CLOSED]
    assert b.admit() is Pass.CALL


def test_a_failed_probe_opens_it_for_another_cooldown() -> None:
    clock, seen = Clock(), list[State]()
    b = breaker(clock, seen, failures=1)
    b.record(Pass.CALL, outage=True)
    clock.now += 31
    b.record(through(b), outage=True)
    assert b.state is State.OPEN
    assert b.admit() == 30.0


def test_a_probe_that_never_reports_or_is_not_sent_frees_its_turn() -> None:
    clock, seen = Clock(), list[State]()
    b = breaker(clock, seen, failures=1)
    b.record(Pass.CALL, outage=True)
    clock.now += 30
    assert b.admit() is Pass.PROBE
    clock.now += 10  # probe_timeout: its caller went away
    assert b.admit() is Pass.PROBE
    b.release(Pass.PROBE)  # refused by a rate limit after all
    assert b.admit() is Pass.PROBE


def test_outages_of_calls_let_through_before_it_opened_do_not_extend_the_cooldown() -> None:
    clock, seen = Clock(), list[State]()
    b = breaker(clock, seen, failures=1)
    b.record(Pass.CALL, outage=True)
    clock.now += 20
    b.record(Pass.CALL, outage=True)
    assert b.admit() == 10.0


def test_zero_failures_means_no_breaker() -> None:
    clock, seen = Clock(), list[State]()
    b = breaker(clock, seen, failures=0)
    for _ in range(100):
        b.record(Pass.CALL, outage=True)
    assert b.state is State.CLOSED
    assert seen == []


def test_the_available_condition_is_written_only_when_it_changes() -> None:
    now = "2026-12-04T05:00:00Z"
    opened = available.wanted({}, True, 3, now)
    assert opened is not None
    assert (opened["status"], opened["reason"], opened["observedGeneration"]) == ("False", "CircuitOpen", 3)
    assert available.wanted(opened, True, 3, "2026-12-04T06:00:00Z") is None
    closed = available.wanted(opened, False, 3, now)
    assert closed is not None
    assert (closed["status"], closed["reason"]) == ("True", "CircuitClosed")


def test_while_a_slow_probe_is_out_callers_are_told_to_retry_within_a_cooldown() -> None:
    clock, seen = Clock(), list[State]()
    b = Breaker(1, cooldown=5.0, probe_timeout=120.0, clock=clock, on_change=seen.append)
    b.record(Pass.CALL, outage=True)
    clock.now += 5
    assert b.admit() is Pass.PROBE
    assert b.admit() == 5.0
    assert b.retry_after() == 5.0
