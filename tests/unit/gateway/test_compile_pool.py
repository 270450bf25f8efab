"""Compiling a catalogue's documents in worker processes (compile_pool.py): the same tools as
compiling them here, in order, a broken document's SpecError kept, and workers that fail costing
nothing but time."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest
import structlog

from toolmesh.api import MCPIntegration
from toolmesh.gateway import compile_pool
from toolmesh.gateway.catalog import ToolRecord, compiled_records
from toolmesh.gateway.compile_pool import (
    PACK_ABOVE,
    WORKER_ABOVE,
    Compiled,
    Job,
    Workers,
    compile_all,
    pack_schema,
)
from toolmesh.openapi import CompileOptions, SpecError


def wide_spec(fields: int) -> bytes:
    """A document whose one operation takes a body of ``fields`` described properties."""
    properties = {
        f"field{i}": {"type": "string", "description": f"The {i}th field of the record."}
        for i in range(fields)
    }
    body = {"content": {"application/json": {"schema": {"type": "object", "properties": properties}}}}
    return json.dumps({
        "openapi": "3.0.3", "info": {"title": "Wide", "version": "1"},
        "paths": {"/records": {"post": {"operationId": "createRecord", "summary": "Create a record",
                                        "requestBody": body, "responses": {"201": {"description": "created"}}}}},
    }).encode()  # fmt: skip


def jobs(demo_spec_text: str) -> list[Job]:
    demo = demo_spec_text.encode()
    return [
        Job("tasks", CompileOptions(prefix="tasks"), demo),
        Job("broken", CompileOptions(prefix="broken"), b"openapi: [not, a, document"),
        Job("wide", CompileOptions(prefix="wide"), wide_spec(200)),
        Job("tasks-read", CompileOptions(prefix="ro", read_only=True), demo),
    ]


def summary(result: Compiled | SpecError) -> Any:
    if isinstance(result, SpecError):
        return ("SpecError", str(result))
    return (
        result.digest,
        [(t.name, t.description, t.schema.schema(), t.schema.parameters, t.returns) for t in result.tools],
    )


def test_workers_compile_what_the_gateway_would_in_the_same_order(demo_spec_text: str) -> None:
    here = compile_all(jobs(demo_spec_text), pool_above=sys.maxsize)
    workers = compile_all(jobs(demo_spec_text), pool_above=0, processes=2)
    assert [summary(r) for r in workers] == [summary(r) for r in here]
    assert isinstance(workers[1], SpecError)
    tasks, read_only = workers[0], workers[3]
    assert isinstance(tasks, Compiled)
    assert isinstance(read_only, Compiled)
    assert 0 < len(read_only.tools) < len(tasks.tools)


def test_workers_that_cannot_run_leave_the_work_to_the_gateway(
    demo_spec_text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = [summary(r) for r in compile_all(jobs(demo_spec_text), pool_above=sys.maxsize)]
    monkeypatch.setattr(compile_pool.sys, "executable", "/bin/false")  # exits at once: every job is lost
    with structlog.testing.capture_logs() as logs:
        results = compile_all(jobs(demo_spec_text), pool_above=0, processes=2)
    assert [summary(r) for r in results] == expected
    assert any(entry["event"] == "catalog.compile_worker_failed" for entry in logs)


def test_long_schemas_are_kept_deflated_and_read_back_whole() -> None:
    (tool,) = compile_all([Job("wide", CompileOptions(prefix="wide"), wide_spec(200))])[0].tools  # type: ignore[union-attr]
    packed = tool.schema
    assert packed.chars > PACK_ABOVE
    assert len(packed.data) < packed.chars / 3
    record = ToolRecord(tool.name, tool.description, packed, "data", "wide")
    schema = record.input_schema
    assert len(schema["properties"]["body"]["properties"]) == 200
    assert record.schema_chars == len(json.dumps(schema, separators=(",", ":")).encode())
    assert record.parameters == "body"  # what routing reads: the arguments' names and descriptions
    short = {"type": "object", "properties": {"id": {"type": "string", "description": "Task id"}}}
    kept = pack_schema(short)
    assert kept.data == json.dumps(short, separators=(",", ":")).encode()
    assert kept.schema() == short
    assert kept.parameters == "id Task id"


def test_kept_workers_compile_one_job_at_a_time_and_exit_when_idle(demo_spec_text: str) -> None:
    expected = [summary(r) for r in compile_all(jobs(demo_spec_text), pool_above=sys.maxsize)]
    workers = Workers(processes=1, idle_seconds=0.3)
    try:
        assert [summary(workers.compile(job)) for job in jobs(demo_spec_text)] == expected
        assert workers.running == 1  # one process served the four, and waits for more
        deadline = time.monotonic() + 10
        while workers.running and time.monotonic() < deadline:
            time.sleep(0.05)
        assert workers.running == 0  # idle past 0.3 s: it exited
        assert summary(workers.compile(jobs(demo_spec_text)[0])) == expected[0]  # and another starts
    finally:
        workers.close()
    assert workers.running == 0


def test_an_integration_compiled_by_a_worker_raises_what_it_would_here(demo_spec_text: str) -> None:
    obj = MCPIntegration.model_validate({
        "apiVersion": "toolmesh.dev/v1alpha1", "kind": "MCPIntegration", "metadata": {"name": "wide"},
        "spec": {"category": "data", "openapi": {"spec": {"configMapKeyRef": {"name": "wide", "key": "spec"}}}},
    })  # fmt: skip
    workers = Workers(processes=1)
    try:
        large = wide_spec(200) + b" " * WORKER_ABOVE  # trailing space: the same document, past the size
        records, digest = compiled_records(obj, "wide", large, workers)
        assert workers.running == 1  # it went to a worker
        here, here_digest = compiled_records(obj, "wide", wide_spec(200))
        assert digest == here_digest
        assert [(r.name, r.input_schema) for r in records] == [(r.name, r.input_schema) for r in here]
        with pytest.raises(SpecError):
            compiled_records(obj, "wide", b"openapi: [" + b" " * WORKER_ABOVE, workers)
    finally:
        workers.close()
