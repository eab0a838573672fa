# Alert policies on the compute nodes' metrics. Each node's Ops Agent scrapes node_exporter on loopback, whose
# textfile collector serves what the generator and the rotation write (cloud-init/compute.yaml.tftpl); the
# series reach Cloud Monitoring through Managed Service for Prometheus with an instance_name label, so every
# condition is PromQL evaluated per node.

locals {
  # One entry per alert: PromQL condition (true = firing, one series per node), how long it must hold, and what
  # the responder should do. Kept free of resource references so the tests check the queries with promtool.
  alert_rules = {
    rotation-stale = {
      display_name = "edgelog: log rotation has not succeeded for 15 minutes"
      severity     = "ERROR"
      query        = "time() - max by (instance_name) (edgelog_rotation_last_success_timestamp_seconds) > 900"
      duration     = "0s"
      content      = "The 5-minute rotation (cron: /opt/edgelog/rotation/edgelog-rotate) on $${metric.label.instance_name} has not published for 15 minutes, so jobs see no new logs. On the node: `journalctl -t edgelog-rotate`, `/var/log/edgelog-rotate.log`, `ls /var/log/app/rotated` (files waiting to be published). docs/rotation.md lists the log lines and what they mean."
    }
    logs-to-process-growing = {
      display_name = "edgelog: logs_to_process keeps growing toward a full disk"
      severity     = "WARNING"
      query        = "(max by (instance_name) (deriv(edgelog_logs_to_process_bytes[6h])) > 0) and on (instance_name) (min by (instance_name) (predict_linear(node_filesystem_avail_bytes{mountpoint=\"/\"}[6h], 86400)) <= 0)"
      duration     = "1800s"
      content      = "Rotated files accumulate in /var/log/logs_to_process on $${metric.label.instance_name} faster than retention removes them, and at the 6-hour trend the disk is full within a day. Jobs read the directory read-only and never empty it: run your analysis jobs and fetch the results, then lower EDGELOG_RETENTION_DAYS / set EDGELOG_MAX_OUTPUT_MB (rotation_settings) or grow boot_disk_size_gb."
    }
    disk-full = {
      display_name = "edgelog: compute node disk above ${var.alert_disk_used_percent}%"
      severity     = "ERROR"
      query        = "100 * (1 - min by (instance_name) (node_filesystem_avail_bytes{mountpoint=\"/\"} / node_filesystem_size_bytes{mountpoint=\"/\"})) > ${var.alert_disk_used_percent}"
      duration     = "300s"
      content      = "The root filesystem of $${metric.label.instance_name} (rotated logs, Docker images, Bacalhau's data) is more than ${var.alert_disk_used_percent}% full. Retention (EDGELOG_MIN_FREE_PERCENT) removes the oldest published logs first; check `df -h /`, `du -sh /var/log/logs_to_process /var/lib/docker /var/lib/bacalhau` and grow boot_disk_size_gb if it is the steady state."
    }
    generator-silent = {
      display_name = "edgelog: log generator silent for 10 minutes"
      severity     = "ERROR"
      query        = "sum by (instance_name) (rate(edgelog_generator_lines_written_total[10m])) == 0"
      duration     = "0s"
      content      = "The log generator on $${metric.label.instance_name} wrote no line for 10 minutes (its counter stopped). On the node: `systemctl status edgelog-generator`, `docker compose --project-name edgelog ps`, `journalctl -u edgelog-generator` (an image that cannot be pulled is retried every minute)."
    }
  }
}

resource "google_monitoring_alert_policy" "edgelog" {
  for_each = var.enable_alert_policies ? local.alert_rules : {}

  display_name          = "${each.value.display_name} (${local.name})"
  combiner              = "OR"
  severity              = each.value.severity
  notification_channels = var.notification_channels
  user_labels           = local.common_labels

  conditions {
    display_name = each.value.display_name
    condition_prometheus_query_language {
      query               = each.value.query
      duration            = each.value.duration
      evaluation_interval = "60s"
      rule_group          = "edgelog"
      alert_rule          = replace(each.key, "-", "_")
      # The nodes create these series only after they boot, which is after the policies exist.
      disable_metric_validation = true
    }
  }

  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    subject   = "${each.value.display_name} on $${metric.label.instance_name}"
    content   = each.value.content
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.apis]
}
