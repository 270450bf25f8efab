"""What profiles cost the gateway on a large catalogue. Prints figures; asserts nothing.

    python bench/profiles.py [--tools 50000] [--profiles 20]

A synthetic catalogue (``--tools`` tools over 500 integrations in 10 categories) and ``--profiles``
profiles, each naming a group and selecting two integrations, a category's worth of names by glob,
and an exclude. Measured, with the gateway's own code (toolmesh.gateway.profiles):

* ``scope``: working out which profiles apply to a caller (once per request);
* one tool checked against a scope (search, describe and call ask this per tool);
* a whole listing: every tool checked, as ``tools/list`` does for a profiled caller;
* a profile's status over the catalogue, as cluster mode computes it after each index rebuild.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from toolmesh.api import MCPProfile
from toolmesh.gateway import profiles
from toolmesh.gateway.auth import Principal


@dataclass(frozen=True)
class Tool:
    name: str
    integration: str
    category: str


def catalogue(count: int) -> list[Tool]:
    return [Tool(f"api{i % 500}__op{i}", f"api{i % 500}", f"cat{i % 10}") for i in range(count)]


def profile(n: int) -> profiles.Profile:
    return profiles.Profile.of(MCPProfile.model_validate({
        "kind": "MCPProfile", "metadata": {"name": f"p{n}", "generation": 1},
        "spec": {"subjects": {"groups": [f"g{n}"]},
                 "tools": {"integrations": [f"api{n}", f"api{n + 1}"], "names": [f"api{n + 2}__*", "*__op1?"]},
                 "exclude": {"names": ["*__op99*"]}},
    }))  # fmt: skip


def per_call(fn: object, repeat: int) -> float:
    assert callable(fn)
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=50_000)
    parser.add_argument("--profiles", type=int, default=20)
    args = parser.parse_args()
    tools = catalogue(args.tools)
    every = [profile(n) for n in range(args.profiles)]
    caller = Principal("someone", groups=frozenset({"g3", "g7"}))
    scope = profiles.scope(every, caller)
    assert scope is not None
    integrations = {t.integration: t.category for t in tools}
    categories = sorted({t.category for t in tools})
    print(f"{args.tools} tools, {args.profiles} profiles; the caller is named by 2")
    print(
        f"scope (once per request):        {per_call(lambda: profiles.scope(every, caller), 2000) * 1e6:8.1f} µs"
    )
    print(
        f"one tool against the scope:      {per_call(lambda: scope.selects(tools[12345 % len(tools)]), 20000) * 1e6:8.2f} µs"
    )
    listing = per_call(lambda: [t for t in tools if scope.selects(t)], 5)
    print(f"a whole listing (every tool):    {listing * 1e3:8.1f} ms")
    status = per_call(lambda: profiles.verdict(every[0], tools, integrations, categories, 32), 3)
    print(f"one profile's status:            {status * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
