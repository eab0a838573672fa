# The results bucket the Bacalhau S3 publisher writes to (GCS XML API with an HMAC key), and the secrets the
# nodes read at boot. Secret values live only in Secret Manager (and in Terraform state: keep state in an
# encrypted remote backend with restricted access), never in instance metadata.

resource "google_storage_bucket" "results" {
  name          = "${var.project_id}-${local.name}-results"
  location      = var.bucket_location
  storage_class = "STANDARD"
  force_destroy = var.force_destroy_bucket

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = true
  }

  # Results expire after var.results_retention_days ...
  lifecycle_rule {
    condition {
      age        = var.results_retention_days
      with_state = "LIVE"
    }
    action {
      type = "Delete"
    }
  }

  # ... and overwritten/deleted versions after var.noncurrent_retention_days.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  # Multipart uploads a crashed publisher left behind.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  dynamic "logging" {
    for_each = var.access_log_bucket == null ? [] : [var.access_log_bucket]
    content {
      log_bucket        = logging.value
      log_object_prefix = "${local.name}-results"
    }
  }

  depends_on = [google_project_service.apis]
}

# HMAC key for the S3 publisher, owned by the create-only publisher service account (iam.tf).
resource "google_storage_hmac_key" "publisher" {
  service_account_email = google_service_account.publisher.email
  state                 = "ACTIVE"
}

# ---------------------------------------------------------------------------------------------------------
# Secret Manager
# ---------------------------------------------------------------------------------------------------------

# Shared token compute nodes present to the orchestrator (Orchestrator.Auth.Token / Compute.Auth.Token).
resource "random_password" "bacalhau_token" {
  length  = 48
  special = false
}

# API key for operators and the edgelog CLI (BACALHAU_API_KEY); the orchestrator's API refuses requests without it.
resource "random_password" "bacalhau_api_key" {
  length  = 48
  special = false
}

resource "google_secret_manager_secret" "bacalhau_token" {
  secret_id = "${local.name}-bacalhau-token"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "bacalhau_token" {
  secret      = google_secret_manager_secret.bacalhau_token.id
  secret_data = random_password.bacalhau_token.result
}

resource "google_secret_manager_secret" "bacalhau_api_key" {
  secret_id = "${local.name}-bacalhau-api-key"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "bacalhau_api_key" {
  secret      = google_secret_manager_secret.bacalhau_api_key.id
  secret_data = random_password.bacalhau_api_key.result
}

resource "google_secret_manager_secret" "publisher_hmac_secret" {
  secret_id = "${local.name}-publisher-hmac-secret"

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "publisher_hmac_secret" {
  secret      = google_secret_manager_secret.publisher_hmac_secret.id
  secret_data = google_storage_hmac_key.publisher.secret
}
