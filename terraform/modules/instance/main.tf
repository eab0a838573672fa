# One hardened edgelog VM: the orchestrator and every compute node are instances of this module, so the
# hardening below exists once and checkov checks this resource for each of them.

resource "google_compute_instance" "this" {
  #checkov:skip=CKV_GCP_40:The access_config block is dynamic and only exists when var.enable_public_ip is true (default false); checkov cannot evaluate the condition. Without it egress goes through Cloud NAT.
  #checkov:skip=CKV_GCP_38:Boot disks use Google-managed encryption; customer-supplied keys (CSEK) cannot be managed in Terraform without putting the raw key in state, and the disks only hold generated logs (expiring within days) and Bacalhau's job state.
  name         = var.name
  description  = var.description
  machine_type = var.machine_type
  zone         = var.zone

  tags   = var.tags
  labels = var.labels

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
    subnetwork = var.subnetwork
    network_ip = var.network_ip

    dynamic "access_config" {
      for_each = var.enable_public_ip ? [1] : []
      content {
        network_tier = "PREMIUM"
      }
    }
  }

  # cloud-platform scope (Google's recommendation): IAM on the dedicated account decides what the VM may do.
  service_account {
    email  = var.service_account_email
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
    user-data              = var.user_data
  }
}
