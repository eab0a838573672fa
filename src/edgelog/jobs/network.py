"""The nodes a job should run on, as the network says at submit time (``bacalhau node list``).

An ops job runs once on each node the orchestrator selects *at that moment*: a disconnected or unapproved node
gets no execution at all, a busy one declines (``AskForBidRejected``), and the job still ends ``Completed``.
Only the network's own list says which nodes the result should have covered, so ``edgelog job submit`` takes
it, with the job's label selector, before submitting, and both the job's verdict and ``edgelog fetch`` compare
against it.

``bacalhau node list --labels SELECTOR --output json`` (cmd/cli/node/list.go in v1.9.3) prints a JSON array of
``models.NodeState`` (pkg/models/node_state.go)::

    [{"Info": {"NodeID": "...", "NodeType": "Compute", "Labels": {...}, ...},
      "Membership": "APPROVED", "Connection": "CONNECTED",
      "ConnectionState": {"Status": "CONNECTED", "LastHeartbeat": "...", ...}}]

``NodeType`` marshals as its name (MarshalText), ``Membership`` and the connection states as upper-case names
(their MarshalJSON); ``Connection`` is deprecated in favour of ``ConnectionState.Status``. The orchestrator
applies the label selector and returns every matching node whatever its state (no limit unless ``--limit``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgelog.errors import EdgelogError, UsageError
from edgelog.naming import check_node_id

APPROVED = "APPROVED"
CONNECTED = "CONNECTED"


@dataclass(frozen=True)
class NetworkNode:
    """One node as ``bacalhau node list`` reports it."""

    node_id: str
    node_type: str  # Compute | Requester
    labels: dict[str, str] = field(default_factory=dict)
    membership: str = ""  # PENDING | APPROVED | REJECTED
    connection: str = ""  # CONNECTED | DISCONNECTED

    @property
    def is_compute(self) -> bool:
        return self.node_type.lower() == "compute"

    @property
    def schedulable(self) -> bool:
        """Whether the orchestrator may give it work: approved and connected."""
        return self.membership == APPROVED and self.connection == CONNECTED

    @property
    def state(self) -> str:
        connection = self.connection.lower() or "unknown connection"
        return f"{connection}, {self.membership.lower() or 'unknown approval'}"

    def absence(self) -> str:
        """Why a node of the expected set has no execution, as far as its state at submit time tells."""
        if not self.schedulable:
            return f"{self.state} when the job was submitted, so the orchestrator could not run it there"
        return (
            "matched the job's labels when it was submitted, but the orchestrator created no execution "
            "for it (lost since, or short of capacity, an engine or a publisher: see bacalhau job describe)"
        )


def parse_node_list(data: object, where: str = "bacalhau node list") -> list[NetworkNode]:
    """``bacalhau node list --output json`` -> nodes; anything not shaped like NodeState is an error."""
    if not isinstance(data, list):
        raise EdgelogError(f"{where}: expected a JSON array of nodes, got {type(data).__name__}")
    nodes = []
    for i, item in enumerate(data):
        info = item.get("Info") if isinstance(item, dict) else None
        node_id = info.get("NodeID") if isinstance(info, dict) else None
        if not (isinstance(item, dict) and isinstance(info, dict) and isinstance(node_id, str) and node_id):
            raise EdgelogError(f"{where}: item {i} is not a node (no Info.NodeID)")
        labels = info.get("Labels") or {}
        connection = (item.get("ConnectionState") or {}).get("Status") or item.get("Connection") or ""
        nodes.append(
            NetworkNode(
                node_id=node_id,
                node_type=str(info.get("NodeType") or ""),
                labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
                membership=str(item.get("Membership") or "").upper(),
                connection=str(connection).upper(),
            )
        )
    return nodes


def expected_nodes(nodes: Iterable[NetworkNode]) -> dict[str, NetworkNode]:
    """The compute nodes of a node list, by id: every one of them should publish a result."""
    return {n.node_id: n for n in sorted(nodes, key=lambda n: n.node_id) if n.is_compute}


def read_expected_nodes(path: Path) -> dict[str, str | None]:
    """``fetch --expect-nodes FILE``: node ids that must have published, with a note on each where known.

    FILE is either what ``bacalhau node list --labels ... --output json`` printed (its compute nodes; the
    note says in what state each was) or plain text, one node id per line (``#`` starts a comment).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--expect-nodes {path}: cannot read: {exc}") from None
    if text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--expect-nodes {path}: not valid JSON: {exc}") from None
        try:
            nodes = expected_nodes(parse_node_list(data, str(path)))
        except EdgelogError as exc:
            raise UsageError(
                exc.message, hint="pass the output of bacalhau node list --output json, or one id per line"
            ) from None
        return {node_id: f"{n.state} when listed" for node_id, n in nodes.items()}
    found: dict[str, str | None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        node_id = line.split("#", 1)[0].strip()
        if node_id:
            found[check_node_id(node_id, source=f"--expect-nodes {path}:{number}:")] = None
    return found


def node_list_json(nodes: Mapping[str, NetworkNode]) -> list[dict[str, Any]]:
    """The expected set as ``bacalhau node list --output json`` prints it (what ``--expect-nodes`` reads)."""
    return [
        {
            "Info": {"NodeID": n.node_id, "NodeType": n.node_type, "Labels": n.labels},
            "Membership": n.membership,
            "Connection": n.connection,
            "ConnectionState": {"Status": n.connection},
        }
        for n in nodes.values()
    ]
