# The Bacalhau orchestrator: one VM with a reserved internal IP (the compute nodes' NATS address), Shielded VM,
# OS Login, its own service account and no public IP unless var.enable_public_ip.

resource "google_compute_address" "orchestrator_internal" {
  name         = "${local.name}-orchestrator-internal"
  description  = "Internal address of the Bacalhau orchestrator (NATS ${local.nats_port}, API ${local.bacalhau_api_port})"
  address_type = "INTERNAL"
  purpose      = "GCE_ENDPOINT"
  region       = local.orchestrator_region
  # try(): a zone outside var.regions reaches the precondition below instead of an "Invalid index" error.
  subnetwork = try(google_compute_subnetwork.nodes[local.orchestrator_region].id, null)

  lifecycle {
    precondition {
      condition     = contains(keys(var.regions), local.orchestrator_region)
      error_message = "orchestrator_zone must be a zone of one of the regions in var.regions: the orchestrator needs one of the deployment's subnets."
    }
  }
}

module "orchestrator" {
  source = "./modules/instance"

  name                  = "${local.name}-orchestrator"
  description           = "edgelog ${var.environment} Bacalhau orchestrator"
  zone                  = local.orchestrator_zone
  machine_type          = var.orchestrator_machine_type
  boot_image            = var.boot_image
  boot_disk_size_gb     = var.boot_disk_size_gb
  boot_disk_type        = local.boot_disk_types.orchestrator
  subnetwork            = google_compute_address.orchestrator_internal.subnetwork
  network_ip            = google_compute_address.orchestrator_internal.address
  enable_public_ip      = var.enable_public_ip
  service_account_email = google_service_account.orchestrator.email
  deletion_protection   = var.deletion_protection
  tags                  = [local.orchestrator_tag]
  labels = {
    role   = "orchestrator"
    region = local.orchestrator_region
    zone   = local.orchestrator_zone
  }

  user_data = templatefile("${path.module}/../cloud-init/orchestrator.yaml.tftpl", {
    node_name               = "${local.name}-orchestrator"
    bacalhau_version        = var.bacalhau_version
    bacalhau_url            = local.bacalhau_download_url
    bacalhau_sha256         = var.bacalhau_sha256
    token_secret            = google_secret_manager_secret.bacalhau_token.id
    api_key_secret          = google_secret_manager_secret.bacalhau_api_key.id
    api_port                = local.bacalhau_api_port
    nats_port               = local.nats_port
    fetch_secret_script     = local.script_b64["edgelog-fetch-secret"]
    install_bacalhau_script = local.script_b64["edgelog-install-bacalhau"]
    bacalhau_secrets_script = local.script_b64["edgelog-bacalhau-secrets"]
    default_publisher       = local.default_publisher
    bacalhau_labels = {
      role        = "orchestrator"
      environment = var.environment
      region      = local.orchestrator_region
      zone        = local.orchestrator_zone
    }
  })

  # The secrets and the grants must exist before the VM boots and asks for them.
  depends_on = [
    google_secret_manager_secret_version.bacalhau_token,
    google_secret_manager_secret_version.bacalhau_api_key,
    google_secret_manager_secret_iam_member.secret_readers,
    # Egress for apt, the Bacalhau download and image pulls: cloud-init runs once and cannot wait for it.
    google_compute_router_nat.nat,
  ]
}
