"""Shared building blocks of the resource API: the model base class, conditions, references.

Everything in ``toolmesh.api`` is the single source of truth for the CRDs: the YAML in ``crds/`` is
generated from these models by :mod:`toolmesh.api.crdgen`. Python uses snake_case, the wire uses
camelCase, unknown fields are rejected, and every field carries a description that ends up in
``kubectl explain``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, ClassVar, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from toolmesh.api.meta import ObjectMeta

#: DNS-1123 label: the names of Kubernetes objects we refer to (categories, ConfigMaps, Secrets).
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#: DNS-1123 subdomain, used for ConfigMap and Secret names.
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
#: A Kubernetes-style duration such as ``90s``, ``15m`` or ``1h30m``.
DURATION = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
#: An absolute http(s) URL (an upstream's spec, server or OAuth endpoint).
URL_PATTERN = r"^https?://[^\s]+$"
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


@functools.lru_cache(maxsize=256)  # a category's idleAfter is read on every forwarded call
def parse_duration(text: str) -> dt.timedelta:
    """A duration as ``DURATION`` accepts it and Go writes it: ``90s``, ``15m``, ``1h30m``."""
    total = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    return dt.timedelta(seconds=total)


class Rule(NamedTuple):
    """A cross-field rule, stated once and enforced twice.

    ``cel`` becomes an ``x-kubernetes-validations`` entry of the CRD, so the API server rejects the
    object at ``kubectl apply``; ``check`` runs in pydantic, so local mode (a folder of YAML) rejects
    the same object with the same message. A convention test evaluates both on the same fixtures.
    """

    cel: str
    message: str
    check: Callable[[Any], bool]


def _schema_extra(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """Put a model's rules into its JSON schema, where :mod:`toolmesh.api.crdgen` finds them."""
    rules: tuple[Rule, ...] = getattr(cls, "rules", ())
    if rules:
        schema["x-kubernetes-validations"] = [{"rule": r.cel, "message": r.message} for r in rules]


class ApiModel(BaseModel):
    """Base of every resource model: camelCase aliases, unknown fields rejected, rules enforced."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=True,
        json_schema_extra=_schema_extra,
    )

    #: Cross-field rules of this model (see :class:`Rule`).
    rules: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        for rule in type(self).rules:
            if not rule.check(self):
                raise ValueError(rule.message)
        return self


class CrdInfo(BaseModel):
    """CRD-only facts about a kind, kept next to its model (the Python twin of kubebuilder markers)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    categories: tuple[str, ...] = ("toolmesh",)
    printer_columns: tuple[dict[str, Any], ...] = ()


def ready_column() -> dict[str, Any]:
    """The printer column every kind has: its Ready condition's status."""
    return {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}


def reason_column() -> dict[str, Any]:
    """Why it is (not) Ready, with ``-o wide``."""
    return {
        "name": "Reason",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
        "priority": 1,
    }


def age_column() -> dict[str, Any]:
    return {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


class ConditionStatus(StrEnum):
    """The three states of a condition, as in every Kubernetes API."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(ApiModel):
    """One observation of an aspect of the object's state (``metav1.Condition``)."""

    type: Annotated[
        str, Field(description="Type of the condition, e.g. Ready, in CamelCase.", max_length=316)
    ]
    status: Annotated[ConditionStatus, Field(description="Status of the condition: True, False or Unknown.")]
    reason: Annotated[
        str,
        Field(
            description="Programmatic identifier of the cause of the last transition, in CamelCase.",
            max_length=1024,
            pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        ),
    ]
    message: Annotated[
        str,
        Field(description="Human-readable explanation: what is wrong and how to fix it.", max_length=32768),
    ] = ""
    last_transition_time: Annotated[
        dt.datetime,
        Field(description="When the condition last changed its status (RFC 3339)."),
    ]
    observed_generation: Annotated[
        int | None,
        Field(description="The .metadata.generation the condition was computed from.", ge=0),
    ] = None


class LocalObjectReference(ApiModel):
    """A reference to an object by name in the same namespace."""

    name: Annotated[
        str,
        Field(description="Name of the object in the same namespace.", pattern=DNS_SUBDOMAIN, max_length=253),
    ]


class KeyReference(ApiModel):
    """A key of a ConfigMap or Secret in the same namespace."""

    name: Annotated[
        str,
        Field(
            description="Name of the ConfigMap or Secret in the same namespace.",
            pattern=DNS_SUBDOMAIN,
            max_length=253,
        ),
    ]
    key: Annotated[
        str,
        Field(description="Key inside the object's data.", pattern=r"^[-._a-zA-Z0-9]+$", max_length=253),
    ]


class TypedObject(ApiModel):
    """Fields common to every root object: apiVersion, kind and metadata (typed, see :mod:`toolmesh.api.meta`)."""

    crd: ClassVar[CrdInfo]

    api_version: Annotated[str, Field(description="APIVersion of the object: toolmesh.dev/v1alpha1.")] = ""
    kind: Annotated[str, Field(description="Kind of the object.")] = ""
    metadata: Annotated[ObjectMeta, Field(description="Standard object metadata.")] = Field(
        default_factory=ObjectMeta
    )


def exactly_one(*present: bool) -> bool:
    """Is exactly one of these set (a CEL rule's Python twin for "one of")?"""
    return sum(present) == 1
