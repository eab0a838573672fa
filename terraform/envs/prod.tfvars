# prod: three regions, bigger disks, deletion protection, longer retention. Add project_id and
# bacalhau_sha256 with -var or a terraform.tfvars of your own (docs/infrastructure.md).
environment = "prod"

regions = {
  "us-east1" = {
    subnet_cidr    = "10.40.0.0/24"
    zones          = ["us-east1-b", "us-east1-c", "us-east1-d"]
    nodes_per_zone = 1
  }
  "europe-west4" = {
    subnet_cidr    = "10.41.0.0/24"
    zones          = ["europe-west4-a", "europe-west4-b", "europe-west4-c"]
    nodes_per_zone = 1
  }
  "asia-southeast1" = {
    subnet_cidr    = "10.42.0.0/24"
    zones          = ["asia-southeast1-a", "asia-southeast1-b"]
    nodes_per_zone = 1
  }
}

orchestrator_zone         = "us-east1-b"
compute_machine_type      = "e2-standard-4"
orchestrator_machine_type = "e2-standard-2"
boot_disk_size_gb         = 100
boot_disk_type            = "pd-balanced"
results_retention_days    = 90
noncurrent_retention_days = 7
force_destroy_bucket      = false
deletion_protection       = true
