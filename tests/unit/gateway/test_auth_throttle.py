"""Wrong credentials are throttled per client: a burst, then a steady trickle; nothing else is counted."""

from __future__ import annotations

from toolmesh.gateway.auth import FailureThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_failures_then_one_per_interval_and_other_clients_unaffected() -> None:
    clock = Clock()
    throttle = FailureThrottle(per_minute=3, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 20.0  # 60 s / 3
    assert throttle.retry_after("10.0.0.2") == 0
    clock.now += 20.0
    assert throttle.retry_after("10.0.0.1") == 0
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 20.0


def test_a_refilled_client_is_forgotten_and_memory_is_bounded() -> None:
    clock = Clock()
    throttle = FailureThrottle(per_minute=3, clock=clock, max_clients=2)
    throttle.failed("a")
    clock.now += 60.0
    throttle.succeeded("a")
    assert throttle._buckets == {}
    for client in ("b", "c", "d"):
        throttle.failed(client)
    assert len(throttle._buckets) == 2


def test_zero_means_no_limit() -> None:
    throttle = FailureThrottle(per_minute=0)
    for _ in range(100):
        throttle.failed("x")
    assert throttle.retry_after("x") == 0
