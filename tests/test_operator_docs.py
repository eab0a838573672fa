"""What the operator must do that Terraform cannot: the docs say it, and the manual job examples are safe.

Each check names a fact an apply or a job depends on (issue 11, "Say what the operator must do").
"""

from __future__ import annotations

import re

import pytest
from support.tools import REPO_ROOT

INFRA = (REPO_ROOT / "docs" / "infrastructure.md").read_text()


@pytest.mark.parametrize(
    "needed",
    [
        # The org policy that blocks the publisher's HMAC key, and how to grant the project an exception.
        "iam.disableServiceAccountKeyCreation",
        "gcloud org-policies set-policy",
        "roles/orgpolicy.policyAdmin",
        # Deployer: attach the dedicated service accounts to VMs (actAs) and create everything else.
        "roles/iam.serviceAccountUser",
        "roles/iam.serviceAccountAdmin",
        "roles/resourcemanager.projectIamAdmin",
        "roles/storage.hmacKeyAdmin",
        # SSH users: OS Login, IAP, and actAs on the VM's service account.
        "roles/compute.osLogin",
        "roles/iap.tunnelResourceAccessor",
        # HMAC rotation: its access id is in user-data, so rotating means replacing the key and the nodes.
        "-replace=google_storage_hmac_key.publisher",
        # bacalhau job get cannot work here; edgelog fetch does.
        "bacalhau job get",
    ],
)
def test_infrastructure_docs_say_what_the_operator_must_do(needed: str) -> None:
    assert needed in INFRA, f"docs/infrastructure.md does not mention {needed}"


def manual_job_runs() -> list[tuple[str, str]]:
    """Every `bacalhau job run ... SPEC` command line shown in the README and docs (not prose mentions)."""
    found = []
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        for line in path.read_text().splitlines():
            for command in re.findall(r"bacalhau job run [^`#|\n]*?jobs/[\w-]+\.yaml[^`#|\n]*", line):
                found.append((path.name, command))
    return found


def test_manual_job_examples_set_a_unique_name() -> None:
    """Bacalhau refuses an identical resubmission and *updates* a job whose Name exists (mixing results)."""
    runs = manual_job_runs()
    assert len(runs) >= 2, runs
    for name, command in runs:
        assert re.search(r"-V name=[\w-]*\$\(date", command), (
            f"{name}: {command} reuses the spec's default Name"
        )
