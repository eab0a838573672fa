# dev: one small node per zone in one region, easy to tear down. Add project_id and bacalhau_sha256 with
# -var or a terraform.tfvars of your own (docs/infrastructure.md).
environment = "dev"

regions = {
  "us-east1" = {
    subnet_cidr    = "10.20.0.0/24"
    zones          = ["us-east1-b", "us-east1-c"]
    nodes_per_zone = 1
  }
}

compute_machine_type      = "e2-standard-2"
orchestrator_machine_type = "e2-small"
boot_disk_size_gb         = 30
results_retention_days    = 7
noncurrent_retention_days = 1
force_destroy_bucket      = true
deletion_protection       = false
