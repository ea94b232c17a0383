# The guardrail as a service control policy on the prod and stage OUs. An
# SCP caps every principal of the member accounts, their root user included
# (not service-linked roles, and not the management account). It grants
# nothing: what the exempt roles may do is still their own policies'.

resource "aws_organizations_policy" "guardrails" {
  count = var.manage_scp ? 1 : 0

  name        = "sealed-runner-guardrails"
  description = "Only the sealed runner's applier changes this account; break-glass is alarmed."
  type        = "SERVICE_CONTROL_POLICY"
  # Minified: an SCP may hold 5,120 characters, whitespace included.
  content = data.aws_iam_policy_document.guardrails_scp.minified_json
}

resource "aws_organizations_policy_attachment" "guardrails" {
  for_each = var.manage_scp ? toset(var.scp_target_ids) : toset([])

  policy_id = aws_organizations_policy.guardrails[0].id
  target_id = each.value
}

data "aws_iam_policy_document" "guardrails_scp" {
  # Everyone but the pipeline, break-glass and running workloads only looks.
  statement {
    sid         = "DenyChangesOutsideThePipeline"
    effect      = "Deny"
    not_actions = local.read_only_actions
    resources   = ["*"]

    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = concat([var.applier_role_arn, var.break_glass_role_arn], var.workload_role_arn_patterns)
    }
  }

  statement {
    sid       = "DenyIamChangesOutsideThePipeline"
    effect    = "Deny"
    actions   = local.iam_change_actions
    resources = ["*"]

    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = [var.applier_role_arn, var.break_glass_role_arn]
    }
  }

  # What not even the pipeline may do: leave the organization (and its
  # SCPs), blind the audit trail, or silence the break-glass alarm.
  statement {
    sid       = "DenyLeavingTheOrganization"
    effect    = "Deny"
    actions   = ["organizations:LeaveOrganization"]
    resources = ["*"]

    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = [var.break_glass_role_arn]
    }
  }

  statement {
    sid    = "DenyDisablingCloudTrail"
    effect = "Deny"
    actions = [
      "cloudtrail:DeleteEventDataStore",
      "cloudtrail:DeleteTrail",
      "cloudtrail:PutEventSelectors",
      "cloudtrail:PutInsightSelectors",
      "cloudtrail:StopEventDataStoreIngestion",
      "cloudtrail:StopLogging",
      "cloudtrail:UpdateEventDataStore",
      "cloudtrail:UpdateTrail",
    ]
    resources = ["*"]

    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = [var.break_glass_role_arn]
    }
  }

  statement {
    sid    = "DenyAlteringTheBreakGlassAlarm"
    effect = "Deny"
    actions = [
      "events:DeleteRule",
      "events:DisableRule",
      "events:PutRule",
      "events:PutTargets",
      "events:RemoveTargets",
      "s3:DeleteBucket",
      "s3:DeleteBucketPolicy",
      "s3:PutBucketPolicy",
      "s3:PutLifecycleConfiguration",
      "sns:AddPermission",
      "sns:DeleteTopic",
      "sns:RemovePermission",
      "sns:SetTopicAttributes",
      "sns:Unsubscribe",
    ]
    resources = [
      "arn:*:events:*:*:rule/${local.alarm_name}-*",
      "arn:*:sns:*:*:${local.alarm_name}*",
      "arn:*:s3:::${local.trail_bucket_prefix}*",
    ]

    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = [var.break_glass_role_arn]
    }
  }

  statement {
    sid    = "DenyAlteringTheAlarmKey"
    effect = "Deny"
    actions = [
      "kms:DeleteAlias",
      "kms:DisableKey",
      "kms:PutKeyPolicy",
      "kms:ScheduleKeyDeletion",
      "kms:UpdateAlias",
    ]
    resources = ["*"]

    condition {
      test     = "ForAnyValue:StringEquals"
      variable = "kms:ResourceAliases"
      values   = [local.alarm_key_alias]
    }

    condition {
      test     = "ArnNotLike"
      variable = "aws:PrincipalArn"
      values   = [var.break_glass_role_arn]
    }
  }
}
