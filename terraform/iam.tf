# Dedicated service accounts, one per job, each with only the access it needs. Every binding is on a single
# secret, repository or the results bucket, except the one project-level role Cloud Monitoring has: the compute
# nodes may write metrics (roles/monitoring.metricWriter, write-only). The VMs use the cloud-platform scope
# (Google's recommended pattern) so IAM, not legacy access scopes, is what limits them.

# The compute nodes: read the cluster token and the publisher's HMAC secret, nothing else.
resource "google_service_account" "compute" {
  account_id   = "${local.name}-node"
  display_name = "edgelog ${var.environment} compute nodes"
  description  = "Runs the log generator and the Bacalhau compute node; reads its two secrets from Secret Manager."

  depends_on = [google_project_service.apis]
}

# The orchestrator: reads the cluster token and the API key.
resource "google_service_account" "orchestrator" {
  account_id   = "${local.name}-orch"
  display_name = "edgelog ${var.environment} Bacalhau orchestrator"
  description  = "Runs the Bacalhau orchestrator; reads the cluster token and the API key from Secret Manager."

  depends_on = [google_project_service.apis]
}

# Owns the HMAC key the Bacalhau S3 publisher signs with. It never runs anything and has no key of its own:
# its only permission is creating objects in the results bucket (storage.tf).
resource "google_service_account" "publisher" {
  account_id   = "${local.name}-pub"
  display_name = "edgelog ${var.environment} results publisher (HMAC)"
  description  = "Owner of the HMAC key used by Bacalhau's S3 publisher; may only create objects in the results bucket."

  depends_on = [google_project_service.apis]
}

# Who may read which secret: each node role reads only the secrets its own bootstrap fetches
# (cloud-init/files/edgelog-bacalhau-secrets).
locals {
  secret_readers = {
    compute-bacalhau-token = {
      secret_id = google_secret_manager_secret.bacalhau_token.id
      member    = google_service_account.compute.member
    }
    compute-publisher-hmac-secret = {
      secret_id = google_secret_manager_secret.publisher_hmac_secret.id
      member    = google_service_account.compute.member
    }
    orchestrator-bacalhau-token = {
      secret_id = google_secret_manager_secret.bacalhau_token.id
      member    = google_service_account.orchestrator.member
    }
    orchestrator-bacalhau-api-key = {
      secret_id = google_secret_manager_secret.bacalhau_api_key.id
      member    = google_service_account.orchestrator.member
    }
  }
}

resource "google_secret_manager_secret_iam_member" "secret_readers" {
  for_each = local.secret_readers

  secret_id = each.value.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}

# Create-only: the publisher can add result objects but cannot read, list, overwrite or delete them.
resource "google_storage_bucket_iam_member" "publisher_create" {
  bucket = google_storage_bucket.results.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.publisher.member
}

# People and service accounts that run 'edgelog fetch'.
resource "google_storage_bucket_iam_member" "results_readers" {
  for_each = toset(var.results_readers)

  bucket = google_storage_bucket.results.name
  role   = "roles/storage.objectViewer"
  member = each.value
}

# Pull access to the generator and job images that live in Artifact Registry (parsed from the image names).
resource "google_artifact_registry_repository_iam_member" "compute_pull" {
  for_each = local.artifact_repositories

  project    = each.value.project
  location   = each.value.location
  repository = each.value.repository
  role       = "roles/artifactregistry.reader"
  member     = google_service_account.compute.member
}

# The Ops Agent on the compute nodes writes their metrics (Managed Service for Prometheus). Metric writing is a
# project-level permission only; the role can write time series and nothing else (no read, no config).
resource "google_project_iam_member" "compute_metric_writer" {
  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = google_service_account.compute.member
}
