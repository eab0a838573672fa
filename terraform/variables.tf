# Inputs. Every variable is typed, described and validated; only project_id, environment, regions and
# bacalhau_sha256 have no default. Environment presets live in envs/*.tfvars.

# ---------------------------------------------------------------------------------------------------------
# Project and naming
# ---------------------------------------------------------------------------------------------------------

variable "project_id" {
  description = "ID of the existing GCP project to deploy into (6-30 characters: lower-case letters, digits, hyphens)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a GCP project ID: 6-30 characters, lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Deployment environment; part of every resource name and label (dev, staging or prod)."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of: dev, staging, prod."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (<prefix>-<environment>-...). Short, because service account IDs are limited to 30 characters."
  type        = string
  default     = "edgelog"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,10}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-12 characters: lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "labels" {
  description = "Extra GCP labels added to every resource (for cost allocation, ownership...). Keys and values follow GCP label rules."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.labels :
      can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))
    ])
    error_message = "labels keys must match ^[a-z][a-z0-9_-]{0,62}$ and values ^[a-z0-9_-]{0,63}$ (GCP label rules)."
  }
}

variable "enable_apis" {
  description = "Enable the Google APIs this deployment needs (compute, iam, secretmanager, storage, iap). Turn off when the project's APIs are managed elsewhere."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------------------------------------

variable "regions" {
  description = <<-EOT
    Where the compute nodes run: one subnet per region, nodes_per_zone nodes in each listed zone. Example:
    { "us-east1" = { subnet_cidr = "10.20.0.0/24", zones = ["us-east1-b", "us-east1-c"], nodes_per_zone = 1 } }
  EOT
  type = map(object({
    subnet_cidr    = string
    zones          = list(string)
    nodes_per_zone = optional(number, 1)
  }))

  validation {
    condition     = length(var.regions) > 0
    error_message = "regions must name at least one region."
  }
  validation {
    condition     = alltrue([for r, _ in var.regions : can(regex("^[a-z]+-[a-z]+[0-9]+$", r))])
    error_message = "regions keys must be GCP region names such as us-east1 or europe-west4."
  }
  validation {
    condition = alltrue([
      for r in values(var.regions) :
      can(cidrhost(r.subnet_cidr, 0)) && try(tonumber(split("/", r.subnet_cidr)[1]) <= 29 && tonumber(split("/", r.subnet_cidr)[1]) >= 8, false)
    ])
    error_message = "every subnet_cidr must be a valid IPv4 CIDR with a prefix length between /8 and /29."
  }
  validation {
    condition     = length(distinct([for r in values(var.regions) : r.subnet_cidr])) == length(var.regions)
    error_message = "every region needs its own subnet_cidr."
  }
  validation {
    condition = alltrue(flatten([
      for r, cfg in var.regions : [
        for z in cfg.zones : can(regex("^${r}-[a-z]$", z))
      ]
    ]))
    error_message = "every zone must belong to its region (us-east1 -> us-east1-b, us-east1-c, ...)."
  }
  validation {
    condition = alltrue([
      for cfg in values(var.regions) :
      length(cfg.zones) > 0 && length(distinct(cfg.zones)) == length(cfg.zones)
    ])
    error_message = "every region needs at least one zone, each listed once."
  }
  validation {
    condition = alltrue([
      for cfg in values(var.regions) :
      cfg.nodes_per_zone == floor(cfg.nodes_per_zone) && cfg.nodes_per_zone >= 1 && cfg.nodes_per_zone <= 20
    ])
    error_message = "nodes_per_zone must be a whole number between 1 and 20."
  }
}

variable "allowed_cidrs" {
  description = "Extra IPv4 source ranges (e.g. your office or VPN) allowed to reach the orchestrator's Bacalhau API (1234; never NATS 4222, which only the deployment's own nodes reach). Empty by default: use the IAP tunnel. Each range must be a /16 or narrower."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_cidrs : can(regex("^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$", c)) && can(cidrhost(c, 0))])
    error_message = "allowed_cidrs must contain valid IPv4 CIDR ranges such as 203.0.113.0/24."
  }
  validation {
    condition     = alltrue([for c in var.allowed_cidrs : try(tonumber(split("/", c)[1]) >= 16, false)])
    error_message = "allowed_cidrs must not contain a range broader than /16 (0.0.0.0/0, or 0.0.0.0/1 + 128.0.0.0/1, would open the Bacalhau API to the internet): list your own networks."
  }
}

variable "enable_public_ip" {
  description = "Give the VMs ephemeral public IPs. Off by default: egress goes through Cloud NAT and operators use IAP."
  type        = bool
  default     = false
}

variable "enable_cloud_nat" {
  description = "Create a Cloud Router + Cloud NAT per region so VMs without public IPs can download packages, images and Bacalhau."
  type        = bool
  default     = true
}

variable "enable_iap_api_tunnel" {
  description = "Allow Google's IAP range to reach the orchestrator's Bacalhau API port, so operators can use 'gcloud compute start-iap-tunnel' instead of opening the API to a network."
  type        = bool
  default     = true
}

variable "flow_log_sampling" {
  description = "Fraction (0-1) of VPC flow log records kept for the node subnets."
  type        = number
  default     = 0.5

  validation {
    condition     = var.flow_log_sampling >= 0 && var.flow_log_sampling <= 1
    error_message = "flow_log_sampling must be between 0 and 1."
  }
}

# ---------------------------------------------------------------------------------------------------------
# Virtual machines
# ---------------------------------------------------------------------------------------------------------

variable "orchestrator_zone" {
  description = "Zone of the Bacalhau orchestrator; must be one of the zones in var.regions. Null picks the first zone of the first region (alphabetically)."
  type        = string
  default     = null

  validation {
    condition     = var.orchestrator_zone == null || can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", var.orchestrator_zone))
    error_message = "orchestrator_zone must be a zone name such as us-east1-b (or null)."
  }
}

variable "orchestrator_machine_type" {
  description = "Machine type of the orchestrator VM (x86-64: the Bacalhau download is linux_amd64)."
  type        = string
  default     = "e2-standard-2"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*-[a-z0-9-]+$", var.orchestrator_machine_type)) && !startswith(var.orchestrator_machine_type, "t2a-") && !startswith(var.orchestrator_machine_type, "c4a-")
    error_message = "orchestrator_machine_type must be an x86-64 machine type such as e2-standard-2 (Arm t2a/c4a types are not supported)."
  }
}

variable "compute_machine_type" {
  description = "Machine type of each compute node (x86-64). Runs the log generator, rotation and Bacalhau jobs (DuckDB)."
  type        = string
  default     = "e2-standard-2"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*-[a-z0-9-]+$", var.compute_machine_type)) && !startswith(var.compute_machine_type, "t2a-") && !startswith(var.compute_machine_type, "c4a-")
    error_message = "compute_machine_type must be an x86-64 machine type such as e2-standard-2 (Arm t2a/c4a types are not supported)."
  }
  validation {
    condition     = !contains(["e2-micro", "f1-micro", "g1-small"], var.compute_machine_type) && !endswith(var.compute_machine_type, "-1")
    error_message = "compute_machine_type needs at least 2 vCPUs and 2 GB: edgelog's jobs ask for 1 CPU and 1 GB and Bacalhau offers only 80% of the machine."
  }
}

variable "boot_image" {
  description = "Boot image (family or image self link). The cloud-init templates expect Ubuntu 24.04 (docker.io and docker-compose-v2 packages)."
  type        = string
  default     = "ubuntu-os-cloud/ubuntu-2404-lts-amd64"

  validation {
    condition     = length(trimspace(var.boot_image)) > 0
    error_message = "boot_image must not be empty."
  }
}

variable "boot_disk_size_gb" {
  description = "Boot disk size of every VM in GB; holds Docker images, rotated logs and Bacalhau's data dir."
  type        = number
  default     = 30

  validation {
    condition     = var.boot_disk_size_gb >= 20 && var.boot_disk_size_gb <= 2000 && var.boot_disk_size_gb == floor(var.boot_disk_size_gb)
    error_message = "boot_disk_size_gb must be a whole number between 20 and 2000."
  }
}

variable "boot_disk_type" {
  description = "Boot disk type of every VM: pd-standard, pd-balanced, pd-ssd or hyperdisk-balanced. Null (the default) picks per VM what its machine series boots from: hyperdisk-balanced for Hyperdisk-only series (C4, C4D, N4, ...), pd-balanced otherwise."
  type        = string
  default     = null

  validation {
    condition     = var.boot_disk_type == null || contains(["pd-standard", "pd-balanced", "pd-ssd", "hyperdisk-balanced"], coalesce(var.boot_disk_type, "-"))
    error_message = "boot_disk_type must be pd-standard, pd-balanced, pd-ssd or hyperdisk-balanced (or null to choose per machine series)."
  }
  validation {
    condition     = var.boot_disk_type == null || !startswith(coalesce(var.boot_disk_type, "-"), "pd-") || length(setintersection(values(local.machine_series), local.hyperdisk_only_series)) == 0
    error_message = "The machine series ${join(", ", setintersection(values(local.machine_series), local.hyperdisk_only_series))} boots only from Hyperdisk: it needs boot_disk_type hyperdisk-balanced (or leave boot_disk_type unset)."
  }
  validation {
    condition     = var.boot_disk_type != "hyperdisk-balanced" || length(setsubtract(values(local.machine_series), local.hyperdisk_balanced_series)) == 0
    error_message = "The machine series ${join(", ", setsubtract(values(local.machine_series), local.hyperdisk_balanced_series))} cannot boot from hyperdisk-balanced: use a pd-* type (or leave boot_disk_type unset)."
  }
  validation {
    condition     = var.boot_disk_type != "pd-standard" || length(setintersection(values(local.machine_series), local.no_pd_standard_series)) == 0
    error_message = "The machine series ${join(", ", setintersection(values(local.machine_series), local.no_pd_standard_series))} cannot boot from pd-standard: use pd-balanced (or leave boot_disk_type unset)."
  }
}

variable "deletion_protection" {
  description = "Protect the VMs against deletion (terraform destroy fails until it is turned off). On in prod."
  type        = bool
  default     = false
}

variable "compute_role" {
  description = "Value of the 'role' label of compute nodes, both the GCP label and the Bacalhau node label that job constraints select on."
  type        = string
  default     = "log-node"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_-]{0,62}$", var.compute_role)) && var.compute_role != "orchestrator"
    error_message = "compute_role must be a GCP label value starting with a letter, and not 'orchestrator'."
  }
}

variable "bacalhau_extra_labels" {
  description = "Extra Bacalhau node labels for the compute nodes (added to role, region, zone, environment)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.bacalhau_extra_labels :
      can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$", k)) && can(regex("^[A-Za-z0-9_.-]{1,63}$", v))
    ])
    error_message = "bacalhau_extra_labels keys and values must be 1-63 characters of letters, digits, '_', '.', '-'."
  }
  validation {
    condition     = length(setintersection(keys(var.bacalhau_extra_labels), ["role", "region", "zone", "environment"])) == 0
    error_message = "bacalhau_extra_labels must not redefine role, region, zone or environment."
  }
}

# ---------------------------------------------------------------------------------------------------------
# Bacalhau
# ---------------------------------------------------------------------------------------------------------

variable "bacalhau_version" {
  description = "Bacalhau release installed on every node: v1.8.0 or later (the job specs use the `local` input source of v1.8; API keys need v1.7; the config is the v1.5+ typed format)."
  type        = string
  default     = "v1.9.3"

  validation {
    condition     = can(regex("^v1\\.([89]|[1-9][0-9])\\.[0-9]+$", var.bacalhau_version))
    error_message = "bacalhau_version must be a v1 release from v1.8.0 on (the job specs' `local` input source needs it), written like v1.9.3."
  }
}

variable "bacalhau_sha256" {
  description = "SHA-256 of bacalhau_<version>_linux_amd64.tar.gz from the GitHub release. Required: the nodes refuse to install a download that does not match. See docs/infrastructure.md for how to obtain and verify it."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.bacalhau_sha256))
    error_message = "bacalhau_sha256 must be 64 lower-case hex characters (sha256sum output)."
  }
}

variable "reject_networked_jobs" {
  description = "Compute nodes refuse jobs that ask for network access (edgelog's jobs use Network: None). Turning this off needs acknowledge_networked_jobs_risk = true."
  type        = bool
  default     = true

  validation {
    condition     = var.reject_networked_jobs || var.acknowledge_networked_jobs_risk
    error_message = "reject_networked_jobs = false lets any job reach the network, including the metadata server, which hands out the compute nodes' service-account token (secrets, registry, bucket): set acknowledge_networked_jobs_risk = true to confirm you want that."
  }
}

variable "acknowledge_networked_jobs_risk" {
  description = "Set to true to confirm reject_networked_jobs = false: networked jobs can read the metadata server's service-account token of the compute nodes."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------------------------------------
# Log generator
# ---------------------------------------------------------------------------------------------------------

variable "generator_image" {
  description = "Container image of the log generator (built from log-generator/Dockerfile and pushed to a registry the nodes can pull from). For an Artifact Registry image (<location>-docker.pkg.dev/<project>/<repo>/...) the compute service account gets read access to that repository."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*(:[0-9]+)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]{1,128})?(@sha256:[0-9a-f]{64})?$", var.generator_image))
    error_message = "generator_image must be a full image reference with a registry host, such as us-east1-docker.pkg.dev/my-project/edgelog/edgelog:0.1.0 (optionally @sha256:<digest>)."
  }
}

variable "job_images" {
  description = "Bacalhau job images (e.g. the one built from jobs/Dockerfile) pulled onto every compute node at boot. Bacalhau cannot log in to Google registries but runs images already present, so list private Artifact Registry images here (the nodes get read access)."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for image in var.job_images :
      can(regex("^[a-z0-9][a-z0-9.-]*(:[0-9]+)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]{1,128})?(@sha256:[0-9a-f]{64})?$", image))
    ])
    error_message = "job_images must be full image references with a registry host, such as us-east1-docker.pkg.dev/my-project/edgelog/edgelog-job:0.1.0."
  }
}

variable "generator_env" {
  description = "Settings for the generator's compose .env (they replace the values of log-generator/.env.example, e.g. EDGELOG_RATE, EDGELOG_FORMAT; see docs/rotation.md). Node name, image, uid/gid and host paths are set by Terraform."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.generator_env : can(regex("^[A-Z][A-Z0-9_]*$", k)) && !strcontains(v, "\n")])
    error_message = "generator_env keys must be upper-case variable names and values must be single-line."
  }
  validation {
    condition = length(setintersection(keys(var.generator_env), [
      "EDGELOG_NODE", "EDGELOG_IMAGE", "EDGELOG_UID", "EDGELOG_GID", "EDGELOG_LIVE_VOLUME", "EDGELOG_STATE_VOLUME",
      "EDGELOG_OUTPUT_VOLUME", "EDGELOG_CONFIG_DIR",
    ])) == 0
    error_message = "generator_env must not set EDGELOG_NODE, EDGELOG_IMAGE (use generator_image), EDGELOG_UID/GID or the *_VOLUME/CONFIG_DIR paths: the node layout depends on them."
  }
}

variable "rotation_settings" {
  description = "Extra EDGELOG_* rotation settings for the nodes' /etc/default/edgelog-rotate, e.g. { EDGELOG_RETENTION_DAYS = \"3\" } (docs/rotation.md lists them)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.rotation_settings :
      can(regex("^EDGELOG_[A-Z0-9_]+$", k)) && can(regex("^[A-Za-z0-9_./:@%+-]*$", v))
    ])
    error_message = "rotation_settings keys must be EDGELOG_* names and values plain words (letters, digits, _./:@%+-): the file is sourced by bash."
  }
  validation {
    condition     = length(setintersection(keys(var.rotation_settings), ["EDGELOG_LIVE_DIR", "EDGELOG_STAGING_DIR", "EDGELOG_OUTPUT_DIR", "EDGELOG_STATUS_FILE", "EDGELOG_STATE_DIR", "EDGELOG_METRICS_DIR"])) == 0
    error_message = "rotation_settings must not move the node's directories (EDGELOG_LIVE_DIR, _STAGING_DIR, _OUTPUT_DIR, _STATUS_FILE, _STATE_DIR, _METRICS_DIR): cloud-init, Bacalhau's allow-list and the metrics scrape depend on them."
  }
}

# ---------------------------------------------------------------------------------------------------------
# Results bucket
# ---------------------------------------------------------------------------------------------------------

variable "bucket_location" {
  description = "Location of the results bucket: a multi-region (US, EU, ASIA) or a region (us-east1)."
  type        = string
  default     = "US"

  validation {
    condition     = can(regex("^([A-Z]{2,4}|[a-z]+-[a-z]+[0-9]+|[A-Z]+-[A-Z]+[0-9]+)$", var.bucket_location))
    error_message = "bucket_location must be a GCS location such as US, EU or us-east1."
  }
}

variable "results_retention_days" {
  description = "Results objects are deleted this many days after they were written (lifecycle expiry)."
  type        = number
  default     = 30

  validation {
    condition     = var.results_retention_days >= 1 && var.results_retention_days <= 3650 && var.results_retention_days == floor(var.results_retention_days)
    error_message = "results_retention_days must be a whole number between 1 and 3650."
  }
}

variable "noncurrent_retention_days" {
  description = "Overwritten or deleted result versions are kept this many days (versioning) before they are removed."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_retention_days >= 1 && var.noncurrent_retention_days <= 365 && var.noncurrent_retention_days == floor(var.noncurrent_retention_days)
    error_message = "noncurrent_retention_days must be a whole number between 1 and 365."
  }
}

variable "access_log_bucket" {
  description = "Name of an existing bucket that receives the results bucket's usage/access logs; null disables access logging."
  type        = string
  default     = null

  validation {
    condition     = var.access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be a bucket name (or null)."
  }
}

variable "force_destroy_bucket" {
  description = "Let terraform destroy delete the results bucket even when it still holds results. Keep false outside dev."
  type        = bool
  default     = false
}

variable "results_readers" {
  description = "IAM members (user:, group:, serviceAccount:) allowed to read results (roles/storage.objectViewer on the bucket) for 'edgelog fetch'."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.results_readers : can(regex("^(user|group|serviceAccount|domain):[^\\s]+$", m))])
    error_message = "results_readers entries must look like user:alice@example.com, group:ops@example.com or serviceAccount:..."
  }
}

# ---------------------------------------------------------------------------------------------------------
# Monitoring (Cloud Monitoring: node metrics and alert policies)
# ---------------------------------------------------------------------------------------------------------

variable "ops_agent_version" {
  description = "google-cloud-ops-agent release every compute node installs (pinned MAJOR.MINOR.PATCH; its Prometheus receiver sends the node's metrics to Cloud Monitoring)."
  type        = string
  default     = "2.70.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.ops_agent_version))
    error_message = "ops_agent_version must be a pinned release such as 2.70.0 (not latest or 2.*.*)."
  }
}

variable "node_exporter_version" {
  description = "Ubuntu 24.04 package version of prometheus-node-exporter on the compute nodes (an apt version, '*' allowed at the end: 1.7.0* pins the upstream release and takes Ubuntu's security updates)."
  type        = string
  default     = "1.7.0*"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+([*]|[-+~.][A-Za-z0-9.+~*-]*)?$", var.node_exporter_version))
    error_message = "node_exporter_version must be a package version such as 1.7.0* or 1.7.0-1ubuntu0.1."
  }
}

variable "enable_alert_policies" {
  description = "Create the Cloud Monitoring alert policies (rotation stale, logs_to_process growing toward a full disk, disk above alert_disk_used_percent, generator silent)."
  type        = bool
  default     = true
}

variable "notification_channels" {
  description = "Cloud Monitoring notification channels the alert policies notify (projects/<project>/notificationChannels/<id>; create them in the console or with google_monitoring_notification_channel). Empty: incidents open without notifications."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[a-z0-9-]+/notificationChannels/[0-9]+$", c))])
    error_message = "notification_channels entries must look like projects/my-project/notificationChannels/1234567890."
  }
}

variable "alert_disk_used_percent" {
  description = "The disk alert fires when a compute node's root filesystem (rotated logs, images, Bacalhau data) is fuller than this percentage for 5 minutes."
  type        = number
  default     = 85

  validation {
    condition     = var.alert_disk_used_percent >= 50 && var.alert_disk_used_percent <= 99
    error_message = "alert_disk_used_percent must be between 50 and 99."
  }
}
