"""Terraform for GCP: formatting, structure and security policy, checked with real tools.

The google provider cannot be downloaded here, so `terraform validate` cannot run; instead the module is
checked with `terraform fmt`, parsed with python-hcl2 for the structural rules below, and scanned by checkov.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from support.tools import REPO_ROOT, require_tool

TF_DIR = REPO_ROOT / "terraform"
REQUIRED_FILES = [
    "versions.tf",
    "variables.tf",
    "main.tf",
    "network.tf",
    "orchestrator.tf",
    "compute.tf",
    "storage.tf",
    "iam.tf",
    "monitoring.tf",
    "outputs.tf",
    "modules/instance/main.tf",
    "modules/instance/variables.tf",
    "modules/instance/outputs.tf",
    "modules/instance/versions.tf",
    "terraform.tfvars.example",
    "envs/dev.tfvars",
    "envs/staging.tfvars",
    "envs/prod.tfvars",
]
TF_ENV = {**os.environ, "TF_CLI_CONFIG_FILE": "/dev/null", "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}


def unq(value: Any) -> Any:
    """python-hcl2 keeps the quotes of string literals and keys; strip them."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def load(name: str | Path) -> dict[str, Any]:
    """The parsed file (a copy: tests may change what they get)."""
    return copy.deepcopy(_parsed(TF_DIR / name))


@functools.cache
def _parsed(path: Path) -> dict[str, Any]:
    """python-hcl2 takes ~0.1 s per file and most tests read the same ones: parse each once per session."""
    with path.open() as fh:
        return hcl2.load(fh)


INSTANCE_MODULE = TF_DIR / "modules" / "instance"


def tf_files() -> list[Path]:
    return sorted(TF_DIR.glob("*.tf"))


def module_files() -> list[Path]:
    return sorted(INSTANCE_MODULE.glob("*.tf"))


def blocks(kind: str) -> dict[str, dict[str, Any]]:
    """Every `variable`/`output` block of the module by name."""
    found: dict[str, dict[str, Any]] = {}
    for path in tf_files():
        for entry in load(path.name).get(kind, []):
            for name, body in entry.items():
                found[unq(name)] = body
    return found


def resources(files: list[Path] | None = None) -> list[tuple[str, str, dict[str, Any]]]:
    """(type, name, body) of every resource in the root module (or in the given files)."""
    found = []
    for path in tf_files() if files is None else files:
        for entry in load(path).get("resource", []):
            for rtype, named in entry.items():
                for rname, body in named.items():
                    found.append((unq(rtype), unq(rname), body))
    return found


def module_calls() -> dict[str, dict[str, Any]]:
    """Every `module` block of the root module by name."""
    found: dict[str, dict[str, Any]] = {}
    for path in tf_files():
        for entry in load(path.name).get("module", []):
            for name, body in entry.items():
                found[unq(name)] = body
    return found


def instance_calls() -> dict[str, dict[str, Any]]:
    """The root module's calls of the shared instance module: every VM of the deployment."""
    return {
        name: body for name, body in module_calls().items() if unq(body["source"]) == "./modules/instance"
    }


def the_instance() -> dict[str, Any]:
    """The one google_compute_instance resource: the shared module's."""
    instances = [body for rtype, _, body in resources(module_files()) if rtype == "google_compute_instance"]
    assert len(instances) == 1
    return instances[0]


def all_text() -> str:
    return "\n".join(p.read_text() for p in [*tf_files(), *module_files()])


def test_required_files_exist() -> None:
    missing = [name for name in REQUIRED_FILES if not (TF_DIR / name).is_file()]
    assert not missing, f"missing terraform files: {missing}"


@pytest.mark.needs_tool("terraform")
def test_terraform_fmt_is_clean() -> None:
    terraform = require_tool("terraform")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TF_DIR)],
        capture_output=True,
        text=True,
        env=TF_ENV,
        timeout=120,
    )
    assert result.returncode == 0, f"terraform fmt -check failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.needs_tool("terraform")
def test_tfvars_files_are_valid_hcl_and_formatted() -> None:
    terraform = require_tool("terraform")
    for name in ["terraform.tfvars.example", "envs/dev.tfvars", "envs/staging.tfvars", "envs/prod.tfvars"]:
        text = (TF_DIR / name).read_text()
        hcl2.loads(text)  # raises on a syntax error
        result = subprocess.run(
            [terraform, "fmt", "-check", "-"],
            input=text,
            capture_output=True,
            text=True,
            env=TF_ENV,
            timeout=60,
        )
        assert result.returncode == 0, f"{name} is not terraform-fmt clean:\n{result.stdout}{result.stderr}"


def test_versions_pin_terraform_and_google_provider() -> None:
    tf = load("versions.tf")["terraform"][0]
    # 1.9: variable validations that refer to other variables (machine type vs disk type, acknowledgements).
    assert unq(tf["required_version"]) == ">= 1.9.0"
    module_tf = load(INSTANCE_MODULE / "versions.tf")["terraform"][0]
    assert module_tf["required_version"] == tf["required_version"]
    assert module_tf["required_providers"][0]["google"] == tf["required_providers"][0]["google"]
    providers = tf["required_providers"][0]
    google = providers["google"]
    assert unq(google["source"]) == "hashicorp/google"
    version = unq(google["version"])
    assert re.fullmatch(r">= (\d+)\.0\.0, < (\d+)\.0\.0", version), version
    low, high = map(int, re.findall(r"(\d+)\.0\.0", version))
    assert high == low + 1, "the google provider must be pinned to one major version"


def test_every_variable_is_typed_described_validated_and_used() -> None:
    variables = blocks("variable")
    assert len(variables) >= 20
    text = all_text()
    for name, body in variables.items():
        assert "type" in body, f"variable {name} has no type"
        description = unq(body.get("description", "")).strip()
        assert len(description) >= 20, f"variable {name} needs a real description"
        # A bool is fully constrained by its type; everything else must be validated.
        if body["type"] != "bool":
            assert body.get("validation"), f"variable {name} has no validation block"
            for rule in body["validation"]:
                assert unq(rule["error_message"]).strip(), f"variable {name}: empty error_message"
        uses = len(re.findall(rf"\bvar\.{re.escape(name)}\b", text))
        validation_uses = sum(
            len(re.findall(rf"\bvar\.{re.escape(name)}\b", str(rule["condition"])))
            for rule in body.get("validation", [])
        )
        assert uses > validation_uses, f"variable {name} is declared but never used outside its validation"


def test_required_variables_are_only_the_deployment_specific_ones() -> None:
    required = {name for name, body in blocks("variable").items() if "default" not in body}
    assert required == {"project_id", "environment", "regions", "bacalhau_sha256", "generator_image"}


def test_every_output_is_described() -> None:
    outputs = blocks("output")
    for name, body in outputs.items():
        assert len(unq(body.get("description", "")).strip()) >= 20, f"output {name} needs a description"
    for needed in [
        "orchestrator_internal_ip",
        "orchestrator_public_ip",
        "bacalhau_api_host",
        "bacalhau_api_port",
        "bacalhau_env",
        "compute_nodes",
        "results_bucket_url",
        "edgelog_fetch_bucket",
    ]:
        assert needed in outputs, f"output {needed} is missing"


def test_no_output_exposes_a_secret_value() -> None:
    for name, body in blocks("output").items():
        value = str(body["value"])
        for secret in ["random_password", ".secret}", "hmac_key.publisher.secret", "secret_data"]:
            assert secret not in value, f"output {name} exposes {secret}"


def module_code() -> str:
    """Resources, data sources, locals and providers as parsed JSON: the code without descriptions."""
    parts: list[Any] = []
    for path in tf_files():
        parsed = load(path.name)
        for kind in ["resource", "data", "locals", "provider", "module"]:
            parts.extend(parsed.get(kind, []))
    return json.dumps(parts)


def test_no_hard_coded_project_region_or_secret() -> None:
    code = module_code()
    # Regions and zones only come from variables (the tfvars files are presets, not the module).
    found = re.findall(r'\\"([a-z]+-[a-z]+[0-9]+(?:-[a-z])?)\\"', code)
    assert not found, f"hard-coded regions/zones: {found}"
    text = all_text()
    assert "project = var.project_id" in text
    assert not re.search(r'project\s*=\s*"', text), "a project ID is hard-coded"
    for pattern in [r"AKIA[0-9A-Z]{16}", r"GOOG[0-9A-Z]{10,}", r"-----BEGIN", r'secret_data\s*=\s*"']:
        assert not re.search(pattern, text), f"something that looks like a secret matches {pattern}"


def test_no_firewall_rule_is_open_to_the_world() -> None:
    firewalls = [body for rtype, _, body in resources() if rtype == "google_compute_firewall"]
    assert len(firewalls) >= 3
    for body in firewalls:
        assert "0.0.0.0/0" not in json.dumps(body)
        assert unq(body.get("direction")) == "INGRESS"
        # Every rule names its targets: no rule applies to every VM in the network.
        assert body.get("target_tags") or body.get("target_service_accounts")
    assert "0.0.0.0/0" not in module_code()
    allowed = blocks("variable")["allowed_cidrs"]
    assert allowed["default"] == []
    # Broad ranges are refused by real Terraform: test_bad_inputs_are_refused_with_a_clear_message.


def test_ssh_only_from_iap_and_bacalhau_ports_only_between_nodes() -> None:
    rules = {name: body for rtype, name, body in resources() if rtype == "google_compute_firewall"}
    text = all_text()
    assert 'iap_range = "35.235.240.0/20"' in text
    ssh = [body for body in rules.values() if any('"22"' in rule["ports"] for rule in body["allow"])]
    assert len(ssh) == 1
    assert ssh[0]["source_ranges"] == ["${local.iap_range}"]
    internal = rules["bacalhau_internal"]
    assert "source_ranges" not in internal, "node-to-node traffic is matched by tag, not by range"
    assert internal["source_tags"]
    operators = rules["bacalhau_operators"]
    assert unq(operators["count"]) == "${length(var.allowed_cidrs) > 0 ? 1 : 0}"
    assert operators["source_ranges"] == "${var.allowed_cidrs}"
    # Operators use the API (1234) only; NATS (4222) is for the deployment's own nodes, matched by tag.
    assert [rule["ports"] for rule in operators["allow"]] == [["${tostring(local.bacalhau_api_port)}"]]
    for name, body in rules.items():
        ports = json.dumps([rule.get("ports") for rule in body["allow"]])
        if "nats_port" in ports:
            assert "source_ranges" not in body and body["source_tags"], f"{name} opens NATS to a range"
    allowed_cidrs = blocks("variable")["allowed_cidrs"]
    assert allowed_cidrs["default"] == []


def test_bucket_is_private_versioned_and_expires_results() -> None:
    buckets = [body for rtype, _, body in resources() if rtype == "google_storage_bucket"]
    assert len(buckets) == 1
    bucket = buckets[0]
    assert unq(bucket["public_access_prevention"]) == "enforced"
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["versioning"][0]["enabled"] is True
    actions = [unq(rule["action"][0]["type"]) for rule in bucket["lifecycle_rule"]]
    assert actions.count("Delete") == 2 and "AbortIncompleteMultipartUpload" in actions


def test_hmac_key_belongs_to_a_create_only_service_account() -> None:
    res = {(rtype, name): body for rtype, name, body in resources()}
    hmac = res[("google_storage_hmac_key", "publisher")]
    assert hmac["service_account_email"] == "${google_service_account.publisher.email}"
    grants = [
        body
        for (rtype, _), body in res.items()
        if rtype.endswith("_iam_member") and "publisher.member" in str(body.get("member"))
    ]
    assert [unq(g["role"]) for g in grants] == ["roles/storage.objectCreator"]
    assert grants[0]["bucket"] == "${google_storage_bucket.results.name}"
    # The HMAC secret goes to Secret Manager, readable only by the compute nodes' service account.
    version = res[("google_secret_manager_secret_version", "publisher_hmac_secret")]
    assert version["secret_data"] == "${google_storage_hmac_key.publisher.secret}"
    readers = [
        entry["member"]
        for entry in secret_readers().values()
        if "publisher_hmac_secret" in entry["secret_id"]
    ]
    assert readers == ["${google_service_account.compute.member}"]


def test_least_privilege_no_project_roles_no_default_service_account() -> None:
    text = all_text()
    # One project-level grant, the only level Cloud Monitoring offers: the nodes may write metrics.
    project_grants = [
        (rtype, body) for rtype, _, body in resources() if rtype.startswith("google_project_iam")
    ]
    assert [(rtype, unq(body["role"]), body["member"]) for rtype, body in project_grants] == [
        (
            "google_project_iam_member",
            "roles/monitoring.metricWriter",
            "${google_service_account.compute.member}",
        )
    ]
    for broad in ["roles/owner", "roles/editor", "roles/viewer", "roles/storage.admin", "roles/iam."]:
        assert broad not in text
    assert "-compute@developer.gserviceaccount.com" not in text
    instance = the_instance()
    sa = instance["service_account"][0]
    assert sa["email"] == "${var.service_account_email}"
    assert [unq(scope) for scope in sa["scopes"]] == ["cloud-platform"]
    for name, call in instance_calls().items():
        assert call["service_account_email"].startswith("${google_service_account."), name


def test_every_vm_is_an_instance_of_the_shared_hardened_module() -> None:
    """One instance resource (modules/instance) carries the hardening; the two VM roles are calls of it."""
    root_instances = [name for rtype, name, _ in resources() if rtype == "google_compute_instance"]
    assert not root_instances, f"VMs outside the shared module bypass its hardening: {root_instances}"
    calls = instance_calls()
    assert set(calls) == {"orchestrator", "compute"}
    assert calls["compute"]["for_each"] == "${local.compute_nodes}"
    assert "for_each" not in calls["orchestrator"] and "count" not in calls["orchestrator"]
    body = the_instance()
    # Hardening values are literals in the module, not inputs a caller could switch off.
    shielded = body["shielded_instance_config"][0]
    assert shielded == {
        "enable_secure_boot": True,
        "enable_vtpm": True,
        "enable_integrity_monitoring": True,
        "__is_block__": True,
    }
    metadata = body["metadata"]
    assert unq(metadata["enable-oslogin"]) == "TRUE"
    assert unq(metadata["block-project-ssh-keys"]) == "TRUE"
    assert unq(metadata["serial-port-enable"]) == "FALSE"
    assert metadata["user-data"] == "${var.user_data}"
    assert body["can_ip_forward"] is False
    access = body["network_interface"][0]["dynamic"][0]['"access_config"']
    assert access["for_each"] == "${var.enable_public_ip ? [1] : []}"
    module_vars = {}
    for path in module_files():
        for entry in load(path).get("variable", []):
            module_vars.update({unq(k): v for k, v in entry.items()})
    assert module_vars["enable_public_ip"]["default"] is False
    for name, spec in module_vars.items():
        assert "type" in spec and len(unq(spec.get("description", ""))) >= 10, f"module variable {name}"
    for hardening in ["oslogin", "ssh", "serial", "shielded", "secure_boot", "ip_forward", "scopes"]:
        assert not any(hardening in name for name in module_vars), f"hardening is not an input: {name}"
    for name, call in calls.items():
        assert {"role", "region", "zone"} <= set(call["labels"]), name
        assert "templatefile(" in call["user_data"], name
        assert call["enable_public_ip"] == "${var.enable_public_ip}", name
    assert blocks("variable")["enable_public_ip"]["default"] is False


def test_secrets_are_generated_and_kept_out_of_metadata() -> None:
    res = {(rtype, name): body for rtype, name, body in resources()}
    assert ("random_password", "bacalhau_token") in res
    assert ("random_password", "bacalhau_api_key") in res
    for name in ["bacalhau_token", "bacalhau_api_key"]:
        version = res[("google_secret_manager_secret_version", name)]
        assert version["secret_data"] == f"${{random_password.{name}.result}}"
    for call in instance_calls().values():
        user_data = json.dumps(call["user_data"])
        for secret in ["random_password", ".secret}", "secret_data"]:
            assert secret not in user_data


def secret_readers() -> dict[str, dict[str, str]]:
    """local.secret_readers (the for_each of the secret IAM members): who reads which secret."""
    for path in tf_files():
        for entry in load(path.name).get("locals", []):
            if "secret_readers" in entry:
                return entry["secret_readers"]
    raise AssertionError("local.secret_readers is not defined")


def test_vms_boot_only_after_egress_and_registry_grants_exist() -> None:
    """cloud-init runs once: NAT (apt, Bacalhau, images) and the registry read grant must exist first."""
    calls = instance_calls()
    for name, call in calls.items():
        assert "${google_compute_router_nat.nat}" in call["depends_on"], f"{name} does not wait for Cloud NAT"
    assert "${google_artifact_registry_repository_iam_member.compute_pull}" in calls["compute"]["depends_on"]


def test_each_role_reads_only_its_own_secrets_through_one_for_each() -> None:
    members = [
        (name, body)
        for rtype, name, body in resources()
        if rtype == "google_secret_manager_secret_iam_member"
    ]
    assert [name for name, _ in members] == ["secret_readers"], "one for_each resource, not copies"
    body = members[0][1]
    assert body["for_each"] == "${local.secret_readers}"
    assert unq(body["role"]) == "roles/secretmanager.secretAccessor"
    pairs = {
        (entry["secret_id"].split(".")[1], entry["member"].split(".")[1])
        for entry in secret_readers().values()
    }
    assert pairs == {
        ("bacalhau_token", "compute"),
        ("publisher_hmac_secret", "compute"),
        ("bacalhau_token", "orchestrator"),
        ("bacalhau_api_key", "orchestrator"),
    }
    for name, call in instance_calls().items():
        assert "${google_secret_manager_secret_iam_member.secret_readers}" in call["depends_on"], name


# checkov's checks of a VM's hardening: default service account (30, 31), project SSH keys (32), OS Login
# (34), serial port (35), IP forwarding (36), Shielded VM (39).
INSTANCE_HARDENING_CHECKS = {f"CKV_GCP_{n}" for n in (30, 31, 32, 34, 35, 36, 39)}


@pytest.mark.needs_tool  # checkov: its own venv (.venv-checkov), found by the test itself
def test_checkov_reports_no_failed_checks() -> None:
    checkov = os.environ.get("EDGELOG_CHECKOV") or str(REPO_ROOT / ".venv-checkov" / "bin" / "checkov")
    if not Path(checkov).is_file():
        message = f"checkov not found at {checkov} (scripts/test.sh installs it into .venv-checkov)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [checkov, "--framework", "terraform", "--skip-download", "-d", str(TF_DIR), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert result.stdout.strip(), f"checkov printed nothing:\n{result.stderr[-2000:]}"
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    summary = reports[0]["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    assert summary["failed"] == 0 and not failed, f"checkov failed checks: {failed}"
    assert summary["passed"] >= 40, summary
    # checkov follows each call of the shared instance module: every VM role gets the hardening checks.
    passed: dict[str, set[str]] = {}
    for r in reports:
        for c in r["results"]["passed_checks"]:
            passed.setdefault(c["resource"], set()).add(c["check_id"])
    assert set(instance_calls()) == {"orchestrator", "compute"}
    for name in instance_calls():
        resource = f"module.{name}.google_compute_instance.this"
        missing = INSTANCE_HARDENING_CHECKS - passed.get(resource, set())
        assert not missing, f"{resource}: hardening checks not passed: {sorted(missing)}"
    # Every skip carries a justification next to the resource.
    for r in reports:
        for check in r["results"]["skipped_checks"]:
            comment = check.get("check_result", {}).get("suppress_comment", "")
            assert len(comment) >= 30, f"skip of {check['check_id']} on {check['resource']} is not justified"


# ---------------------------------------------------------------------------------------------------------
# The module's variables and provider-free locals, evaluated by real Terraform (no provider download needed):
# the tfvars presets pass every validation, bad inputs are refused, and the node inventory comes out right.
# ---------------------------------------------------------------------------------------------------------

EXAMPLE_REQUIRED = [
    "-var",
    "project_id=example-project",
    "-var",
    "bacalhau_sha256=" + "0" * 64,
    "-var",
    "generator_image=us-east1-docker.pkg.dev/example-project/edgelog/edgelog-generator:0.1.0",
]


def locals_blocks(text: str) -> list[str]:
    """Top-level `locals { ... }` blocks of a .tf file that reference no resource (provider-free)."""
    found = []
    for match in re.finditer(r"^locals \{\n.*?^\}\n", text, re.MULTILINE | re.DOTALL):
        block = match.group(0)
        if not re.search(r"\bgoogle_\w+\.\w+", block):
            found.append(block)
    return found


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the module's variables and provider-free locals, laid out so path.module/.. resolves."""
    root = tmp_path_factory.mktemp("tfmodule")
    module = root / "terraform"
    module.mkdir()
    (module / "variables.tf").write_text((TF_DIR / "variables.tf").read_text())
    blocks_found = []
    for name in ["main.tf", "compute.tf", "monitoring.tf"]:
        blocks_found += locals_blocks((TF_DIR / name).read_text())
    assert len(blocks_found) >= 2
    (module / "locals.tf").write_text("\n".join(blocks_found))
    for sibling in ["log-generator", "cloud-init"]:
        (root / sibling).symlink_to(REPO_ROOT / sibling)
    return module


def tf_console(module: Path, expression: str, *args: str) -> subprocess.CompletedProcess[str]:
    terraform = require_tool("terraform")
    return subprocess.run(
        [terraform, "console", *args],
        input=expression + "\n",
        capture_output=True,
        text=True,
        cwd=module,
        env=TF_ENV,
        timeout=120,
    )


def evaluate(module: Path, expression: str, *args: str) -> Any:
    result = tf_console(module, f"jsonencode({expression})", *args)
    # console prints variable validation errors but may still exit 0: both must be clean
    assert result.returncode == 0 and "Error" not in result.stderr, (
        f"terraform console failed:\n{result.stderr}"
    )
    return json.loads(json.loads(result.stdout.strip()))


@pytest.mark.needs_tool("terraform")
@pytest.mark.parametrize(("env", "nodes", "regions"), [("dev", 2, 1), ("staging", 4, 2), ("prod", 8, 3)])
def test_environment_presets_pass_validation_and_spread_nodes(
    module_dir: Path, env: str, nodes: int, regions: int
) -> None:
    args = ["-var-file", str(TF_DIR / "envs" / f"{env}.tfvars"), *EXAMPLE_REQUIRED]
    value = evaluate(
        module_dir,
        "{nodes = local.compute_nodes, zone = local.orchestrator_zone, region = local.orchestrator_region, "
        "labels = local.common_labels}",
        *args,
    )
    assert len(value["nodes"]) == nodes
    assert len({node["region"] for node in value["nodes"].values()}) == regions
    for key, node in value["nodes"].items():
        assert key == f"{node['zone']}-{node['index']}"
        assert node["zone"].startswith(node["region"] + "-")
        assert node["name"] == f"edgelog-{env}-node-{key}" and len(node["name"]) <= 63
    assert value["region"] in {node["region"] for node in value["nodes"].values()}
    assert value["labels"]["environment"] == env


@pytest.mark.needs_tool("terraform")
def test_example_tfvars_pass_validation(module_dir: Path) -> None:
    text = (TF_DIR / "terraform.tfvars.example").read_text()
    text += '\nbacalhau_sha256 = "' + "0" * 64 + '"\n'
    tfvars = module_dir / "example.tfvars"
    tfvars.write_text(text)
    value = evaluate(module_dir, "local.compute_nodes", "-var-file", str(tfvars))
    assert sorted(value) == ["us-east1-b-1", "us-east1-c-1"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ('allowed_cidrs=["0.0.0.0/0"]', "broader than /16"),
        ('allowed_cidrs=["0.0.0.0/1", "128.0.0.0/1"]', "broader than /16"),
        ('allowed_cidrs=["10.0.0.0/8"]', "broader than /16"),
        ('allowed_cidrs=["::/0"]', "IPv4 CIDR"),
        ("reject_networked_jobs=false", "acknowledge_networked_jobs_risk"),
        (
            "compute_machine_type=c4-standard-4 && boot_disk_type=pd-balanced",
            "needs boot_disk_type hyperdisk",
        ),
        (
            "orchestrator_machine_type=n4-standard-2 && boot_disk_type=pd-ssd",
            "needs boot_disk_type hyperdisk",
        ),
        ("boot_disk_type=hyperdisk-balanced", "e2 cannot boot from hyperdisk-balanced"),
        (
            "compute_machine_type=c3-standard-4 && boot_disk_type=pd-standard",
            "c3 cannot boot from pd-standard",
        ),
        ("boot_disk_type=pd-extreme", "boot_disk_type must be"),
        ('allowed_cidrs=["10.0.0.300/8"]', "valid IPv4 CIDR"),
        ("bacalhau_sha256=abc", "64 lower-case hex"),
        ("bacalhau_version=v1.4.0", "from v1.8.0 on"),
        ("bacalhau_version=v1.7.4", "from v1.8.0 on"),
        (
            'regions={"us-east1"={subnet_cidr="10.0.0.0/24", zones=["europe-west4-a"]}}',
            "must belong to its region",
        ),
        ('regions={"us-east1"={subnet_cidr="10.0.0.0/33", zones=["us-east1-b"]}}', "valid IPv4 CIDR"),
        ('regions={"us-east1"={subnet_cidr="10.0.0.0", zones=["us-east1-b"]}}', "valid IPv4 CIDR"),
        ('regions={"us-east1"={subnet_cidr="10.0.0.0/30", zones=["us-east1-b"]}}', "between /8 and /29"),
        (
            'regions={"us-east1"={subnet_cidr="10.0.0.0/24", zones=["us-east1-b"], nodes_per_zone=0}}',
            "whole number",
        ),
        ('regions={"a"={subnet_cidr="10.0.0.0/24", zones=["us-east1-b"]}}', "GCP region names"),
        ("environment=qa", "dev, staging, prod"),
        ("generator_image=edgelog:latest", "registry host"),
        ('rotation_settings={EDGELOG_OUTPUT_DIR="/tmp"}', "must not move"),
        ("compute_machine_type=t2a-standard-2", "x86-64"),
        ("compute_machine_type=n1-standard-1", "at least 2 vCPUs"),
        ('generator_env={EDGELOG_NODE="x"}', "must not set EDGELOG_NODE"),
        ('job_images=["latest"]', "full image references"),
    ],
)
@pytest.mark.needs_tool("terraform")
def test_bad_inputs_are_refused_with_a_clear_message(module_dir: Path, override: str, message: str) -> None:
    args = ["-var-file", str(TF_DIR / "envs" / "dev.tfvars"), *EXAMPLE_REQUIRED]
    for one in override.split(" && "):
        args += ["-var", one]
    result = tf_console(module_dir, "local.compute_nodes", *args)
    errors = re.sub(r"\s+", " ", re.sub(r"\x1b\[[0-9;]*m|[│╷╵]", "", result.stderr))
    assert "Invalid value for variable" in errors and message in errors, errors


@pytest.mark.parametrize(
    ("overrides", "disks"),
    [
        ([], {"compute": "pd-balanced", "orchestrator": "pd-balanced"}),
        (
            ["compute_machine_type=c4-standard-4"],
            {"compute": "hyperdisk-balanced", "orchestrator": "pd-balanced"},
        ),
        (
            ["compute_machine_type=n4-standard-4", "orchestrator_machine_type=c4d-standard-2"],
            {"compute": "hyperdisk-balanced", "orchestrator": "hyperdisk-balanced"},
        ),
        (
            [
                "compute_machine_type=c3-standard-4",
                "orchestrator_machine_type=c4-standard-2",
                "boot_disk_type=hyperdisk-balanced",
            ],
            {"compute": "hyperdisk-balanced", "orchestrator": "hyperdisk-balanced"},
        ),
        (["boot_disk_type=pd-ssd"], {"compute": "pd-ssd", "orchestrator": "pd-ssd"}),
    ],
)
@pytest.mark.needs_tool("terraform")
def test_boot_disk_type_fits_each_machine_series(
    module_dir: Path, overrides: list[str], disks: dict[str, str]
) -> None:
    """Unset, each VM gets the disk type its machine series boots from (C4/N4... only boot from Hyperdisk)."""
    args = ["-var-file", str(TF_DIR / "envs" / "dev.tfvars"), *EXAMPLE_REQUIRED]
    for one in overrides:
        args += ["-var", one]
    value = evaluate(module_dir, "local.boot_disk_types", *args)
    assert value == disks


@pytest.mark.needs_tool("terraform")
def test_risky_settings_pass_only_when_acknowledged_or_narrow(module_dir: Path) -> None:
    args = ["-var-file", str(TF_DIR / "envs" / "dev.tfvars"), *EXAMPLE_REQUIRED]
    args += ["-var", "reject_networked_jobs=false", "-var", "acknowledge_networked_jobs_risk=true"]
    args += ["-var", 'allowed_cidrs=["203.0.113.0/24", "198.51.100.0/16"]', "-var", "bacalhau_version=v1.8.0"]
    assert sorted(evaluate(module_dir, "local.compute_nodes", *args)) == ["us-east1-b-1", "us-east1-c-1"]


@pytest.mark.needs_tool("terraform")
def test_generator_env_and_rotation_files_match_the_cloud_init_examples(module_dir: Path) -> None:
    """The Python example variables of test_cloud_init.py are what Terraform's locals really produce."""
    from support.cloud_init import GENERATOR_SETTINGS, generator_env, rotation_files

    args = ["-var-file", str(TF_DIR / "envs" / "dev.tfvars"), *EXAMPLE_REQUIRED]
    args += ["-var", "generator_image=" + GENERATOR_SETTINGS["EDGELOG_IMAGE"]]
    node = "us-east1-b-1"
    expression = (
        f'{{env = local.generator_env["{node}"], files = local.rotation_files, '
        f'name = local.compute_nodes["{node}"].name}}'
    )
    value = evaluate(module_dir, expression, *args)
    assert value["env"] == generator_env()
    assert value["files"] == rotation_files()


@pytest.mark.needs_tool("terraform")
def test_artifact_registry_repositories_are_parsed_from_the_images(module_dir: Path) -> None:
    args = ["-var-file", str(TF_DIR / "envs" / "dev.tfvars"), *EXAMPLE_REQUIRED]
    args += [
        "-var",
        'job_images=["europe-docker.pkg.dev/other-project/jobs/edgelog-job:1", '
        '"us-east1-docker.pkg.dev/example-project/edgelog/edgelog-job:1", "ghcr.io/example/job:1"]',
    ]
    value = evaluate(module_dir, "local.artifact_repositories", *args)
    assert value == {
        "us-east1/example-project/edgelog": {
            "location": "us-east1",
            "project": "example-project",
            "repository": "edgelog",
        },
        "europe/other-project/jobs": {"location": "europe", "project": "other-project", "repository": "jobs"},
    }
    assert evaluate(module_dir, "length(local.script_b64)", *args) == 5


def test_docs_list_every_input_and_output() -> None:
    docs = (REPO_ROOT / "docs" / "infrastructure.md").read_text()
    for name in blocks("variable"):
        assert re.search(rf"^\| `{name}` \|", docs, re.MULTILINE), (
            f"input {name} is missing from the docs table"
        )
    for name in blocks("output"):
        assert re.search(rf"^\| `{name}` \|", docs, re.MULTILINE), (
            f"output {name} is missing from the docs table"
        )
    for command in ["terraform init", "terraform validate", "terraform plan -var-file=envs/dev.tfvars"]:
        assert command in docs


def code_without_comments() -> str:
    lines = []
    for path in tf_files():
        for line in path.read_text().splitlines():
            stripped = line.lstrip()
            if stripped.startswith(("#", "//")):
                continue
            lines.append(re.sub(r"\s+#\s.*$", "", line))
    return "\n".join(lines)


def test_every_reference_resolves() -> None:
    """Dangling references, which `terraform validate` would report (it cannot run without the provider)."""
    code = code_without_comments()
    variables = set(blocks("variable"))
    local_names: set[str] = set()
    for path in tf_files():
        for entry in load(path.name).get("locals", []):
            local_names |= {unq(k) for k in entry if not k.startswith("__")}
    declared = {(rtype, name) for rtype, name, _ in resources()}
    for name in set(re.findall(r"\bvar\.([a-z0-9_]+)", code)):
        assert name in variables, f"var.{name} is not declared"
    for name in set(re.findall(r"\blocal\.([a-z0-9_]+)", code)):
        assert name in local_names, f"local.{name} is not defined"
    for rtype, name in set(re.findall(r"(?<![\w\"])((?:google|random)_[a-z0-9_]+)\.([a-z0-9_]+)", code)):
        assert (rtype, name) in declared, f"{rtype}.{name} is referenced but not declared"
    for name in set(re.findall(r"\bmodule\.([a-z0-9_]+)", code)):
        assert name in module_calls(), f"module.{name} is not declared"
    assert len(declared) >= 25


# ---------------------------------------------------------------------------------------------------------
# Alerts: Cloud Monitoring alert policies with PromQL conditions on the nodes' metrics.
# ---------------------------------------------------------------------------------------------------------

ALERT_METRICS = {
    "edgelog_rotation_last_success_timestamp_seconds",
    "edgelog_logs_to_process_bytes",
    "edgelog_generator_lines_written_total",
    "node_filesystem_avail_bytes",
    "node_filesystem_size_bytes",
}


def test_alert_policies_notify_the_channels_and_tolerate_new_metrics() -> None:
    policies = [
        (name, body) for rtype, name, body in resources() if rtype == "google_monitoring_alert_policy"
    ]
    assert [name for name, _ in policies] == ["edgelog"]
    body = policies[0][1]
    assert body["for_each"] == "${var.enable_alert_policies ? local.alert_rules : {}}"
    assert body["notification_channels"] == "${var.notification_channels}"
    condition = body["conditions"][0]["condition_prometheus_query_language"][0]
    assert condition["query"] == "${each.value.query}" and condition["duration"] == "${each.value.duration}"
    assert condition["disable_metric_validation"] is True
    assert unq(body["documentation"][0]["mime_type"]) == "text/markdown"
    assert "${google_project_iam_member.compute_metric_writer}" in instance_calls()["compute"]["depends_on"]
    variables = blocks("variable")
    assert variables["notification_channels"]["default"] == []
    assert variables["enable_alert_policies"]["default"] is True


@pytest.fixture(scope="module")
def alert_rules(module_dir: Path) -> dict[str, dict[str, str]]:
    args = ["-var-file", str(TF_DIR / "envs" / "dev.tfvars"), *EXAMPLE_REQUIRED]
    return evaluate(module_dir, "local.alert_rules", *args)


def rules_file(alert_rules: dict[str, dict[str, str]], path: Path) -> Path:
    """The policies' conditions as a Prometheus rules file: promtool parses and evaluates the same PromQL."""
    rules = [
        {"alert": name.replace("-", "_"), "expr": rule["query"], "for": rule["duration"]}
        for name, rule in alert_rules.items()
    ]
    path.write_text(yaml.safe_dump({"groups": [{"name": "edgelog", "rules": rules}]}))
    return path


@pytest.mark.needs_tool("terraform", "promtool")
def test_alert_queries_are_valid_promql_on_the_scraped_metrics(
    alert_rules: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    assert set(alert_rules) == {"rotation-stale", "logs-to-process-growing", "disk-full", "generator-silent"}
    promtool = require_tool("promtool")
    result = subprocess.run(
        [promtool, "check", "rules", str(rules_file(alert_rules, tmp_path / "rules.yml"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "4 rules found" in result.stdout, result.stdout + result.stderr
    used = set()
    for rule in alert_rules.values():
        used |= set(re.findall(r"\b((?:edgelog|node)_[a-z_]+)\b", rule["query"]))
        assert "instance_name" in rule["query"], "one series per node"
    assert used == ALERT_METRICS
    # The agent keeps exactly what the alerts need (its metric_relabel_configs keep-regex).
    from support.cloud_init import ops_agent_config

    (receiver,) = ops_agent_config()["metrics"]["receivers"].values()
    keep = receiver["config"]["scrape_configs"][0]["metric_relabel_configs"][0]["regex"]
    for metric in used:
        assert re.fullmatch(keep, metric), f"{metric} is dropped before it reaches Cloud Monitoring"


@pytest.mark.needs_tool("terraform", "promtool")
def test_alerts_fire_when_they_should_and_stay_quiet_otherwise(
    alert_rules: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    """promtool evaluates the conditions on synthetic series of a healthy node (n1) and a broken one (n2)."""
    promtool = require_tool("promtool")
    rules = rules_file(alert_rules, tmp_path / "rules.yml")
    gib = 1024**3
    fs = 'mountpoint="/",instance_name="{node}"'
    tests = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # n1 rotates every 5 minutes; n2's last success was at t=0.
                    {
                        "series": 'edgelog_rotation_last_success_timestamp_seconds{instance_name="n1"}',
                        "values": " ".join(str(300 * (m // 5)) for m in range(40)),
                    },
                    {
                        "series": 'edgelog_rotation_last_success_timestamp_seconds{instance_name="n2"}',
                        "values": "0x39",
                    },
                    {
                        "series": 'edgelog_generator_lines_written_total{instance_name="n1"}',
                        "values": "0+600x39",
                    },
                    {
                        "series": 'edgelog_generator_lines_written_total{instance_name="n2"}',
                        "values": "0+600x9 6000x29",
                    },
                    {
                        "series": "node_filesystem_size_bytes{" + fs.format(node="n1") + "}",
                        "values": f"{30 * gib}x39",
                    },
                    {
                        "series": "node_filesystem_size_bytes{" + fs.format(node="n2") + "}",
                        "values": f"{30 * gib}x39",
                    },
                    {
                        "series": "node_filesystem_avail_bytes{" + fs.format(node="n1") + "}",
                        "values": f"{20 * gib}x39",
                    },
                    {
                        "series": "node_filesystem_avail_bytes{" + fs.format(node="n2") + "}",
                        "values": f"{2 * gib}x39",
                    },
                ],
                "alert_rule_test": [
                    {"eval_time": "10m", "alertname": "rotation_stale", "exp_alerts": []},
                    {
                        "eval_time": "20m",
                        "alertname": "rotation_stale",
                        "exp_alerts": [{"exp_labels": {"instance_name": "n2"}}],
                    },
                    {
                        "eval_time": "25m",
                        "alertname": "generator_silent",
                        "exp_alerts": [{"exp_labels": {"instance_name": "n2"}}],
                    },
                    {
                        "eval_time": "30m",
                        "alertname": "disk_full",
                        "exp_alerts": [{"exp_labels": {"instance_name": "n2"}}],
                    },
                    {"eval_time": "2m", "alertname": "disk_full", "exp_alerts": []},
                ],
            }
        ],
    }
    test_file = tmp_path / "alerts_test.yml"
    test_file.write_text(yaml.safe_dump(tests))
    result = subprocess.run(
        [promtool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_pulled_images_are_an_output() -> None:
    output = blocks("output")["pre_pulled_images"]
    assert output["value"] == "${distinct(concat([var.generator_image], var.job_images))}"
