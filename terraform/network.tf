# A dedicated VPC (no auto subnets, no default firewall rules), one subnet per region, Cloud NAT for egress,
# and the only ingress the nodes accept: Bacalhau API/NATS between nodes (and var.allowed_cidrs), SSH and the
# optional API tunnel from Google's IAP range. Everything else is denied by the VPC's implied deny-ingress rule.

resource "google_compute_network" "vpc" {
  name                    = "${local.name}-vpc"
  description             = "edgelog ${var.environment}: orchestrator and compute nodes"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"

  depends_on = [google_project_service.apis]
}

resource "google_compute_subnetwork" "nodes" {
  for_each = var.regions

  name                     = "${local.name}-${each.key}"
  description              = "edgelog ${var.environment} nodes in ${each.key}"
  network                  = google_compute_network.vpc.id
  region                   = each.key
  ip_cidr_range            = each.value.subnet_cidr
  stack_type               = "IPV4_ONLY"
  private_ip_google_access = true # reach Secret Manager, GCS and the metadata APIs without public IPs

  log_config {
    aggregation_interval = "INTERVAL_5_MIN"
    flow_sampling        = var.flow_log_sampling
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_router" "nat" {
  for_each = var.enable_cloud_nat ? var.regions : {}

  name    = "${local.name}-router-${each.key}"
  network = google_compute_network.vpc.id
  region  = each.key
}

resource "google_compute_router_nat" "nat" {
  for_each = google_compute_router.nat

  name                               = "${local.name}-nat-${each.key}"
  router                             = each.value.name
  region                             = each.key
  nat_ip_allocate_option             = "AUTO_ONLY"
  source_subnetwork_ip_ranges_to_nat = "LIST_OF_SUBNETWORKS"

  subnetwork {
    name                    = google_compute_subnetwork.nodes[each.key].self_link
    source_ip_ranges_to_nat = ["ALL_IP_RANGES"]
  }

  log_config {
    enable = true
    filter = "ERRORS_ONLY"
  }
}

# Compute nodes -> orchestrator (NATS 4222, API 1234), and the orchestrator -> itself. Matched by network tag,
# so nothing outside the deployment's own VMs is admitted by this rule.
resource "google_compute_firewall" "bacalhau_internal" {
  name        = "${local.name}-allow-bacalhau-internal"
  description = "Bacalhau API and NATS between edgelog nodes only"
  network     = google_compute_network.vpc.id
  direction   = "INGRESS"
  priority    = 1000

  source_tags = [local.compute_tag, local.orchestrator_tag]
  target_tags = [local.orchestrator_tag]

  allow {
    protocol = "tcp"
    ports    = [tostring(local.bacalhau_api_port), tostring(local.nats_port)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Operators' own networks (var.allowed_cidrs), only when some are given: the API only. Operators never need
# NATS, and an open NATS port would let anyone holding the cluster token join as a compute node.
resource "google_compute_firewall" "bacalhau_operators" {
  count = length(var.allowed_cidrs) > 0 ? 1 : 0

  name        = "${local.name}-allow-bacalhau-operators"
  description = "Bacalhau API from the operator ranges in var.allowed_cidrs (never NATS: only the nodes dial it)"
  network     = google_compute_network.vpc.id
  direction   = "INGRESS"
  priority    = 1000

  source_ranges = var.allowed_cidrs
  target_tags   = [local.orchestrator_tag]

  allow {
    protocol = "tcp"
    ports    = [tostring(local.bacalhau_api_port)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# SSH through IAP TCP forwarding only ('gcloud compute ssh --tunnel-through-iap'); OS Login decides who gets in.
resource "google_compute_firewall" "iap_ssh" {
  name        = "${local.name}-allow-iap-ssh"
  description = "SSH from Google's IAP TCP forwarding range only"
  network     = google_compute_network.vpc.id
  direction   = "INGRESS"
  priority    = 1000

  source_ranges = [local.iap_range]
  target_tags   = [local.compute_tag, local.orchestrator_tag]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# The Bacalhau API of the orchestrator through an IAP tunnel ('gcloud compute start-iap-tunnel ... 1234').
resource "google_compute_firewall" "iap_api" {
  count = var.enable_iap_api_tunnel ? 1 : 0

  name        = "${local.name}-allow-iap-bacalhau-api"
  description = "Bacalhau API on the orchestrator from Google's IAP TCP forwarding range only"
  network     = google_compute_network.vpc.id
  direction   = "INGRESS"
  priority    = 1000

  source_ranges = [local.iap_range]
  target_tags   = [local.orchestrator_tag]

  allow {
    protocol = "tcp"
    ports    = [tostring(local.bacalhau_api_port)]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# A public orchestrator IP alone opens nothing: the API is reachable only from var.allowed_cidrs (or IAP).
check "public_api_is_reachable" {
  assert {
    condition     = !var.enable_public_ip || length(var.allowed_cidrs) > 0
    error_message = "enable_public_ip is true but allowed_cidrs is empty: the orchestrator's API stays closed to everything but the IAP tunnel. Add your network to allowed_cidrs, or keep public IPs off and use bacalhau_api_tunnel_command."
  }
}

# Nodes download packages, images and Bacalhau at boot: without public IPs they need Cloud NAT.
check "nodes_have_egress" {
  assert {
    condition     = var.enable_cloud_nat || var.enable_public_ip
    error_message = "enable_cloud_nat and enable_public_ip are both false: the VMs cannot reach the internet, so cloud-init cannot install Docker, the images or Bacalhau (unless your network provides another route)."
  }
}
