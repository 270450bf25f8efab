"""The text a tool is found by, and how text is split into terms."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TOKEN = re.compile(r"[a-z0-9]+")
#: Words too common in tool text and requests to tell tools apart.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "get",
        "give",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "should",
        "some",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "this",
        "to",
        "use",
        "using",
        "want",
        "was",
        "we",
        "what",
        "when",
        "which",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def split_words(text: str) -> str:
    """camelCase, snake_case and kebab-case become separate words."""
    return _CAMEL.sub(" ", text).replace("_", " ").replace("-", " ")


def singular(term: str) -> str:
    """English plural → singular for the regular cases (``invoices`` → ``invoice``, ``entries`` → ``entry``)."""
    if len(term) <= 3 or term.endswith(("ss", "us", "is")):
        return term
    if term.endswith("ies"):
        return term[:-3] + "y"
    if term.endswith(("ches", "shes", "xes", "sses")):
        return term[:-2]
    return term[:-1] if term.endswith("s") else term


def terms(text: str) -> list[str]:
    """Lower-case singular word terms without stop words, from any identifier-heavy text."""
    return [singular(t) for t in _TOKEN.findall(split_words(text).lower()) if t not in STOPWORDS]


def parameter_text(schema: Mapping[str, Any]) -> str:
    """The parameters' names in words and the start of their descriptions."""
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return ""
    parts = []
    for name, sub in props.items():
        parts.append(split_words(str(name)))
        if isinstance(sub, Mapping) and isinstance(sub.get("description"), str):
            parts.append(sub["description"][:200])
    return " ".join(parts)


#: Characters of a description the dense model reads. Embedding cost grows with length (all-MiniLM
#: truncates at 256 tokens, and real API descriptions often reach it); the first sentences carry
#: the intent, and BM25 still reads every word.
DENSE_DESCRIPTION_CHARS = 300


def dense_document(name: str, description: str, context: str = "") -> str:
    """The shorter text the embedding model reads: the name in words and the start of the description."""
    head = " ".join(description.split())[:DENSE_DESCRIPTION_CHARS]
    return "\n".join(p for p in (split_words(name), head, context[:100]) if p)


def document(
    name: str,
    description: str,
    input_schema: Mapping[str, Any] | None = None,
    context: str = "",
    *,
    parameters: str | None = None,
) -> str:
    """The routing text of a tool: its name in words, description, parameters, and where it lives.

    ``parameters``: :func:`parameter_text` of its schema, worked out before (instead of the schema)."""
    parts = [split_words(name), description]
    if parameters is None and input_schema:
        parameters = parameter_text(input_schema)
    if parameters:
        parts.append(parameters)
    if context:
        parts.append(context)
    return "\n".join(p for p in parts if p)
