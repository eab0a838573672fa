# The shared instance module needs what the root module needs (cross-variable validation, the google provider's
# 7.x arguments); the root pins the same ranges.
terraform {
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0.0, < 8.0.0"
    }
  }
}
