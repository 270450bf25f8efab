"""The gateway's table of federated prompts, resources and templates: replaced per integration."""

from __future__ import annotations

from toolmesh.gateway.offered import OfferedCatalog

PROMPT = {"name": "calc__explain", "description": "Explains."}
PI = {"uri": "toolmesh://calculator/calc://pi", "name": "pi"}
SQUARE = {"uriTemplate": "toolmesh://calculator/calc://square/{n}", "name": "square"}


def test_what_an_integration_offers_is_replaced_whole_and_says_when_it_changed() -> None:
    offered = OfferedCatalog()
    assert offered.replace("calculator", "ai", [PROMPT], [PI], [SQUARE]) is True
    assert offered.readable == {"calculator": "ai"}
    assert offered.any_prompts
    assert offered.any_resources
    assert offered.replace("calculator", "ai", [PROMPT], [PI], [SQUARE]) is False, "the same again"
    assert offered.replace("calculator", "ai", [PROMPT]) is True
    assert offered.resources == offered.templates == {}
    assert offered.readable == {}, "nothing left to read"
    assert not offered.any_resources


def test_a_key_another_integration_holds_or_a_missing_key_is_left_out() -> None:
    offered = OfferedCatalog()
    offered.replace("calculator", "ai", [PROMPT], [PI])
    offered.replace("other", "ai", [PROMPT, {"description": "no name"}], [PI, {"name": "no uri"}])
    assert offered.prompts["calc__explain"].integration == "calculator"
    assert offered.resources[PI["uri"]].integration == "calculator"
    assert "other" not in offered.readable
    offered.remove("calculator")
    assert offered.prompts == offered.resources == {}
