"""Learning from outcomes (index/outcomes.py): what a search led to, and how that moves the next one."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.gateway.embedders import FixedEmbedder
from toolmesh.gateway.index.hybrid import HybridIndex, Weights
from toolmesh.gateway.index.outcomes import LearningSettings, Outcomes


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


NEWS, NEWS_TOO, WEATHER = unit(1, 0, 0), unit(0.95, 0.3, 0), unit(0, 0, 1)


def memory(clock: Clock, **settings: object) -> Outcomes:
    return Outcomes(dims=3, settings=LearningSettings(**settings), clock=clock)  # type: ignore[arg-type]


def test_a_call_after_a_search_raises_that_tool_for_close_searches_only() -> None:
    clock = Clock()
    m = memory(clock, scope="shared", skip_reward=0.0)
    m.searched("ann", [NEWS], ["ResearchFinder", "NewsTool"])
    assert m.called("ann", "NewsTool", ok=True)
    m.settle("ann")
    prior = m.prior(NEWS_TOO)
    closeness = (float(NEWS @ NEWS_TOO) - 0.4) / 0.6
    assert prior == {"NewsTool": pytest.approx(closeness / (closeness + 1.0))}  # smoothing 1
    assert m.prior(WEATHER) == {}


def test_tools_the_caller_read_past_are_skips_and_failed_calls_count_against() -> None:
    clock = Clock()
    m = memory(clock, scope="shared", skip_reward=-0.25, error_reward=-0.5)
    m.searched("ann", [NEWS], ["ResearchFinder", "NewsTool", "Other"])
    m.called("ann", "NewsTool", ok=False)
    m.settle("ann")
    prior = m.prior(NEWS)
    assert prior["ResearchFinder"] == pytest.approx(-0.25 / 3)  # two outcomes of weight 1, smoothing 1
    assert prior["NewsTool"] == pytest.approx(-0.5 / 3)
    assert "Other" not in prior  # below the lowest call: maybe never read


def test_only_a_shown_tool_called_within_the_window_answers_a_search() -> None:
    clock = Clock()
    m = memory(clock, scope="shared", window_seconds=60)
    m.searched("ann", [NEWS], ["NewsTool"])
    assert not m.called("ann", "WeatherTool", ok=True)  # not shown
    assert not m.called("bob", "NewsTool", ok=True)  # not bob's search
    clock.now += 61
    assert not m.called("ann", "NewsTool", ok=True)  # too late
    m.settle()
    assert len(m) == 0


def test_a_search_nothing_was_called_after_teaches_nothing() -> None:
    clock = Clock()
    m = memory(clock, scope="shared")
    m.searched("ann", [NEWS], ["ResearchFinder", "NewsTool"])
    m.searched("ann", [WEATHER], ["WeatherTool"])  # settles the first: no call
    clock.now += 10_000
    m.settle()
    assert len(m) == 0


def test_with_caller_scope_one_callers_outcomes_move_only_their_own_rankings() -> None:
    clock = Clock()
    m = memory(clock, scope="caller")
    m.searched("ann", [NEWS], ["NewsTool"])
    m.called("ann", "NewsTool", ok=True)
    m.settle("ann")
    assert set(m.prior(NEWS, "ann")) == {"NewsTool"}
    assert m.prior(NEWS, "bob") == {}
    shared = memory(clock, scope="shared")
    shared.searched("ann", [NEWS], ["NewsTool"])
    shared.called("ann", "NewsTool", ok=True)
    shared.settle("ann")
    assert set(shared.prior(NEWS, "bob")) == {"NewsTool"}


def test_outcomes_fade_with_the_half_life_and_the_oldest_leave_a_full_memory() -> None:
    clock = Clock()
    m = memory(clock, scope="shared", half_life_seconds=100.0, capacity=2, skip_reward=0.0)
    m.searched("ann", [NEWS], ["NewsTool"])
    m.called("ann", "NewsTool", ok=True)
    m.settle("ann")
    assert m.prior(NEWS)["NewsTool"] == pytest.approx(1 / 2)
    clock.now += 100.0
    assert m.prior(NEWS)["NewsTool"] == pytest.approx(0.5 / 1.5)
    for tool in ("A", "B"):
        m.searched("ann", [WEATHER], [tool])
        m.called("ann", tool, ok=True)
        m.settle("ann")
    assert len(m) == 2
    assert m.prior(NEWS) == {}  # the NewsTool outcome was the oldest of three


def test_the_intent_a_tool_answered_is_the_vector_remembered() -> None:
    clock = Clock()
    m = memory(clock, scope="shared")
    m.searched("ann", [NEWS, WEATHER], ["WeatherTool"], pick=lambda tool, vectors: 1)
    m.called("ann", "WeatherTool", ok=True)
    m.settle("ann")
    assert set(m.prior(WEATHER)) == {"WeatherTool"}
    assert m.prior(NEWS) == {}


def test_consecutive_calls_are_co_use_and_forgotten_tools_leave_it() -> None:
    clock = Clock()
    m = memory(clock, window_seconds=60)
    for _ in range(2):
        m.called("ann", "crm_find_customer", ok=True)
        clock.now += 5
        m.called("ann", "mail_send", ok=True)
        clock.now += 5
    m.called("ann", "crm_find_customer", ok=True)
    clock.now += 120  # past the window: not a sequence
    m.called("ann", "calendar_create", ok=True)
    assert m.co_used("crm_find_customer") == ["mail_send"]
    assert m.co_used("mail_send") == ["crm_find_customer"]
    m.forget_tools(lambda name: name != "mail_send")
    assert m.co_used("crm_find_customer") == []


def test_a_learned_prior_lifts_a_tool_the_rankings_put_below_the_cut() -> None:
    docs = ["latest research papers", "news articles today", "weather forecast"]
    embedder = FixedEmbedder(
        {docs[0]: unit(1, 0.1, 0), docs[1]: unit(0.8, 0.6, 0), docs[2]: WEATHER, "latest news": NEWS}
    )
    index = HybridIndex(["ResearchFinder", "NewsTool", "WeatherTool"], docs, embedder, Weights())
    assert index.search("latest news", 1)[0][0] == "ResearchFinder"
    clock = Clock()
    m = memory(clock, scope="shared")
    for _ in range(3):
        ranked = index.ranked("latest news", 2, m.prior)
        m.searched("ann", ranked.vectors, [t for t, _ in ranked.results], index.closest)
        m.called("ann", "NewsTool", ok=True)
    m.settle("ann")
    assert index.search("latest news", 1, m.prior)[0][0] == "NewsTool"
    assert index.search("latest news", 1)[0][0] == "ResearchFinder"  # no prior, no change


def test_callers_gone_past_the_window_are_forgotten() -> None:
    clock = Clock()
    m = memory(clock, window_seconds=60)
    for caller in ("ann", "bob"):
        m.searched(caller, [NEWS], ["NewsTool"])
        m.called(caller, "NewsTool", ok=True)
    clock.now += 61
    m.settle()
    assert len(m) == 2  # their outcomes stay
    assert m._pending == {}
    assert m._last_call == {}  # no call can follow on from theirs any more
