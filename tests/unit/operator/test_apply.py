"""When the operator writes (toolmesh.operator.apply): only when the intent changed or drifted."""

from __future__ import annotations

from toolmesh.operator import apply, names


def desired() -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "n"},
        "spec": {"ports": [{"port": 80}], "type": "ClusterIP"},
    }


def live_of(manifest: dict[str, object], **spec_extra: object) -> dict[str, object]:
    live = apply.with_hash(manifest)
    live["spec"] = {**live["spec"], "clusterIP": "10.0.0.1", **spec_extra}  # server defaults
    live["spec"]["ports"] = [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    return live


def test_server_defaults_are_not_drift() -> None:
    assert apply.up_to_date(desired(), live_of(desired()))


def test_a_changed_owned_field_is_drift() -> None:
    assert not apply.up_to_date(desired(), live_of(desired(), type="NodePort"))


def test_a_field_dropped_from_the_intent_is_a_change_even_though_the_live_object_still_holds_it() -> None:
    before = desired()
    after = desired()
    del after["spec"]["type"]  # type: ignore[attr-defined]
    assert apply.is_subset(after, live_of(before))
    assert not apply.up_to_date(after, live_of(before))


def test_missing_objects_are_never_up_to_date() -> None:
    assert not apply.up_to_date(desired(), None)


def test_booleans_and_numbers_compare_by_value_not_by_truthiness() -> None:
    assert not apply.is_subset({"a": False}, {"a": 0})
    assert apply.is_subset({"a": 1}, {"a": 1.0})
    assert names.DESIRED_HASH in apply.with_hash(desired())["metadata"]["annotations"]  # type: ignore[index]


def test_an_empty_map_or_list_the_server_drops_is_not_drift() -> None:
    desired = {"metadata": {"name": "c"}, "data": {}, "spec": {"items": []}}
    assert apply.is_subset(desired, {"metadata": {"name": "c"}, "spec": {}})
    assert not apply.is_subset({"data": {"a": "1"}}, {})
