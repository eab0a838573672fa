# The compute nodes: one VM per entry of local.compute_nodes (var.regions x zones x nodes_per_zone), each
# running the log generator, the 5-minute rotation and a Bacalhau compute node (cloud-init/compute.yaml.tftpl).

locals {
  generator_dir = "${path.module}/../log-generator"
  rotation_dir  = "${local.generator_dir}/rotation"

  # Everything in log-generator/rotation is installed to /opt/edgelog/rotation (scripts executable), except
  # the cron.d entry and the logrotate.d snippet, which go to their own directories.
  rotation_files = {
    for name in fileset(local.rotation_dir, "*") :
    name => {
      b64  = base64encode(file("${local.rotation_dir}/${name}"))
      mode = startswith(file("${local.rotation_dir}/${name}"), "#!") ? "0755" : "0644"
    }
    if !endswith(name, ".cron") && !endswith(name, ".logrotate") && !startswith(name, ".")
  }

  # The generator image runs as this uid/gid (docs/rotation.md): it owns /var/log/app and /var/lib/edgelog.
  generator_uid = 10001
  generator_gid = 10001

  # Bacalhau creates a job's /outputs owned by the user `bacalhau serve` runs as (mode 0755) and cannot pick the
  # container's user, so that user must have the job image's uid (jobs/Dockerfile EDGELOG_JOB_UID, docs/jobs.md).
  bacalhau_uid = 10002

  # The compose project's .env: log-generator/.env.example with this deployment's values substituted in place
  # (and any extra var.generator_env keys appended), so every setting appears exactly once.
  # One entry per line of .env.example: the line and the variable it sets ("" for comments and blank lines).
  generator_env_example = [
    for line in split("\n", trimspace(file("${local.generator_dir}/.env.example"))) : {
      line = line
      key  = try(regex("^([A-Z][A-Z0-9_]*)=", line)[0], "")
    }
  ]
  # EDGELOG_NODE is not set here: the template sets it from node_name, the value Bacalhau gets as its node id.
  generator_settings = {
    for key, node in local.compute_nodes : key => merge(var.generator_env, {
      EDGELOG_IMAGE = var.generator_image
      EDGELOG_UID   = tostring(local.generator_uid)
      EDGELOG_GID   = tostring(local.generator_gid)
      # Host directories instead of named volumes: cron on the host rotates /var/log/app.
      EDGELOG_LIVE_VOLUME   = "/var/log/app"
      EDGELOG_STATE_VOLUME  = "/var/lib/edgelog"
      EDGELOG_OUTPUT_VOLUME = "/var/log/logs_to_process"
      EDGELOG_CONFIG_DIR    = "/etc/edgelog/generator"
    })
  }
  generator_env = {
    for key, settings in local.generator_settings : key => join("\n", concat(
      [for l in local.generator_env_example : contains(keys(settings), l.key) ? "${l.key}=${settings[l.key]}" : l.line],
      [for k in sort(keys(settings)) : "${k}=${settings[k]}" if !contains(local.generator_env_example[*].key, k)],
    ))
  }

  # node_exporter's textfile directory (Debian/Ubuntu default): the generator and the rotation write metrics here.
  metrics_dir = "/var/lib/prometheus/node-exporter"

  # /etc/default/edgelog-rotate: the node's paths for the rotation scripts (docs/rotation.md).
  rotate_env = join("\n", concat([
    "EDGELOG_METRICS_DIR=${local.metrics_dir}",
    "EDGELOG_LIVE_DIR=/var/log/app",
    "EDGELOG_STAGING_DIR=/var/log/app/rotated",
    "EDGELOG_OUTPUT_DIR=/var/log/logs_to_process",
    "EDGELOG_STATUS_FILE=/var/lib/edgelog/generator.json",
    "EDGELOG_STATE_DIR=/var/lib/edgelog-rotate",
  ], [for k in sort(keys(var.rotation_settings)) : "${k}=${var.rotation_settings[k]}"]))
}

module "compute" {
  source   = "./modules/instance"
  for_each = local.compute_nodes

  name                  = each.value.name
  description           = "edgelog ${var.environment} compute node (log generator + Bacalhau) in ${each.value.zone}"
  zone                  = each.value.zone
  machine_type          = var.compute_machine_type
  boot_image            = var.boot_image
  boot_disk_size_gb     = var.boot_disk_size_gb
  boot_disk_type        = local.boot_disk_types.compute
  subnetwork            = google_compute_subnetwork.nodes[each.value.region].id
  enable_public_ip      = var.enable_public_ip
  service_account_email = google_service_account.compute.email
  deletion_protection   = var.deletion_protection
  tags                  = [local.compute_tag]
  labels = {
    role   = var.compute_role
    region = each.value.region
    zone   = each.value.zone
  }

  user_data = templatefile("${path.module}/../cloud-init/compute.yaml.tftpl", {
    node_name                 = each.value.name
    bacalhau_version          = var.bacalhau_version
    bacalhau_url              = local.bacalhau_download_url
    bacalhau_sha256           = var.bacalhau_sha256
    token_secret              = google_secret_manager_secret.bacalhau_token.id
    hmac_secret               = google_secret_manager_secret.publisher_hmac_secret.id
    hmac_access_id            = google_storage_hmac_key.publisher.access_id
    orchestrator_address      = google_compute_address.orchestrator_internal.address
    api_port                  = local.bacalhau_api_port
    nats_port                 = local.nats_port
    reject_networked_jobs     = var.reject_networked_jobs
    fetch_secret_script       = local.script_b64["edgelog-fetch-secret"]
    install_bacalhau_script   = local.script_b64["edgelog-install-bacalhau"]
    bacalhau_secrets_script   = local.script_b64["edgelog-bacalhau-secrets"]
    pull_images_script        = local.script_b64["edgelog-pull-images"]
    install_monitoring_script = local.script_b64["edgelog-install-monitoring"]
    metrics_dir               = local.metrics_dir
    node_exporter_version     = var.node_exporter_version
    ops_agent_version         = var.ops_agent_version
    job_images                = var.job_images
    bacalhau_labels = merge(var.bacalhau_extra_labels, {
      role        = var.compute_role
      environment = var.environment
      region      = each.value.region
      zone        = each.value.zone
    })
    rotation_files    = local.rotation_files
    rotate_env        = local.rotate_env
    rotate_cron       = base64encode(file("${local.rotation_dir}/edgelog-rotate.cron"))
    rotate_logrotate  = base64encode(file("${local.rotation_dir}/edgelog-rotate.logrotate"))
    generator_compose = base64encode(file("${local.generator_dir}/docker-compose.yml"))
    generator_env     = local.generator_env[each.key]
    generator_image   = var.generator_image
    generator_uid     = local.generator_uid
    generator_gid     = local.generator_gid
    bacalhau_uid      = local.bacalhau_uid
  })

  # The secrets, the grants (secrets, registry) and the orchestrator must exist before a node boots and asks.
  depends_on = [
    google_secret_manager_secret_version.bacalhau_token,
    google_secret_manager_secret_version.publisher_hmac_secret,
    google_secret_manager_secret_iam_member.secret_readers,
    google_artifact_registry_repository_iam_member.compute_pull,
    # Egress for apt, the Bacalhau download and image pulls: cloud-init runs once and cannot wait for it.
    google_compute_router_nat.nat,
    google_project_iam_member.compute_metric_writer,
    module.orchestrator,
  ]
}
