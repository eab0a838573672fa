"""cloud-init templates, rendered by Terraform's own templatefile() and checked by cloud-init's own schema.

Each template is rendered with `terraform console` (functions need no provider) using example variables shaped
exactly like the ones terraform/{compute,orchestrator}.tf pass, then checked with Debian's
`cloud-init schema --config-file`, with jsonschema against cloud-init's JSON schema file (plus the unknown
top-level keys `cloud-init schema` lets through), and for the node layout edgelog depends on.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from support.cloud_init import (
    CLOUD_INIT_DIR,
    FILES_DIR,
    GENERATOR_DIR,
    GENERATOR_IMAGE,
    JOB_IMAGE,
    METRICS_DIR,
    NODE_NAME,
    ORCHESTRATOR_IP,
    ROTATION_DIR,
    SCHEMA_FILE,
    SCRIPTS,
    TEMPLATES,
    TF_DIR,
    compute_vars,
    console,
    ops_agent_config,
    rendered_templates,
    rendered_text,
    rotation_files,
    write_files,
)
from support.tools import REPO_ROOT, require_tool

from edgelog.jobs.spec import load_spec
from edgelog.jobs.validate import DEFAULT_ALLOW_LIST

# Every test here drives a real tool (see tests/support/tools.py); the fast lane deselects them.
pytestmark = pytest.mark.needs_tool("terraform")


@pytest.fixture(params=sorted(TEMPLATES))
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, Path]:
    """(template name, rendered cloud-config text, path of a file holding it)."""
    text = rendered_text(request.param)
    path = tmp_path / f"{request.param}.yaml"
    path.write_text(text)
    return request.param, text, path


def test_templates_render_with_terraform_templatefile(rendered: tuple[str, str, Path]) -> None:
    _, text, _ = rendered
    assert text.startswith("#cloud-config\n")
    config = yaml.safe_load(text)
    assert isinstance(config, dict) and config["write_files"]


def test_cloud_init_schema_command_accepts_them(rendered: tuple[str, str, Path]) -> None:
    cloud_init = require_tool("cloud-init")
    _, _, path = rendered
    result = subprocess.run(
        [cloud_init, "schema", "--config-file", str(path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (
        f"cloud-init schema rejected {path.name}:\n{result.stdout}\n{result.stderr}"
    )
    assert "Valid cloud-config" in result.stdout + result.stderr


def cloud_config_schema() -> dict[str, Any]:
    if not SCHEMA_FILE.is_file():
        require_tool("cloud-init")
        pytest.fail(f"cloud-init is installed but its schema is not at {SCHEMA_FILE}")
    return json.loads(SCHEMA_FILE.read_text())


def known_top_level_keys(schema: dict[str, Any]) -> set[str]:
    keys = set(schema.get("properties", {}))
    for definition in schema.get("$defs", {}).values():
        keys |= set(definition.get("properties", {}))
    return keys


def test_jsonschema_validates_against_cloud_init_schema(rendered: tuple[str, str, Path]) -> None:
    name, text, _ = rendered
    schema = cloud_config_schema()
    config = yaml.safe_load(text)
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_class(schema).iter_errors(config), key=lambda e: list(e.path))
    assert not errors, f"{name}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors)
    unknown = set(config) - known_top_level_keys(schema)
    assert not unknown, f"{name}: keys cloud-init does not know (and would silently ignore): {unknown}"


def test_schema_check_catches_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    """The checks above can fail: a typo'd top-level key and a wrong type are both reported."""
    schema = cloud_config_schema()
    config = yaml.safe_load(rendered_text("orchestrator"))
    config["runcmds"] = config.pop("runcmd")
    assert "runcmds" in set(config) - known_top_level_keys(schema)
    config = yaml.safe_load(rendered_text("orchestrator"))
    config["write_files"][0]["permissions"] = 644
    validator_class = jsonschema.validators.validator_for(schema)
    assert list(validator_class(schema).iter_errors(config))


def test_bacalhau_compute_config_allow_lists_the_logs_read_only_and_the_parse_cache_read_write() -> None:
    files = write_files(yaml.safe_load(rendered_text("compute")))
    config = yaml.safe_load(files["/etc/bacalhau/config.yaml"]["decoded"])
    compute = config["Compute"]
    assert compute["Enabled"] is True
    assert compute["AllowListedLocalPaths"] == ["/var/log/logs_to_process:ro", "/var/cache/edgelog/parse:rw"]
    assert compute["Orchestrators"] == [f"nats://{ORCHESTRATOR_IP}:4222"]
    assert "Auth" not in compute, "the token must come from Secret Manager at start, not from user-data"
    assert config["Orchestrator"]["Enabled"] is False
    assert config["API"] == {"Host": "127.0.0.1", "Port": 1234}
    assert config["Labels"] == {
        "role": "log-node",
        "environment": "dev",
        "region": "us-east1",
        "zone": "us-east1-b",
    }
    assert config["JobAdmissionControl"]["RejectNetworkedJobs"] is True
    assert "NameProvider" not in config and config["DataDir"] == "/var/lib/bacalhau"


def test_bacalhau_orchestrator_config_defaults_to_the_results_bucket() -> None:
    files = write_files(yaml.safe_load(rendered_text("orchestrator")))
    config = yaml.safe_load(files["/etc/bacalhau/config.yaml"]["decoded"])
    assert config["Orchestrator"]["Enabled"] is True and config["Orchestrator"]["Port"] == 4222
    assert "Auth" not in config["Orchestrator"] and "Auth" not in config["API"]
    assert config["Compute"]["Enabled"] is False
    assert config["API"]["Host"] == "0.0.0.0" and config["API"]["Port"] == 1234
    for kind in ["Batch", "Ops"]:
        publisher = config["JobDefaults"][kind]["Task"]["Publisher"]
        assert publisher["Type"] == "s3"
        assert publisher["Params"]["Key"] == "edgelog/{jobID}/{nodeID}/{executionID}"
        assert publisher["Params"]["Endpoint"] == "https://storage.googleapis.com"


def test_publisher_environment_for_gcs() -> None:
    config = yaml.safe_load(rendered_text("compute"))
    files = write_files(config)
    lines = files["/etc/bacalhau/publisher.env"]["decoded"].splitlines()
    env = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert env["AWS_REQUEST_CHECKSUM_CALCULATION"] == "when_required"
    assert env["AWS_ACCESS_KEY_ID"] == "GOOG1EXAMPLEACCESSIDFORTESTSONLY"
    assert "AWS_SECRET_ACCESS_KEY" not in env, "the HMAC secret comes from Secret Manager at start"
    unit = files["/etc/systemd/system/bacalhau.service"]["decoded"]
    assert "EnvironmentFile=/etc/bacalhau/publisher.env" in unit
    assert "EnvironmentFile=-/run/bacalhau/publisher.env" in unit
    assert "ExecStartPre=+/usr/local/sbin/edgelog-bacalhau-secrets compute" in unit
    assert "--config /etc/bacalhau/config.yaml --config /run/bacalhau/secrets.yaml" in unit
    assert re.search(r"^User=bacalhau$", unit, re.MULTILINE) and "SupplementaryGroups=docker" in unit


def test_user_data_carries_no_secret_values(rendered: tuple[str, str, Path]) -> None:
    _, text, _ = rendered
    node_env = write_files(yaml.safe_load(text))["/etc/default/edgelog-node"]["decoded"]
    assert "EDGELOG_TOKEN_SECRET=projects/example-project/secrets/" in node_env
    assert not re.search(
        r"(?i)(token|api_?key|secret_access_key|password)\s*[:=]\s*['\"]?[A-Za-z0-9+/]{24,}", text
    )


def test_embedded_files_are_exactly_the_repository_files() -> None:
    files = write_files(yaml.safe_load(rendered_text("compute")))
    for script in SCRIPTS:
        entry = files[f"/usr/local/sbin/{script}"]
        assert entry["decoded"] == (FILES_DIR / script).read_text() and entry["permissions"] == "0755"
    for name, spec in rotation_files().items():
        entry = files[f"/opt/edgelog/rotation/{name}"]
        assert entry["decoded"] == (ROTATION_DIR / name).read_text()
        assert entry["permissions"] == spec["mode"]
    assert files["/opt/edgelog/rotation/edgelog-rotate"]["permissions"] == "0755"
    assert (
        files["/etc/cron.d/edgelog-rotate"]["decoded"] == (ROTATION_DIR / "edgelog-rotate.cron").read_text()
    )
    assert files["/etc/cron.d/edgelog-rotate"]["permissions"] == "0644"
    assert (
        files["/etc/logrotate.d/edgelog-rotate"]["decoded"]
        == (ROTATION_DIR / "edgelog-rotate.logrotate").read_text()
    )
    compose = files["/opt/edgelog/generator/docker-compose.yml"]["decoded"]
    assert compose == (GENERATOR_DIR / "docker-compose.yml").read_text()
    env = files["/opt/edgelog/generator/.env"]["decoded"]
    example_keys = re.findall(
        r"^([A-Z][A-Z0-9_]*)=", (GENERATOR_DIR / ".env.example").read_text(), re.MULTILINE
    )
    env_keys = re.findall(r"^([A-Z][A-Z0-9_]*)=", env, re.MULTILINE)
    assert env_keys == example_keys, "every setting of .env.example appears once, in its place"
    settings = dict(line.split("=", 1) for line in env.splitlines() if line and not line.startswith("#"))
    assert settings["EDGELOG_NODE"] == NODE_NAME and settings["EDGELOG_IMAGE"] == GENERATOR_IMAGE
    assert settings["EDGELOG_LIVE_VOLUME"] == "/var/log/app"
    unit = files["/etc/systemd/system/edgelog-generator.service"]["decoded"]
    assert "up --detach --wait --no-build --pull missing generator" in unit
    assert "ExecStartPre=/usr/local/sbin/edgelog-pull-images $EDGELOG_GENERATOR_IMAGE" in unit
    node_env = files["/etc/default/edgelog-node"]["decoded"]
    assert f"EDGELOG_GENERATOR_IMAGE={GENERATOR_IMAGE}\n" in node_env
    assert f'EDGELOG_JOB_IMAGES="{JOB_IMAGE} ghcr.io/example/edgelog-job:0.1.0"' in node_env
    jobs_unit = files["/etc/systemd/system/edgelog-job-images.service"]["decoded"]
    assert "ExecStart=/usr/local/sbin/edgelog-pull-images $EDGELOG_JOB_IMAGES" in jobs_unit
    assert (
        "After=network-online.target docker.service edgelog-job-images.service"
        in (files["/etc/systemd/system/bacalhau.service"]["decoded"])
    )
    rotate_env = files["/etc/default/edgelog-rotate"]["decoded"]
    assert "EDGELOG_OUTPUT_DIR=/var/log/logs_to_process" in rotate_env


def test_bootstrap_creates_directories_with_owners_and_modes() -> None:
    config = yaml.safe_load(rendered_text("compute"))
    bootstrap = write_files(config)["/usr/local/sbin/edgelog-bootstrap"]["decoded"]
    assert "install -d -o root -g root -m 0755 /var/log/logs_to_process" in bootstrap
    assert "install -d -o 10001 -g 10001 -m 0755 /var/log/app /var/lib/edgelog" in bootstrap
    assert "install -d -o bacalhau -g bacalhau -m 0750 /var/lib/bacalhau" in bootstrap
    assert bootstrap.index("edgelog-install-bacalhau") < bootstrap.index("enable --now bacalhau.service")
    assert config["runcmd"] == [["/usr/local/sbin/edgelog-bootstrap"]]
    assert {"docker.io", "docker-compose-v2", "logrotate", "cron", "jq", "curl"} <= set(config["packages"])


def test_parse_cache_directory_is_one_path_on_the_node_in_the_specs_and_in_the_retention() -> None:
    """The node creates the cache for the job's uid before Bacalhau starts, allow-lists it read-write, the
    shipped specs mount exactly it and the rotation prunes exactly it (docs/analysis.md, "Parse cache")."""
    cache = "/var/cache/edgelog/parse"
    config = yaml.safe_load(rendered_text("compute"))
    files = write_files(config)
    bootstrap = files["/usr/local/sbin/edgelog-bootstrap"]["decoded"]
    created = f"install -d -o bacalhau -g bacalhau -m 0750 {cache}"
    assert created in bootstrap
    assert bootstrap.index(created) < bootstrap.index("enable --now bacalhau.service")
    bacalhau = yaml.safe_load(files["/etc/bacalhau/config.yaml"]["decoded"])
    assert f"{cache}:rw" in bacalhau["Compute"]["AllowListedLocalPaths"]
    assert f"{cache}:rw" in DEFAULT_ALLOW_LIST
    for name in ("access-log-report", "access-log-report-batch"):
        spec = load_spec(name, {"bucket": "b", "image": "i", "region": "r", "count": "1", "prefix": "p"}).spec
        mounts = {i.target: (i.source_path, i.read_write) for i in spec.task.inputs}
        assert mounts["/parse-cache"] == (cache, True), name
        assert "EDGELOG_PARSE_CACHE=/parse-cache" in spec.task.environment_variables, name
    lib = (REPO_ROOT / "log-generator" / "rotation" / "edgelog-rotate-lib.sh").read_text()
    assert f"EDGELOG_PARSE_CACHE_DIR=${{EDGELOG_PARSE_CACHE_DIR-{cache}}}" in lib
    rotate_env = files["/etc/default/edgelog-rotate"]["decoded"]
    assert "EDGELOG_PARSE_CACHE_DIR" not in rotate_env  # the library's default holds on the nodes


def unit_settings(unit: str) -> dict[str, list[str]]:
    """Settings of a systemd unit file by key (every value of repeated keys)."""
    settings: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_bacalhau_starts_whether_or_not_the_generator_image_pulled() -> None:
    """A failed generator start must not abort the bootstrap before bacalhau.service is enabled."""
    files = write_files(yaml.safe_load(rendered_text("compute")))
    bootstrap = files["/usr/local/sbin/edgelog-bootstrap"]["decoded"]
    lines = [line.strip() for line in bootstrap.splitlines()]
    bacalhau = lines.index("systemctl enable --now bacalhau.service")
    generator = [i for i, line in enumerate(lines) if "edgelog-generator.service" in line]
    assert generator and all(i > bacalhau for i in generator), "bacalhau must be enabled first"
    for i in generator:
        assert "--no-block" in lines[i], f"the bootstrap waits for (and fails with) the generator: {lines[i]}"
    # The image pulls retry until they succeed: each start retries for minutes, systemd restarts it forever.
    for name in ["edgelog-generator.service", "edgelog-job-images.service"]:
        unit = unit_settings(files[f"/etc/systemd/system/{name}"]["decoded"])
        assert unit["Restart"] == ["on-failure"], name
        assert int(unit["RestartSec"][0]) >= 30, name
        assert unit["StartLimitIntervalSec"] == ["0"], name
    bacalhau_unit = unit_settings(files["/etc/systemd/system/bacalhau.service"]["decoded"])
    assert "edgelog-generator.service" not in " ".join(
        bacalhau_unit.get("Requires", []) + bacalhau_unit["After"]
    )


def test_apt_retries_for_minutes_while_nat_comes_up() -> None:
    for name, text in rendered_templates().items():
        conf = yaml.safe_load(text)["apt"]["conf"]
        retries = int(re.search(r'Acquire::Retries "(\d+)";', conf)[1])
        assert retries >= 15, f"{name}: apt gives up after {retries} retries"


def test_one_node_name_for_the_generator_and_bacalhau() -> None:
    """Rotated file names (EDGELOG_NODE) and result keys ({nodeID}) carry the same node id: the VM name.

    Bacalhau v1.9.3 (cmd/cli/serve/serve.go) takes the node id from `serve --name` on the first start and
    persists it in DataDir/system_metadata.yaml; only without --name does it ask Config.NameProvider (default
    puuid: a random id; hostname: os.Hostname() with dots replaced). So the unit passes --name explicitly.
    """
    files = write_files(yaml.safe_load(rendered_text("compute")))
    env = files["/opt/edgelog/generator/.env"]["decoded"]
    settings = dict(line.split("=", 1) for line in env.splitlines() if line and not line.startswith("#"))
    assert settings["EDGELOG_NODE"] == NODE_NAME
    node_env = files["/etc/default/edgelog-node"]["decoded"]
    assert f"EDGELOG_NODE_NAME={NODE_NAME}\n" in node_env
    for name, expected in [("compute", NODE_NAME), ("orchestrator", "edgelog-dev-orchestrator")]:
        rendered = write_files(yaml.safe_load(rendered_text(name)))
        unit = unit_settings(rendered["/etc/systemd/system/bacalhau.service"]["decoded"])
        argv = unit["ExecStart"][0].split()
        assert argv[:2] == ["/usr/local/bin/bacalhau", "serve"] and argv[argv.index("--name") + 1] == expected
        config = yaml.safe_load(rendered["/etc/bacalhau/config.yaml"]["decoded"])
        assert "NameProvider" not in config, f"{name}: the node id comes from --name, not a provider"
    from edgelog.naming import NODE_RE

    assert NODE_RE.match(NODE_NAME)


def test_terraform_sets_the_node_name_once(tmp_path: Path) -> None:
    """EDGELOG_NODE comes from the template's node_name, not from a second copy in Terraform's settings."""
    compute_tf = (TF_DIR / "compute.tf").read_text()
    assert not re.search(r"^\s*EDGELOG_NODE\s*=", compute_tf, re.MULTILINE)
    template = (CLOUD_INIT_DIR / "compute.yaml.tftpl").read_text()
    assert template.count("${node_name}") >= 3  # node env, bacalhau --name, generator .env


def test_bacalhau_user_has_the_job_image_uid() -> None:
    """Bacalhau hands /outputs to the uid `bacalhau serve` runs as; the job image's user must be that uid."""
    import re

    dockerfile = (REPO_ROOT / "jobs" / "Dockerfile").read_text()
    job_uid = int(re.search(r"^ARG EDGELOG_JOB_UID=(\d+)$", dockerfile, re.MULTILINE)[1])
    compute_tf = (REPO_ROOT / "terraform" / "compute.tf").read_text()
    assert int(re.search(r"^\s*bacalhau_uid\s*=\s*(\d+)$", compute_tf, re.MULTILINE)[1]) == job_uid
    assert compute_vars()["bacalhau_uid"] == job_uid
    users = yaml.safe_load(rendered_text("compute"))["users"]
    bacalhau = next(u for u in users if isinstance(u, dict) and u["name"] == "bacalhau")
    assert int(bacalhau["uid"]) == job_uid


def test_templatefile_calls_pass_exactly_the_variables_the_templates_use(tmp_path: Path) -> None:
    """terraform/*.tf pass the same names as these examples, and the templates need every one of them."""
    for name, tf_name in [("compute", "compute.tf"), ("orchestrator", "orchestrator.tf")]:
        tf_text = (TF_DIR / tf_name).read_text()
        at = tf_text.index(f'templatefile("${{path.module}}/../cloud-init/{name}.yaml.tftpl"')
        line_start = tf_text.rindex("\n", 0, at) + 1
        indent = len(tf_text[line_start:at]) - len(tf_text[line_start:at].lstrip())
        call = tf_text[at:]
        body = call[call.index("{\n") + 2 : call.index("\n" + " " * indent + "})")]
        passed = set(re.findall(rf"^ {{{indent + 2}}}(\w+)\s+=", body, re.MULTILINE))
        variables = TEMPLATES[name]()
        assert passed == set(variables), f"{tf_name}: {passed ^ set(variables)}"
        # Real templatefile: leaving out any one variable must fail (so none is stale).
        vars_file = tmp_path / f"{name}-vars.json"
        vars_file.write_text(json.dumps(variables))
        path = json.dumps(str(CLOUD_INIT_DIR / f"{name}.yaml.tftpl"))
        all_vars = f"jsondecode(file({json.dumps(str(vars_file))}))"
        expression = (
            f"jsonencode({{for key in keys({all_vars}) : key => "
            f"can(templatefile({path}, {{for k, v in {all_vars} : k => v if k != key}}))}})"
        )
        results = json.loads(json.loads(console(expression, tmp_path)))
        assert set(results) == set(variables)
        unused = sorted(key for key, ok in results.items() if ok)
        assert not unused, f"{name}.yaml.tftpl renders without {unused}: remove them from {tf_name}"


def test_node_scripts_refuse_bad_arguments(tmp_path: Path) -> None:
    bash = require_tool("bash")
    fetch = subprocess.run(
        [bash, str(FILES_DIR / "edgelog-fetch-secret"), "not-a-secret"], capture_output=True
    )
    assert fetch.returncode == 2 and b"projects/PROJECT/secrets/SECRET_ID" in fetch.stderr
    secrets = subprocess.run([bash, str(FILES_DIR / "edgelog-bacalhau-secrets"), "web"], capture_output=True)
    assert secrets.returncode == 2 and b"compute|orchestrator" in secrets.stderr
    env_file = tmp_path / "edgelog-node"
    env_file.write_text(
        "BACALHAU_VERSION=v1.9.3\nBACALHAU_URL=https://example.invalid/b.tgz\nBACALHAU_SHA256=abc\n"
    )
    install = subprocess.run(
        [bash, str(FILES_DIR / "edgelog-install-bacalhau")],
        capture_output=True,
        env={**os.environ, "EDGELOG_NODE_ENV": str(env_file)},
    )
    assert install.returncode == 2 and b"64 lower-case hex" in install.stderr


def test_user_data_fits_in_instance_metadata(rendered: tuple[str, str, Path]) -> None:
    """GCE limits one metadata value to 256 KiB (and all metadata to 512 KiB); keep ample headroom."""
    name, text, _ = rendered
    assert len(text.encode()) < 192 * 1024, f"{name} user-data is {len(text.encode())} bytes"


EXPECTED_ON_THE_NODE = re.compile(
    r"Command (/usr/local/bin/bacalhau|/usr/local/sbin/edgelog-[a-z-]+|/usr/bin/docker) is not executable: "
    r"No such file or directory$|Unit docker\.service not found\.$"
)


def verify_units(units: dict[str, str], directory: Path) -> list[str]:
    """systemd-analyze verify on the given units; returns its complaints minus "not installed here" ones."""
    systemd_analyze = require_tool("systemd-analyze")
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in units.items():
        path = directory / name
        path.write_text(content)
        paths.append(str(path))
    result = subprocess.run(
        [systemd_analyze, "verify", "--man=no", "--generators=no", *paths],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return [line for line in lines if not EXPECTED_ON_THE_NODE.search(line)]


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    for name, text in rendered_templates().items():
        units = {
            path.rsplit("/", 1)[1]: entry["decoded"]
            for path, entry in write_files(yaml.safe_load(text)).items()
            if path.startswith("/etc/systemd/system/") and ".service.d/" not in path
        }
        assert "bacalhau.service" in units
        problems = verify_units(units, tmp_path / name)
        assert not problems, f"{name}: " + "\n".join(problems)


def test_systemd_verify_reports_a_broken_unit(tmp_path: Path) -> None:
    unit = write_files(yaml.safe_load(rendered_text("orchestrator")))["/etc/systemd/system/bacalhau.service"]
    broken = unit["decoded"].replace("Restart=always", "Restartt=always")
    problems = verify_units({"bacalhau.service": broken}, tmp_path)
    assert any("Unknown key 'Restartt'" in line for line in problems)


# Every typed config key of Bacalhau v1.9.3 (pkg/config/types/generated_constants.go). Bacalhau reads its
# config with viper, which silently ignores unknown keys: a misspelt key would only show as a broken node.
BACALHAU_CONFIG_KEYS = frozenset(
    {
        "API.Auth.AccessPolicyPath",
        "API.Auth.Methods",
        "API.Auth.Users",
        "API.Host",
        "API.Port",
        "API.TLS.AutoCert",
        "API.TLS.AutoCertCachePath",
        "API.TLS.CAFile",
        "API.TLS.CertFile",
        "API.TLS.Insecure",
        "API.TLS.KeyFile",
        "API.TLS.SelfSigned",
        "API.TLS.UseTLS",
        "Compute.AllocatedCapacity.CPU",
        "Compute.AllocatedCapacity.Disk",
        "Compute.AllocatedCapacity.GPU",
        "Compute.AllocatedCapacity.Memory",
        "Compute.AllowListedLocalPaths",
        "Compute.Auth.Token",
        "Compute.Enabled",
        "Compute.Env.AllowList",
        "Compute.Heartbeat.InfoUpdateInterval",
        "Compute.Heartbeat.Interval",
        "Compute.Heartbeat.ResourceUpdateInterval",
        "Compute.Network.AdvertisedAddress",
        "Compute.Network.PortRangeEnd",
        "Compute.Network.PortRangeStart",
        "Compute.Orchestrators",
        "Compute.TLS.CACert",
        "Compute.TLS.RequireTLS",
        "DataDir",
        "DisableAnalytics",
        "Engines.Disabled",
        "Engines.Types.Docker.ManifestCache.Refresh",
        "Engines.Types.Docker.ManifestCache.Size",
        "Engines.Types.Docker.ManifestCache.TTL",
        "InputSources.Disabled",
        "InputSources.MaxRetryCount",
        "InputSources.ReadTimeout",
        "InputSources.Types.IPFS.Endpoint",
        "JobAdmissionControl.Locality",
        "JobAdmissionControl.ProbeExec",
        "JobAdmissionControl.ProbeHTTP",
        "JobAdmissionControl.RejectNetworkedJobs",
        "JobAdmissionControl.RejectStatelessJobs",
        "JobDefaults.Batch.Priority",
        "JobDefaults.Batch.Task.Publisher.Params",
        "JobDefaults.Batch.Task.Publisher.Type",
        "JobDefaults.Batch.Task.Resources.CPU",
        "JobDefaults.Batch.Task.Resources.Disk",
        "JobDefaults.Batch.Task.Resources.GPU",
        "JobDefaults.Batch.Task.Resources.Memory",
        "JobDefaults.Batch.Task.Timeouts.ExecutionTimeout",
        "JobDefaults.Batch.Task.Timeouts.TotalTimeout",
        "JobDefaults.Daemon.Priority",
        "JobDefaults.Daemon.Task.Resources.CPU",
        "JobDefaults.Daemon.Task.Resources.Disk",
        "JobDefaults.Daemon.Task.Resources.GPU",
        "JobDefaults.Daemon.Task.Resources.Memory",
        "JobDefaults.Ops.Priority",
        "JobDefaults.Ops.Task.Publisher.Params",
        "JobDefaults.Ops.Task.Publisher.Type",
        "JobDefaults.Ops.Task.Resources.CPU",
        "JobDefaults.Ops.Task.Resources.Disk",
        "JobDefaults.Ops.Task.Resources.GPU",
        "JobDefaults.Ops.Task.Resources.Memory",
        "JobDefaults.Ops.Task.Timeouts.ExecutionTimeout",
        "JobDefaults.Ops.Task.Timeouts.TotalTimeout",
        "JobDefaults.Service.Priority",
        "JobDefaults.Service.Task.Resources.CPU",
        "JobDefaults.Service.Task.Resources.Disk",
        "JobDefaults.Service.Task.Resources.GPU",
        "JobDefaults.Service.Task.Resources.Memory",
        "Labels",
        "Logging.Level",
        "Logging.LogDebugInfoInterval",
        "Logging.Mode",
        "NameProvider",
        "Orchestrator.Advertise",
        "Orchestrator.Auth.Token",
        "Orchestrator.Cluster.Advertise",
        "Orchestrator.Cluster.Host",
        "Orchestrator.Cluster.Name",
        "Orchestrator.Cluster.Peers",
        "Orchestrator.Cluster.Port",
        "Orchestrator.Enabled",
        "Orchestrator.EvaluationBroker.MaxRetryCount",
        "Orchestrator.EvaluationBroker.VisibilityTimeout",
        "Orchestrator.Host",
        "Orchestrator.NodeManager.DisconnectTimeout",
        "Orchestrator.NodeManager.ManualApproval",
        "Orchestrator.Port",
        "Orchestrator.Scheduler.HousekeepingInterval",
        "Orchestrator.Scheduler.HousekeepingTimeout",
        "Orchestrator.Scheduler.QueueBackoff",
        "Orchestrator.Scheduler.WorkerCount",
        "Orchestrator.SupportReverseProxy",
        "Orchestrator.TLS.CACert",
        "Orchestrator.TLS.ServerCert",
        "Orchestrator.TLS.ServerKey",
        "Orchestrator.TLS.ServerTimeout",
        "Publishers.Disabled",
        "Publishers.Types.IPFS.Endpoint",
        "Publishers.Types.Local.Address",
        "Publishers.Types.Local.Port",
        "ResultDownloaders.Disabled",
        "ResultDownloaders.Timeout",
        "ResultDownloaders.Types.IPFS.Endpoint",
        "StrictVersionMatch",
        "UpdateConfig.Interval",
        "WebUI.Backend",
        "WebUI.Enabled",
        "WebUI.Listen",
    }
)


def config_keys(config: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys of a Bacalhau config, down to the first key Bacalhau knows as a whole (maps, lists)."""
    keys = []
    for key, value in config.items():
        path = prefix + key
        if path in BACALHAU_CONFIG_KEYS or not isinstance(value, dict):
            keys.append(path)
        else:
            keys.extend(config_keys(value, path + "."))
    return keys


def test_bacalhau_configs_use_only_keys_bacalhau_knows() -> None:
    for name, text in rendered_templates().items():
        config = yaml.safe_load(write_files(yaml.safe_load(text))["/etc/bacalhau/config.yaml"]["decoded"])
        unknown = [key for key in config_keys(config) if key not in BACALHAU_CONFIG_KEYS]
        assert not unknown, f"{name}: keys Bacalhau would silently ignore: {unknown}"
    # the keys edgelog-bacalhau-secrets writes at start
    for key in ["Compute.Auth.Token", "Orchestrator.Auth.Token", "API.Auth.Users"]:
        assert key in BACALHAU_CONFIG_KEYS
    assert config_keys({"Compute": {"AllowListedLocalPath": []}}) == ["Compute.AllowListedLocalPath"]


# The Ops Agent configuration model (its docs and confgenerator): the keys edgelog's file may use, with
# the Prometheus receiver's documented limits (no honor_labels, scrape_interval >= 10s, no renaming __name__).
OPS_AGENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "logging": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "service": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "pipelines": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {"receivers": {"type": "array", "items": {"type": "string"}}},
                            },
                        }
                    },
                }
            },
        },
        "metrics": {
            "type": "object",
            "additionalProperties": False,
            "required": ["receivers", "service"],
            "properties": {
                "receivers": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["type", "config"],
                        "properties": {"type": {"const": "prometheus"}, "config": {"type": "object"}},
                    },
                },
                "service": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "log_level": {"enum": ["error", "warn", "info", "debug"]},
                        "pipelines": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["receivers"],
                                "properties": {
                                    "receivers": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                        "minItems": 1,
                                    },
                                    "processors": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_ops_agent_config_follows_the_documented_model() -> None:
    config = ops_agent_config()
    jsonschema.validate(config, OPS_AGENT_SCHEMA)
    metrics = config["metrics"]
    for pipeline in metrics["service"]["pipelines"].values():
        assert set(pipeline["receivers"]) <= set(metrics["receivers"])
    # The built-in syslog pipeline is switched off: the nodes' account may write metrics, not logs.
    assert config["logging"]["service"]["pipelines"]["default_pipeline"]["receivers"] == []
    (receiver,) = metrics["receivers"].values()
    for scrape in receiver["config"]["scrape_configs"]:
        assert "honor_labels" not in scrape
        assert int(scrape["scrape_interval"].rstrip("s")) >= 10
        for relabel in scrape.get("metric_relabel_configs", []):
            assert relabel.get("target_label") != "__name__"
    # The schema check can fail: a misspelt key is refused.
    broken = {**config, "metric": config["metrics"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, OPS_AGENT_SCHEMA)


def test_ops_agent_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    (receiver,) = ops_agent_config()["metrics"]["receivers"].values()
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(receiver["config"]))
    result = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(path.read_text().replace("scrape_interval", "scrape_intervall"))
    assert subprocess.run([promtool, "check", "config", str(broken)], capture_output=True).returncode != 0


def test_metrics_flow_from_the_textfile_directory_to_the_agent(tmp_path: Path) -> None:
    """Generator and rotation write into node_exporter's textfile directory; node_exporter serves it on
    loopback only; the agent scrapes exactly that address and keeps the series the alerts use."""
    files = write_files(yaml.safe_load(rendered_text("compute")))
    drop_in = unit_settings(
        files["/etc/systemd/system/prometheus-node-exporter.service.d/edgelog.conf"]["decoded"]
    )
    assert drop_in["ExecStart"][0] == ""  # resets the package's ExecStart
    argv = drop_in["ExecStart"][1].split()
    assert argv[0] == "/usr/bin/prometheus-node-exporter"
    assert f"--collector.textfile.directory={METRICS_DIR}" in argv
    listen = next(a.split("=", 1)[1] for a in argv if a.startswith("--web.listen-address="))
    assert listen.startswith("127.0.0.1:")
    # The drop-in applied to the package's unit (Debian's prometheus-node-exporter.service) still verifies.
    package_unit = (
        "[Unit]\nDescription=Prometheus exporter for machine metrics\n\n[Service]\nRestart=on-failure\n"
        "User=prometheus\nEnvironmentFile=/etc/default/prometheus-node-exporter\n"
        "ExecStart=/usr/bin/prometheus-node-exporter $ARGS\n\n[Install]\nWantedBy=multi-user.target\n"
    )
    merged = (
        package_unit
        + "\n"
        + files["/etc/systemd/system/prometheus-node-exporter.service.d/edgelog.conf"]["decoded"]
    )
    problems = verify_units({"prometheus-node-exporter.service": merged}, tmp_path)
    assert not [p for p in problems if "prometheus-node-exporter is not executable" not in p], problems
    (receiver,) = ops_agent_config()["metrics"]["receivers"].values()
    (scrape,) = receiver["config"]["scrape_configs"]
    assert scrape["static_configs"] == [{"targets": [listen]}]
    assert {"source_labels": ["__meta_gce_instance_name"], "target_label": "instance_name"} in scrape[
        "relabel_configs"
    ]
    # The generator: EDGELOG_METRICS_DIR, bind-mounted at the same path, through the node's compose override.
    override = yaml.safe_load(files["/opt/edgelog/generator/compose.metrics.yaml"]["decoded"])
    generator = override["services"]["generator"]
    assert generator["environment"] == {"EDGELOG_METRICS_DIR": METRICS_DIR}
    assert generator["volumes"] == [f"{METRICS_DIR}:{METRICS_DIR}"]
    unit = unit_settings(files["/etc/systemd/system/edgelog-generator.service"]["decoded"])
    for command in unit["ExecStart"] + unit["ExecStop"]:
        assert "-f docker-compose.yml -f compose.metrics.yaml" in command
    # The rotation.
    assert (
        f"EDGELOG_METRICS_DIR={METRICS_DIR}" in files["/etc/default/edgelog-rotate"]["decoded"].splitlines()
    )
    # Writable by the generator's group and root, sticky; created before the generator starts.
    bootstrap = files["/usr/local/sbin/edgelog-bootstrap"]["decoded"]
    assert f"install -d -o root -g 10001 -m 1775 {METRICS_DIR}" in bootstrap
    assert bootstrap.index(METRICS_DIR) < bootstrap.index("edgelog-generator.service")
    # Pinned versions reach the installer; it runs after Bacalhau and without blocking the bootstrap.
    node_env = files["/etc/default/edgelog-node"]["decoded"]
    assert (
        "EDGELOG_OPS_AGENT_VERSION=2.70.0" in node_env and "EDGELOG_NODE_EXPORTER_VERSION=1.7.0*" in node_env
    )
    monitoring = unit_settings(files["/etc/systemd/system/edgelog-monitoring.service"]["decoded"])
    assert monitoring["ExecStart"] == ["/usr/local/sbin/edgelog-install-monitoring"]
    assert monitoring["Restart"] == ["on-failure"] and monitoring["StartLimitIntervalSec"] == ["0"]
    lines = [line.strip() for line in bootstrap.splitlines()]
    start = lines.index("systemctl enable --now --no-block edgelog-monitoring.service")
    assert start > lines.index("systemctl enable --now bacalhau.service")


def test_install_monitoring_refuses_unpinned_versions(tmp_path: Path) -> None:
    bash = require_tool("bash")
    for agent, exporter, message in [
        ("latest", "1.7.0*", b"pinned release"),
        ("2.*.*", "1.7.0*", b"pinned release"),
        ("2.70.0", "latest", b"package version"),
    ]:
        env_file = tmp_path / "edgelog-node"
        env_file.write_text(
            f"EDGELOG_OPS_AGENT_VERSION={agent}\nEDGELOG_NODE_EXPORTER_VERSION='{exporter}'\n"
            f"EDGELOG_METRICS_DIR={METRICS_DIR}\nEDGELOG_METRICS_GID=10001\n"
        )
        result = subprocess.run(
            [bash, str(FILES_DIR / "edgelog-install-monitoring")],
            capture_output=True,
            env={**os.environ, "EDGELOG_NODE_ENV": str(env_file)},
        )
        assert result.returncode == 2 and message in result.stderr, result.stderr
