"""Object metadata, typed: what every Kubernetes object carries, as the operator and gateway read it.

``ObjectMeta`` is ``metav1.ObjectMeta`` reduced to the fields toolmesh reads or writes; everything
else the server sends (managedFields, finalizers, ...) is kept as extra fields, so that a model read
and dumped again loses nothing. It is not part of the CRDs' schema: the API server owns metadata,
and :mod:`toolmesh.api.crdgen` writes it as a plain ``type: object``.

``Envelope`` is an object of our kinds as read, before its spec is validated: typed metadata and
status, the spec in wire form. The operator needs it for one path only: an object whose spec does
not validate still gets a status (``SpecValid=False``, naming the field).
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic.alias_generators import to_camel

#: A JSON object in wire form (camelCase keys), e.g. a child manifest the operator builds.
JsonObject = dict[str, JsonValue]


class _Wire(BaseModel):
    """camelCase on the wire; fields the server adds and we do not model are kept, not rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class OwnerReference(_Wire):
    """An owner of the object (``metav1.OwnerReference``): garbage collection follows it."""

    api_version: Annotated[str, Field(description="APIVersion of the owner.")]
    kind: Annotated[str, Field(description="Kind of the owner.")]
    name: Annotated[str, Field(description="Name of the owner.")]
    uid: Annotated[str, Field(description="UID of the owner.")]
    controller: Annotated[bool | None, Field(description="The owner is the managing controller.")] = None
    block_owner_deletion: Annotated[
        bool | None, Field(description="The owner cannot be deleted before this object.")
    ] = None


class ObjectMeta(_Wire):
    """Standard object metadata (``metav1.ObjectMeta``), the fields toolmesh uses typed."""

    name: Annotated[str, Field(description="Name, unique in the namespace.")] = ""
    namespace: Annotated[str, Field(description="Namespace; empty for cluster-scoped objects.")] = ""
    uid: Annotated[str, Field(description="UID the server assigned.")] = ""
    generation: Annotated[
        int | None, Field(description="Sequence number of the desired state (the spec), set by the server.")
    ] = None
    resource_version: Annotated[str, Field(description="Opaque version of the object.")] = ""
    creation_timestamp: Annotated[str | None, Field(description="When the object was created.")] = None
    deletion_timestamp: Annotated[
        str | None, Field(description="When the object will be deleted (set on delete).")
    ] = None
    labels: Annotated[dict[str, str], Field(description="Labels.")] = Field(default_factory=dict)
    annotations: Annotated[dict[str, str], Field(description="Annotations.")] = Field(default_factory=dict)
    owner_references: Annotated[list[OwnerReference], Field(description="Owners of the object.")] = Field(
        default_factory=list
    )


S = TypeVar("S", bound=BaseModel)


class Envelope(_Wire, Generic[S]):
    """An object as read, spec not validated: typed metadata and status, the spec in wire form.

    A status that does not validate (written by someone else, in a shape we do not know) reads as
    absent, so that the operator writes a whole new one.
    """

    api_version: Annotated[str, Field(description="APIVersion of the object.")] = ""
    kind: Annotated[str, Field(description="Kind of the object.")] = ""
    metadata: Annotated[ObjectMeta, Field(description="Standard object metadata.")] = Field(
        default_factory=ObjectMeta
    )
    spec: Annotated[JsonObject, Field(description="The spec as stored (wire form).")] = Field(
        default_factory=dict
    )
    status: Annotated[S | None, Field(description="Observed state, if it validates.")] = None

    @field_validator("status", mode="wrap")
    @classmethod
    def _unknown_status_is_absent(cls, value: object, handler: ValidatorFunctionWrapHandler) -> S | None:
        try:
            result: S | None = handler(value)
        except ValidationError:
            return None
        return result
