"""What federated MCP servers offer besides tools: prompts, resources and resource templates.

The gateway lists them without waking a category: local mode learns them from each category
server's ``/readyz`` (``discoveredPrompts``, ``discoveredResources``,
``discoveredResourceTemplates``: the definitions as the category server serves them, names and URIs
already namespaced), cluster mode from the integration's status, where the operator records the
same. Each item keeps its integration (whose ``spec.access`` decides who sees it) and its category
(where a ``prompts/get`` or ``resources/read`` goes). A read names its integration in its URI
(toolmesh.common.resource_uri), so a URI a template expands to is routed without being listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Offered:
    """One prompt, resource or template: its definition in wire form, and whose it is."""

    key: str  # the prompt's name, the resource's URI, the template's URI template
    definition: dict[str, Any]
    category: str
    integration: str


KEYS = {"prompts": "name", "resources": "uri", "templates": "uriTemplate"}


@dataclass
class OfferedCatalog:
    prompts: dict[str, Offered] = field(default_factory=dict)
    resources: dict[str, Offered] = field(default_factory=dict)
    templates: dict[str, Offered] = field(default_factory=dict)
    #: Integration -> its category, for each integration with resources or templates (reads).
    readable: dict[str, str] = field(default_factory=dict)

    def replace(
        self,
        integration: str,
        category: str,
        prompts: Iterable[Mapping[str, Any]] = (),
        resources: Iterable[Mapping[str, Any]] = (),
        templates: Iterable[Mapping[str, Any]] = (),
    ) -> bool:
        """What ``integration`` offers now (its earlier items dropped); True when anything changed.
        An item without its key, or whose key another integration holds, is left out."""
        before = self._of(integration)
        self.remove(integration)
        for kind, items in (("prompts", prompts), ("resources", resources), ("templates", templates)):
            table: dict[str, Offered] = getattr(self, kind)
            for item in items:
                key = item.get(KEYS[kind])
                if isinstance(key, str) and key and key not in table:
                    table[key] = Offered(key, dict(item), category, integration)
        if any(o.integration == integration for o in (*self.resources.values(), *self.templates.values())):
            self.readable[integration] = category
        return self._of(integration) != before

    def remove(self, integration: str) -> None:
        for table in (self.prompts, self.resources, self.templates):
            for key in [k for k, o in table.items() if o.integration == integration]:
                del table[key]
        self.readable.pop(integration, None)

    def _of(self, integration: str) -> list[Offered]:
        return [
            o
            for table in (self.prompts, self.resources, self.templates)
            for o in table.values()
            if o.integration == integration
        ]

    @property
    def any_prompts(self) -> bool:
        return bool(self.prompts)

    @property
    def any_resources(self) -> bool:
        return bool(self.resources or self.templates)
