# Shared naming, labels and the node inventory derived from var.regions, plus the APIs the deployment needs.

locals {
  name = "${var.name_prefix}-${var.environment}"

  common_labels = merge(var.labels, {
    app         = "edgelog"
    environment = var.environment
    managed-by  = "terraform"
  })

  # Network tags: the firewall rules match on these, never on broad ranges.
  orchestrator_tag = "${local.name}-orchestrator"
  compute_tag      = "${local.name}-node"

  bacalhau_api_port = 1234
  nats_port         = 4222

  # Google's IAP TCP-forwarding range (SSH and the API tunnel come only from here).
  iap_range = "35.235.240.0/20"

  # One entry per compute node: key "<zone>-<n>", spread over every zone of every region.
  compute_nodes = merge([
    for region, cfg in var.regions : {
      for pair in setproduct(cfg.zones, range(1, cfg.nodes_per_zone + 1)) :
      "${pair[0]}-${pair[1]}" => {
        region = region
        zone   = pair[0]
        index  = pair[1]
        name   = "${local.name}-node-${pair[0]}-${pair[1]}"
      }
    }
  ]...)

  first_region      = sort(keys(var.regions))[0]
  orchestrator_zone = coalesce(var.orchestrator_zone, var.regions[local.first_region].zones[0])
  # The orchestrator lives in the region its zone belongs to (zone name minus the "-x" suffix).
  orchestrator_region = regex("^(.*)-[a-z]$", local.orchestrator_zone)[0]

  # Boot disk support by machine series (the machine type's first word; GCP's machine series comparison and
  # Hyperdisk documentation): these series boot only from Hyperdisk, no Persistent Disk (pd-*) at all ...
  hyperdisk_only_series = ["a4", "a4x", "c4", "c4a", "c4d", "h4d", "m4", "n4", "n4a", "n4d", "x4"]
  # ... these also boot from Hyperdisk Balanced (every other series, e.g. e2, n1, n2, n2d, t2d, c2, does not) ...
  hyperdisk_balanced_series = concat(local.hyperdisk_only_series, ["a3", "c3", "c3d", "h3", "m1", "m2", "m3", "z3"])
  # ... and these have no pd-standard (C3/C3D/Z3: pd-balanced or pd-ssd; H3: pd-balanced).
  no_pd_standard_series = concat(local.hyperdisk_only_series, ["c3", "c3d", "h3", "z3"])
  machine_series = {
    compute      = split("-", var.compute_machine_type)[0]
    orchestrator = split("-", var.orchestrator_machine_type)[0]
  }
  # The boot disk type of each VM role: var.boot_disk_type, or what its machine series boots from.
  boot_disk_types = {
    for role, series in local.machine_series :
    role => coalesce(var.boot_disk_type, contains(local.hyperdisk_only_series, series) ? "hyperdisk-balanced" : "pd-balanced")
  }

  bacalhau_download_url = "https://github.com/bacalhau-project/bacalhau/releases/download/${var.bacalhau_version}/bacalhau_${var.bacalhau_version}_linux_amd64.tar.gz"

  # Key layout the S3 publisher must use so 'edgelog fetch' finds the results (docs/design.md, settings.RESULTS_PREFIX).
  results_prefix = "edgelog"
  gcs_endpoint   = "https://storage.googleapis.com"

  apis = [
    "compute.googleapis.com",
    "iam.googleapis.com",
    "iap.googleapis.com",
    "monitoring.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]
}

resource "google_project_service" "apis" {
  for_each = var.enable_apis ? toset(local.apis) : toset([])

  project = var.project_id
  service = each.value

  # Other workloads in the project may depend on these APIs: never switch them off on destroy.
  disable_on_destroy = false
}

locals {
  # Node helper scripts (cloud-init/files), embedded base64 in the rendered cloud-config.
  script_b64 = {
    for name in [
      "edgelog-fetch-secret", "edgelog-install-bacalhau", "edgelog-bacalhau-secrets", "edgelog-pull-images",
      "edgelog-install-monitoring",
    ] :
    name => base64encode(file("${path.module}/../cloud-init/files/${name}"))
  }

  # Artifact Registry repositories (<location>-docker.pkg.dev/<project>/<repository>/<image>) of the generator
  # and job images: the compute nodes' service account gets read access to each.
  registry_image_re = "^(?:([a-z0-9-]+)-docker\\.pkg\\.dev/([a-z0-9.:-]+)/([a-z0-9._-]+)/)?"
  artifact_repositories = {
    for key in distinct([
      for image in concat([var.generator_image], var.job_images) :
      join("/", regex(local.registry_image_re, image)) if regex(local.registry_image_re, image)[0] != null
    ]) :
    key => {
      location   = split("/", key)[0]
      project    = split("/", key)[1]
      repository = split("/", key)[2]
    }
  }
}

locals {
  # S3 publisher settings that put results where 'edgelog fetch' looks (docs/design.md "Bucket layout").
  s3_region = lower(var.bucket_location)
  default_publisher = {
    Type = "s3"
    Params = {
      Bucket   = google_storage_bucket.results.name
      Key      = "${local.results_prefix}/{jobID}/{nodeID}/{executionID}"
      Endpoint = local.gcs_endpoint
      Region   = local.s3_region
      Encoding = "plain"
    }
  }
}
