output "name" {
  description = "Name of the instance."
  value       = google_compute_instance.this.name
}

output "zone" {
  description = "Zone of the instance."
  value       = google_compute_instance.this.zone
}

output "internal_ip" {
  description = "Internal IP address of the instance's network interface."
  value       = google_compute_instance.this.network_interface[0].network_ip
}

output "public_ip" {
  description = "Ephemeral public IP address, or null when enable_public_ip is false."
  value       = var.enable_public_ip ? google_compute_instance.this.network_interface[0].access_config[0].nat_ip : null
}

output "self_link" {
  description = "Self link of the instance."
  value       = google_compute_instance.this.self_link
}
