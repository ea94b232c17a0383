output "scp_id" {
  description = "The guardrails SCP (when managed here)."
  value       = one(aws_organizations_policy.guardrails[*].id)
}

output "human_boundary_arn" {
  description = "The permissions boundary for human roles (when managed here)."
  value       = one(aws_iam_policy.human_boundary[*].arn)
}

output "break_glass_topic_arn" {
  description = "The break-glass alarm topic (when managed here)."
  value       = one(aws_sns_topic.break_glass[*].arn)
}
