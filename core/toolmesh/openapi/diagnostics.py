"""Diagnostic codes of the compiler: stable CamelCase identifiers, grouped by what happened."""

# An operation was left out.
OPERATION_SKIPPED = "OperationSkipped"
# Something inside an operation was dropped or approximated.
UNRESOLVABLE_REF = "UnresolvableRef"
INVALID_PARAMETER = "InvalidParameter"
UNDECLARED_PATH_PARAMETER = "UndeclaredPathParameter"
INVALID_SCHEMA = "InvalidSchema"
INVALID_PATTERN = "InvalidPattern"
UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
BINARY_AS_BASE64 = "BinaryAsBase64"
UNSUPPORTED_COLLECTION_FORMAT = "UnsupportedCollectionFormat"
NAME_COLLISION = "NameCollision"
NAME_SHORTENED = "NameShortened"
ARGUMENT_RENAMED = "ArgumentRenamed"
NO_SERVER = "NoServer"
