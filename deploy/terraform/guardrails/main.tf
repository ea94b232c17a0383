# Account guardrails for prod and stage: nobody changes them but the sealed
# runner's applier; the named break-glass role can, loudly. Three parts, each
# switched on where it belongs (deploy/README.md, "Guardrails"):
#   scp.tf       an Organizations SCP (the preferred way)
#   boundary.tf  the same ceiling as a permissions boundary, without Organizations
#   alarm.tf     an alarm on every use of the break-glass role (trail.tf: a
#                trail for accounts no organization trail records)

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # What everybody else may still do: look. Patterns rather than a list of
  # services, so a service AWS adds tomorrow is read-only too. Deliberately
  # left out: kms:Decrypt (reading encrypted data is not looking at
  # infrastructure), Start*/Run*/Invoke*/Execute* of any kind (they run
  # things: ssm:StartSession, ecs:ExecuteCommand, lambda:InvokeFunction) and
  # Generate* (mostly keys and credentials).
  read_only_actions = [
    "*:BatchGet*",
    "*:Describe*",
    "*:Filter*",
    "*:Get*",
    "*:List*",
    "*:Lookup*",
    "*:Search*",
    # CloudWatch Logs Insights: a query reads logs.
    "logs:StartQuery",
    "logs:StopQuery",
    # Moving between roles. What a role may do is its trust and permission
    # policies' business, and in a guarded account only the applier writes
    # those. Without these, nobody could reach the break-glass role.
    "sts:AssumeRole",
    "sts:SetSourceIdentity",
    "sts:TagSession",
  ]

  # IAM changes are the pipeline's alone: workload roles, exempt from the
  # read-only rule for their own data, must not grant themselves more.
  iam_change_actions = [
    "iam:Add*",
    "iam:Attach*",
    "iam:Change*",
    "iam:Create*",
    "iam:Deactivate*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Enable*",
    "iam:Put*",
    "iam:Remove*",
    "iam:Reset*",
    "iam:Resync*",
    "iam:Set*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
    "iam:Upload*",
  ]

  # Names of the alarm's resources, which the SCP protects by name.
  alarm_name          = "sealed-runner-break-glass"
  alarm_key_alias     = "alias/sealed-runner-break-glass"
  trail_name          = "sealed-runner-guardrails"
  trail_bucket_prefix = "sealed-runner-guardrails-trail-"
}
