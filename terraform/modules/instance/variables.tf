# Inputs of one hardened edgelog VM. What makes the VM safe (Shielded VM, OS Login, no project SSH keys, serial
# port off, no IP forwarding, a dedicated service account) is fixed in main.tf, not an input.

variable "name" {
  description = "Instance name (RFC 1035: 1-63 lower-case letters, digits and hyphens). Also the Bacalhau node id and the generator's node name on compute nodes."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.name))
    error_message = "name must be 1-63 characters: lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "description" {
  description = "Human-readable description of the instance."
  type        = string
}

variable "zone" {
  description = "Zone the instance runs in, such as us-east1-b."
  type        = string

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", var.zone))
    error_message = "zone must be a zone name such as us-east1-b."
  }
}

variable "machine_type" {
  description = "Machine type (validated against the boot disk type by the root module)."
  type        = string
}

variable "boot_image" {
  description = "Boot image (family or image self link)."
  type        = string
}

variable "boot_disk_size_gb" {
  description = "Boot disk size in GB."
  type        = number
}

variable "boot_disk_type" {
  description = "Boot disk type (pd-* or hyperdisk-balanced)."
  type        = string
}

variable "subnetwork" {
  description = "Self link or id of the subnetwork the instance's only network interface is in."
  type        = string
}

variable "network_ip" {
  description = "Reserved internal IP address of the interface; null lets GCP pick one from the subnet."
  type        = string
  default     = null
}

variable "enable_public_ip" {
  description = "Attach an ephemeral public IP (access_config). Off by default: egress goes through Cloud NAT."
  type        = bool
  default     = false
}

variable "service_account_email" {
  description = "Email of the dedicated service account the VM runs as (never the default compute service account)."
  type        = string
}

variable "tags" {
  description = "Network tags the firewall rules match on."
  type        = list(string)
}

variable "labels" {
  description = "GCP labels of the instance (the provider adds its default labels)."
  type        = map(string)
  default     = {}
}

variable "user_data" {
  description = "Rendered cloud-config for the user-data metadata key (no secrets: only secret names)."
  type        = string
}

variable "deletion_protection" {
  description = "Protect the instance against deletion."
  type        = bool
  default     = false
}
