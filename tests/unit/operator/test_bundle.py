"""Packing a category's integrations into ConfigMaps (toolmesh.operator.bundle)."""

from __future__ import annotations

import base64
import gzip
import json
import random

from toolmesh.operator import bundle, names

SPEC = "openapi: 3.0.3\ninfo: {title: T, version: '1'}\npaths: {}\n"


def member(name: str, inline: str = SPEC, **extra: object) -> bundle.Member:
    return bundle.Member(
        name, {"category": "pm", "openapi": {"spec": {"inline": inline}}, **extra}, "sha256:x"
    )


def test_small_integrations_share_one_configmap_mounted_under_its_name() -> None:
    packed = bundle.build("pm", "ns", [member("b"), member("a")], max_bytes=100_000)
    [(name, data, binary)] = packed.configmaps
    assert name == names.catalog_configmap("pm", 0)
    assert sorted(data) == ["a.json", "b.json"]
    assert binary == {}
    assert json.loads(data["a.json"])["metadata"] == {"name": "a", "namespace": "ns"}
    # The digest the operator compiled travels with the object: the category server checks its own.
    assert json.loads(data["a.json"])["status"] == {"specDigest": "sha256:x"}
    assert packed.sources[0]["configMap"]["items"] == [
        {"key": "a.json", "path": f"{name}/a.json"},
        {"key": "b.json", "path": f"{name}/b.json"},
    ]


def test_the_size_checked_before_the_digest_is_known_is_never_exceeded_when_it_is() -> None:
    digest = "sha256:" + "f" * 64
    spec = {"category": "pm", "openapi": {"spec": {"inline": SPEC}}}
    checked = bundle.placement("a", "ns", spec, SPEC, max_bytes=100_000).size
    packed = bundle.build("pm", "ns", [bundle.Member("a", spec, digest)], max_bytes=100_000)
    assert len(packed.configmaps[0][1]["a.json"].encode()) <= checked


def test_shards_stay_under_the_limit() -> None:
    big = SPEC + "#" + "x" * 3000 + "\n"
    packed = bundle.build("pm", "ns", [member(f"i{n}", big) for n in range(5)], max_bytes=8_000)
    assert len(packed.configmaps) >= 3
    for _, data, binary in packed.configmaps:
        assert sum(len(v.encode()) for v in data.values()) + sum(len(v) for v in binary.values()) <= 8_000


def test_an_inline_document_too_large_for_its_object_moves_gzip_compressed_to_a_key_of_its_own() -> None:
    large = SPEC + "#" + "y" * 20_000 + "\n"  # compresses well
    packed = bundle.build("pm", "ns", [member("big", large)], max_bytes=8_000)
    [(name, data, binary)] = packed.configmaps
    assert gzip.decompress(base64.b64decode(binary["big.spec.gz"])).decode() == large
    ref = json.loads(data["big.json"])["spec"]["openapi"]["spec"]
    assert ref == {"configMapKeyRef": {"name": name, "key": "big.spec.gz"}}


def test_a_document_too_large_even_compressed_is_reported_not_packed() -> None:
    noise = base64.b64encode(random.Random(0).randbytes(20_000)).decode()  # does not compress much
    packed = bundle.build("pm", "ns", [member("huge", SPEC + "#" + noise), member("ok")], max_bytes=8_000)
    assert "huge" in packed.too_large
    assert "spec.openapi.spec.inline" in packed.too_large["huge"]
    assert [sorted(d) for _, d, _ in packed.configmaps] == [["ok.json"]]


def test_referenced_configmaps_are_mounted_not_copied_and_secrets_listed() -> None:
    ref = bundle.Member(
        "x",
        {"category": "pm", "openapi": {"spec": {"configMapKeyRef": {"name": "specs", "key": "x.json"}}},
         "auth": {"type": "bearer", "secretRef": {"name": "tok"}}},
    )  # fmt: skip
    packed = bundle.build("pm", "ns", [ref], max_bytes=100_000)
    assert {
        "configMap": {"name": "specs", "items": [{"key": "x.json", "path": "specs/x.json"}], "optional": True}
    } in packed.sources
    assert packed.secrets == ["tok"]


def test_the_digest_changes_with_content_only() -> None:
    base = bundle.build("pm", "ns", [member("a")], 100_000).digest
    assert bundle.build("pm", "ns", [member("a")], 100_000).digest == base
    assert bundle.build("pm", "ns", [member("a", SPEC + "# changed\n")], 100_000).digest != base
    changed_tools = bundle.Member("a", member("a").spec, "sha256:other")
    assert bundle.build("pm", "ns", [changed_tools], 100_000).digest != base
