# staging: two regions, production-like settings, shorter retention. Add project_id and bacalhau_sha256
# with -var or a terraform.tfvars of your own (docs/infrastructure.md).
environment = "staging"

regions = {
  "us-east1" = {
    subnet_cidr    = "10.30.0.0/24"
    zones          = ["us-east1-b", "us-east1-c"]
    nodes_per_zone = 1
  }
  "europe-west4" = {
    subnet_cidr    = "10.31.0.0/24"
    zones          = ["europe-west4-a", "europe-west4-b"]
    nodes_per_zone = 1
  }
}

orchestrator_zone         = "us-east1-b"
compute_machine_type      = "e2-standard-2"
orchestrator_machine_type = "e2-standard-2"
boot_disk_size_gb         = 50
results_retention_days    = 14
noncurrent_retention_days = 3
force_destroy_bucket      = false
deletion_protection       = false
