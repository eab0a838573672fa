# What an operator needs next: where the orchestrator is, which nodes exist, where results land, and the exact
# values for BACALHAU_API_HOST and 'edgelog fetch --bucket'. Secret values are never output.

output "orchestrator_name" {
  description = "Name of the orchestrator VM (for gcloud compute ssh / start-iap-tunnel)."
  value       = module.orchestrator.name
}

output "orchestrator_zone" {
  description = "Zone of the orchestrator VM."
  value       = module.orchestrator.zone
}

output "orchestrator_internal_ip" {
  description = "Internal IP of the orchestrator; compute nodes dial NATS at nats://<this>:4222."
  value       = google_compute_address.orchestrator_internal.address
}

output "orchestrator_public_ip" {
  description = "Public IP of the orchestrator, or null when var.enable_public_ip is false (the default)."
  value       = module.orchestrator.public_ip
}

output "orchestrator_nats_address" {
  description = "NATS address compute nodes connect to (Compute.Orchestrators)."
  value       = "nats://${google_compute_address.orchestrator_internal.address}:${local.nats_port}"
}

output "bacalhau_api_host" {
  description = "Exact BACALHAU_API_HOST for the bacalhau and edgelog CLIs: the public IP when enabled, otherwise 127.0.0.1 through the IAP tunnel in bacalhau_api_tunnel_command."
  value       = var.enable_public_ip ? module.orchestrator.public_ip : "127.0.0.1"
}

output "bacalhau_api_port" {
  description = "BACALHAU_API_PORT for the bacalhau and edgelog CLIs."
  value       = local.bacalhau_api_port
}

output "bacalhau_api_tunnel_command" {
  description = "Command that forwards 127.0.0.1:1234 to the orchestrator's API through IAP (needed when the orchestrator has no public IP); null when the IAP API tunnel is disabled."
  value       = var.enable_iap_api_tunnel ? "gcloud compute start-iap-tunnel ${module.orchestrator.name} ${local.bacalhau_api_port} --local-host-port=127.0.0.1:${local.bacalhau_api_port} --zone=${module.orchestrator.zone} --project=${var.project_id}" : null
}

output "bacalhau_api_key_command" {
  description = "Command that prints the Bacalhau API key (export its output as BACALHAU_API_KEY); the key itself is never a Terraform output."
  value       = "gcloud secrets versions access latest --secret=${google_secret_manager_secret.bacalhau_api_key.secret_id} --project=${var.project_id}"
}

output "bacalhau_env" {
  description = "Shell lines that point the bacalhau and edgelog CLIs at this deployment (run the tunnel command first when there is no public IP)."
  value = join("\n", [
    "export BACALHAU_API_HOST=${var.enable_public_ip ? module.orchestrator.public_ip : "127.0.0.1"}",
    "export BACALHAU_API_PORT=${local.bacalhau_api_port}",
    "export BACALHAU_API_KEY=\"$(gcloud secrets versions access latest --secret=${google_secret_manager_secret.bacalhau_api_key.secret_id} --project=${var.project_id})\"",
    "export EDGELOG_BUCKET=gs://${google_storage_bucket.results.name}",
  ])
}

output "compute_nodes" {
  description = "Every compute node by key (<zone>-<n>): name, region, zone, internal IP and public IP (null unless enabled)."
  value = {
    for key, vm in module.compute : key => {
      name        = vm.name
      region      = local.compute_nodes[key].region
      zone        = vm.zone
      internal_ip = vm.internal_ip
      public_ip   = vm.public_ip
    }
  }
}

output "compute_node_count" {
  description = "Number of compute nodes; pass it to scripts/wait-for-nodes.sh."
  value       = length(module.compute)
}

output "results_bucket" {
  description = "Name of the results bucket (the S3 publisher's Bucket parameter, template variable 'bucket' of jobs/*.yaml)."
  value       = google_storage_bucket.results.name
}

output "results_bucket_url" {
  description = "gs:// URL of the results bucket."
  value       = "gs://${google_storage_bucket.results.name}"
}

output "edgelog_fetch_bucket" {
  description = "Exact value for 'edgelog fetch --bucket' (or EDGELOG_BUCKET): results live under edgelog/<jobID>/<nodeID>/<executionID>/ in it."
  value       = "gs://${google_storage_bucket.results.name}"
}

output "s3_publisher" {
  description = "S3 publisher parameters for job specs (also the orchestrator's default publisher for jobs that name none)."
  value       = local.default_publisher.Params
}

output "job_template_vars" {
  description = "Template variables for jobs/*.yaml (edgelog job submit --var k=v / bacalhau job run -V k=v) matching this deployment."
  value = {
    bucket        = google_storage_bucket.results.name
    bucket_region = local.s3_region
    endpoint      = local.gcs_endpoint
    prefix        = local.results_prefix
    role          = var.compute_role
  }
}

output "hmac_access_id" {
  description = "Access ID of the publisher's HMAC key (not secret; the secret is only in Secret Manager)."
  value       = google_storage_hmac_key.publisher.access_id
}

output "service_accounts" {
  description = "Emails of the dedicated service accounts: compute nodes, orchestrator, and the create-only publisher that owns the HMAC key."
  value = {
    compute      = google_service_account.compute.email
    orchestrator = google_service_account.orchestrator.email
    publisher    = google_service_account.publisher.email
  }
}

output "secrets" {
  description = "Secret Manager secret names (values are never outputs): cluster token, API key, publisher HMAC secret."
  value = {
    bacalhau_token        = google_secret_manager_secret.bacalhau_token.id
    bacalhau_api_key      = google_secret_manager_secret.bacalhau_api_key.id
    publisher_hmac_secret = google_secret_manager_secret.publisher_hmac_secret.id
  }
}

output "network" {
  description = "The dedicated VPC and its subnets by region."
  value = {
    vpc     = google_compute_network.vpc.name
    subnets = { for region, s in google_compute_subnetwork.nodes : region => s.ip_cidr_range }
  }
}

output "pre_pulled_images" {
  description = "Images every compute node pulls at boot (generator_image + job_images): Bacalhau can run only these from private registries, so a job spec's image must be one of them."
  value       = distinct(concat([var.generator_image], var.job_images))
}

output "alert_policies" {
  description = "Cloud Monitoring alert policies by rule (rotation-stale, logs-to-process-growing, disk-full, generator-silent): their resource names."
  value       = { for rule, policy in google_monitoring_alert_policy.edgelog : rule => policy.name }
}
