"""Local mode's discovery, its pure parts: which integrations only a category server can discover,
and what the gateway makes of a category server's report (GatewayCatalog.learn)."""

from __future__ import annotations

from pathlib import Path

from toolmesh.catalog import folder
from toolmesh.gateway import catalog as catalog_mod
from toolmesh.gateway import discovery

INTEGRATIONS = """
apiVersion: toolmesh.dev/v1alpha1
kind: MCPIntegration
metadata: {name: inline}
spec: {category: pm, openapi: {spec: {inline: "openapi: 3.0.3"}}}
---
apiVersion: toolmesh.dev/v1alpha1
kind: MCPIntegration
metadata: {name: published}
spec: {category: pm, openapi: {spec: {url: "https://api.example/openapi.json"}}}
---
apiVersion: toolmesh.dev/v1alpha1
kind: MCPIntegration
metadata: {name: calculator}
spec: {category: ai, mcp: {url: "http://127.0.0.1:9/mcp"}}
---
apiVersion: toolmesh.dev/v1alpha1
kind: MCPIntegration
metadata: {name: git}
spec: {category: code, stdio: {command: mcp-server-git}}
---
apiVersion: toolmesh.dev/v1alpha1
kind: MCPIntegration
metadata: {name: broken}
spec: {category: ai, mcp: {url: "not a url"}}
"""


def test_only_federated_servers_and_documents_at_a_url_wait_for_their_category_server(tmp_path: Path) -> None:
    (tmp_path / "integrations.yaml").write_text(INTEGRATIONS)
    assert discovery.pending(folder.load(tmp_path)) == {
        "pm": ["published"],
        "ai": ["calculator"],
        "code": ["git"],
    }


def report(*states: dict[str, object]) -> dict[str, object]:
    return {"integrations": list(states)}


def test_an_unreachable_server_is_a_problem_under_its_integrations_name_until_it_serves() -> None:
    gateway = catalog_mod.GatewayCatalog({}, {}, {})
    message = "spec.mcp.url: cannot list the tools of http://127.0.0.1:9/mcp: ConnectError: refused"
    failed = {"name": "calculator", "kind": "mcp", "ready": False, "tools": 0, "message": message}
    assert gateway.learn("ai", report(failed)) is False
    assert gateway.problems == {"calculator": message}
    assert gateway.tools == {}
    served = {
        "name": "calculator",
        "kind": "mcp",
        "ready": True,
        "tools": 1,
        "discoveredTools": [{"name": "calc__add", "description": "Adds two"}],
    }
    listed = [
        {
            "name": "calc__add",
            "description": "Adds two integers.",
            "inputSchema": {"type": "object", "properties": {"a": {"type": "integer"}}},
            "annotations": {"readOnlyHint": True},
        },
        {"name": "other__tool", "description": "Not this integration's.", "inputSchema": {"type": "object"}},
    ]
    assert gateway.learn("ai", report(served), listed) is True
    assert gateway.problems == {}, "served now: the problem the server reported is gone"
    assert list(gateway.tools) == ["calc__add"], "only the tools its report names"
    assert gateway.tools["calc__add"].definition() == {**listed[0], "annotations": {"readOnlyHint": True}}
    assert gateway.tools["calc__add"].category == "ai"
    assert gateway.learn("ai", report(served), listed) is False, "the same report again changes nothing"


def test_a_discovered_name_another_integration_has_is_left_to_it() -> None:
    gateway = catalog_mod.GatewayCatalog({}, {}, {})
    gateway.learn("ai", report({"name": "a", "ready": True, "discoveredTools": [{"name": "x__t"}]}))
    assert (
        gateway.learn("ai", report({"name": "b", "ready": True, "discoveredTools": [{"name": "x__t"}]}))
        is False
    )
    assert gateway.tools["x__t"].integration == "a"
