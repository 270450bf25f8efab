"""The node tier: the project's images on real pods under a real kubelet, installed with the chart.

One cluster with a real node for the whole session (``toolmesh.testing.node``), the images built
here (``hack/images.sh``) and copied into the node's containerd, then ``helm install`` as an admin
would run it (``toolmesh.testing.release``). The session fails if the node leaves any process,
mount, network namespace, link or cgroup on the machine.

Every call goes to a real Service or pod address (the host routes the node's ranges to it), through
the official MCP SDK client. Load is bounded in count and time and stays on the node's network.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from toolmesh.testing import release as releases
from toolmesh.testing.cluster import LocalCluster
from toolmesh.testing.node import LocalNode, missing_prerequisites, node_cluster


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    return releases.build_images()


@pytest.fixture(scope="session")
def kube_node(
    tmp_path_factory: pytest.TempPathFactory, images: dict[str, str]
) -> Iterator[tuple[LocalCluster, LocalNode]]:
    problems = missing_prerequisites()
    if problems:
        pytest.fail("the node tier needs " + "; ".join(problems))
    with node_cluster(tmp_path_factory.mktemp("node-cluster")) as (cluster, node):
        node.load_images(list(images.values()))
        yield cluster, node
    leftovers = node.leftovers()
    assert not leftovers, f"the node left these behind: {leftovers}"


@pytest.fixture(scope="session")
def release(kube_node: tuple[LocalCluster, LocalNode], images: dict[str, str]) -> releases.Release:
    return releases.install(kube_node[0], releases.helm_binary(), images)


@pytest.fixture(scope="session")
def node(kube_node: tuple[LocalCluster, LocalNode]) -> LocalNode:
    return kube_node[1]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failed node test carries the release's pods, events and logs in its report (CI keeps only that)."""
    report: pytest.TestReport = yield
    release = getattr(item, "funcargs", {}).get("release")
    if report.failed and call.when == "call" and isinstance(release, releases.Release):
        try:
            diagnosis = release.diagnosis()
        except Exception as exc:  # a report without it, never an error of pytest's own
            diagnosis = f"no diagnosis: {type(exc).__name__}: {exc}"
        report.sections.append(("release diagnosis", diagnosis))
    return report
