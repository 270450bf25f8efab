"""An MCPIntegration as the operator last saw it: parsed once, at the boundary. Pure.

Every integration the operator knows of (watch events, lists, its own status writes) is kept as a
:class:`Seen`: typed metadata and status always, the validated model when the spec validates, and
otherwise the first validation error, naming the field, which becomes ``SpecValid=False``. The
spec is also kept in wire form, as the API server stores it: that is what the category's catalog
mounts (docs/design/0011-typed-resources.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from toolmesh.api import MCPIntegration, MCPIntegrationSpec, MCPIntegrationStatus, conditions
from toolmesh.api.base import ConditionStatus
from toolmesh.api.meta import Envelope, JsonObject, ObjectMeta

Key = tuple[str, str]  # (namespace, name)


def validation_message(exc: ValidationError, prefix: str = "") -> str:
    """The first error, where it is (``spec.openapi.spec``) and what is wrong."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in (*([prefix] if prefix else []), *first["loc"])) or "spec"
    return f"{where}: {first['msg']}"


@dataclass(frozen=True)
class Seen:
    """An MCPIntegration as read. ``model`` is None when the spec does not validate (``invalid`` says why)."""

    envelope: Envelope[MCPIntegrationStatus]
    model: MCPIntegration | None
    invalid: str | None = None

    @property
    def meta(self) -> ObjectMeta:
        return self.envelope.metadata

    @property
    def key(self) -> Key:
        return (self.meta.namespace, self.meta.name)

    @property
    def generation(self) -> int:
        return self.meta.generation or 1

    @property
    def spec(self) -> JsonObject:
        """The spec in wire form, as stored."""
        return self.envelope.spec

    @property
    def status(self) -> MCPIntegrationStatus | None:
        return self.envelope.status

    @property
    def category(self) -> str:
        """``spec.category``, read even from a spec that does not validate."""
        value = self.envelope.spec.get("category")
        return value if isinstance(value, str) else ""

    @property
    def current(self) -> bool:
        """The status describes the current spec (the operator validated this generation)."""
        return self.status is not None and self.status.observed_generation == self.meta.generation

    def ready(self) -> ConditionStatus | None:
        ready = conditions.find(self.status.conditions, conditions.READY) if self.status else None
        return ready.status if ready else None


def integration(raw: Mapping[str, object]) -> Seen:
    """Parse an MCPIntegration read from the API server (or a watch event)."""
    envelope = Envelope[MCPIntegrationStatus].model_validate(raw)
    try:
        spec = MCPIntegrationSpec.model_validate(envelope.spec)
    except ValidationError as exc:
        return Seen(envelope, None, validation_message(exc, "spec"))
    model = MCPIntegration(
        api_version=envelope.api_version,
        kind=envelope.kind,
        metadata=envelope.metadata,
        spec=spec,
        status=envelope.status,
    )
    return Seen(envelope, model)
