# Terraform and provider versions. The google provider is pinned to one major version so an upgrade is a
# deliberate change (read the provider's upgrade guide first); random generates the Bacalhau secrets.
terraform {
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0.0, < 8.0.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6.0, < 4.0.0"
    }
  }
}

provider "google" {
  project = var.project_id

  # Every resource that supports labels gets these, so a whole deployment can be found (and billed) by label.
  default_labels = local.common_labels
}
