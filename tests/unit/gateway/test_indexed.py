"""The gateway's Indexed condition (toolmesh.gateway.indexed): what it says and when it is written."""

from __future__ import annotations

from typing import Any

from toolmesh.gateway import indexed


def integration(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "notes-api", "namespace": "ns", "generation": 4},
        "status": {"conditions": list(conditions)},
    }


def condition(verdict: indexed.Verdict, since: str = "2026-12-01T10:00:00Z") -> dict[str, Any]:
    return {"type": "Indexed", "status": verdict.status, "reason": verdict.reason,
            "message": verdict.message, "lastTransitionTime": since}  # fmt: skip


def test_the_verdicts_name_the_cause_and_the_fix() -> None:
    assert indexed.indexed(3) == indexed.Verdict(
        "True", "Indexed", "3 tools are in the gateway's search index."
    )
    mismatch = indexed.digest_mismatch("sha256:a", "sha256:b")
    assert (mismatch.status, mismatch.reason) == ("False", "DigestMismatch")
    assert (
        "compiled this spec to sha256:a, but status.specDigest (the operator's) is sha256:b"
        in mismatch.message
    )
    assert "Run the same toolmesh version" in mismatch.message
    unavailable = indexed.not_indexed("SpecUnavailable", "spec.openapi.spec.url: cannot fetch it")
    assert (
        unavailable.message
        == "The gateway could not index this integration: spec.openapi.spec.url: cannot fetch it"
    )


def test_the_status_body_is_the_gateways_one_condition_or_none() -> None:
    body = indexed.status_body("ns", "notes-api", indexed.indexed(3), 4, "2026-12-01T10:00:00Z")
    assert body["metadata"] == {"name": "notes-api", "namespace": "ns"}
    assert set(body) == {"apiVersion", "kind", "metadata", "status"}  # never the spec
    assert body["status"]["conditions"] == [{**condition(indexed.indexed(3)), "observedGeneration": 4}]
    removed = indexed.status_body("ns", "notes-api", None, 4, "2026-12-01T10:00:00Z")
    assert removed["status"] == {"conditions": []}  # server-side apply then drops the gateway's entry


def test_a_verdict_the_object_already_carries_is_not_written_again() -> None:
    reporter = indexed.Reporter("ns")
    reporter.report(integration(condition(indexed.indexed(3))), indexed.indexed(3))
    assert reporter._pending == {}
    reporter.report(integration(), None)  # nothing to remove
    assert reporter._pending == {}


def test_a_changed_verdict_keeps_the_transition_time_while_its_status_stays() -> None:
    reporter = indexed.Reporter("ns")
    live = integration(condition(indexed.indexed(3), since="2026-12-01T09:00:00Z"))
    reporter.report(live, indexed.indexed(4))
    assert reporter._pending["notes-api"] == (indexed.indexed(4), 4, "2026-12-01T09:00:00Z")
    mismatch = indexed.digest_mismatch("sha256:a", "sha256:b")
    reporter.report(live, mismatch)  # the newest verdict wins; its status moved: a new transition time
    assert reporter._pending["notes-api"] == (mismatch, 4, None)
    reporter.report(live, None)
    assert reporter._pending["notes-api"] == (None, 4, None)
