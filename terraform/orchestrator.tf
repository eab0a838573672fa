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

resource "google_compute_instance" "orchestrator" {
  #checkov:skip=CKV_GCP_40:The access_config block is dynamic and only exists when var.enable_public_ip is true (default false); checkov cannot evaluate the condition. Without it egress goes through Cloud NAT.
  #checkov:skip=CKV_GCP_38:Boot disks use Google-managed encryption; customer-supplied keys (CSEK) cannot be managed in Terraform without putting the raw key in state, and the disks hold no data beyond Bacalhau's job state.
  name         = "${local.name}-orchestrator"
  description  = "edgelog ${var.environment} Bacalhau orchestrator"
  machine_type = var.orchestrator_machine_type
  zone         = local.orchestrator_zone

  tags = [local.orchestrator_tag]
  labels = {
    role   = "orchestrator"
    region = local.orchestrator_region
    zone   = local.orchestrator_zone
  }

  deletion_protection       = var.deletion_protection
  allow_stopping_for_update = true
  can_ip_forward            = false

  boot_disk {
    auto_delete = true
    initialize_params {
      image = var.boot_image
      size  = var.boot_disk_size_gb
      type  = var.boot_disk_type
    }
  }

  network_interface {
    subnetwork = google_compute_address.orchestrator_internal.subnetwork
    network_ip = google_compute_address.orchestrator_internal.address

    dynamic "access_config" {
      for_each = var.enable_public_ip ? [1] : []
      content {
        network_tier = "PREMIUM"
      }
    }
  }

  service_account {
    email  = google_service_account.orchestrator.email
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  metadata = {
    enable-oslogin         = "TRUE"
    block-project-ssh-keys = "TRUE"
    serial-port-enable     = "FALSE"
    user-data = templatefile("${path.module}/../cloud-init/orchestrator.yaml.tftpl", {
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
  }

  # The secrets and the grants must exist before the VM boots and asks for them.
  depends_on = [
    google_secret_manager_secret_version.bacalhau_token,
    google_secret_manager_secret_version.bacalhau_api_key,
    google_secret_manager_secret_iam_member.orchestrator_token,
    google_secret_manager_secret_iam_member.orchestrator_api_key,
  ]
}
