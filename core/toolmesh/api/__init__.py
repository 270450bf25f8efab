"""The toolmesh resource API (``toolmesh.dev/v1alpha1``): pydantic models, the source of the CRDs.

This package imports no component. The operator, the gateway and the category server all parse
resources through these models, so a field means the same thing everywhere.
"""

from toolmesh.api.auth import AuthType
from toolmesh.api.base import Condition, ConditionStatus, CrdInfo, Rule
from toolmesh.api.category import MCPCategory, MCPCategorySpec, MCPCategoryStatus
from toolmesh.api.integration import MCPIntegration, MCPIntegrationSpec, MCPIntegrationStatus
from toolmesh.api.profile import MCPProfile, MCPProfileSpec, MCPProfileStatus

GROUP = "toolmesh.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

#: Every root kind, in the order their CRDs are written.
KINDS = (MCPCategory, MCPIntegration, MCPProfile)

__all__ = [
    "API_VERSION",
    "GROUP",
    "KINDS",
    "VERSION",
    "AuthType",
    "Condition",
    "ConditionStatus",
    "CrdInfo",
    "MCPCategory",
    "MCPCategorySpec",
    "MCPCategoryStatus",
    "MCPIntegration",
    "MCPIntegrationSpec",
    "MCPIntegrationStatus",
    "MCPProfile",
    "MCPProfileSpec",
    "MCPProfileStatus",
    "Rule",
]
