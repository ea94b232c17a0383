# Every use of the break-glass role is announced: CloudTrail records the
# AssumeRole (or federated sign-in) and the console sign-in, EventBridge
# matches them, an encrypted SNS topic tells the subscribers. Apply this in
# every guarded account, in us-east-1 (see var.region), with
# manage_break_glass_alarm = true. The SCP keeps everyone but the
# break-glass role itself from deleting or muting these resources.

locals {
  alarm_count = var.manage_break_glass_alarm ? 1 : 0

  break_glass_role_name = element(reverse(split("/", var.break_glass_role_arn)), 0)

  alarm_rule_names = {
    assume_role     = "${local.alarm_name}-assume-role"
    console_sign_in = "${local.alarm_name}-console-sign-in"
  }
  alarm_rule_arns = [
    for name in values(local.alarm_rule_names) :
    "arn:${local.partition}:events:${var.region}:${local.account_id}:rule/${name}"
  ]

  # Someone obtains break-glass credentials: AssumeRole from another role or
  # user, AssumeRoleWithSAML from the identity provider (IAM Identity Center,
  # an IdP's console federation), AssumeRoleWithWebIdentity from OIDC.
  break_glass_assume_role_pattern = {
    source        = ["aws.sts"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["sts.amazonaws.com"]
      eventName   = ["AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"]
      requestParameters = {
        roleArn = [{ wildcard = var.break_glass_role_arn }]
      }
    }
  }

  # Someone signs in to the console as the break-glass role.
  break_glass_console_sign_in_pattern = {
    source        = ["aws.signin"]
    "detail-type" = ["AWS Console Sign In via CloudTrail"]
    detail = {
      eventName = ["ConsoleLogin"]
      userIdentity = {
        arn = [{ wildcard = "arn:*:sts::*:assumed-role/${local.break_glass_role_name}/*" }]
      }
    }
  }
}

resource "aws_cloudwatch_event_rule" "break_glass_assume_role" {
  count = local.alarm_count

  name          = local.alarm_rule_names.assume_role
  description   = "Break-glass credentials were issued"
  event_pattern = jsonencode(local.break_glass_assume_role_pattern)
}

resource "aws_cloudwatch_event_rule" "break_glass_console_sign_in" {
  count = local.alarm_count

  name          = local.alarm_rule_names.console_sign_in
  description   = "Console sign-in with the break-glass role"
  event_pattern = jsonencode(local.break_glass_console_sign_in_pattern)
}

resource "aws_cloudwatch_event_target" "break_glass_assume_role" {
  count = local.alarm_count

  rule = aws_cloudwatch_event_rule.break_glass_assume_role[0].name
  arn  = aws_sns_topic.break_glass[0].arn
}

resource "aws_cloudwatch_event_target" "break_glass_console_sign_in" {
  count = local.alarm_count

  rule = aws_cloudwatch_event_rule.break_glass_console_sign_in[0].name
  arn  = aws_sns_topic.break_glass[0].arn
}

# ---------------------------------------------------------------------------
# The topic, encrypted with its own key.

resource "aws_sns_topic" "break_glass" {
  count = local.alarm_count

  name              = local.alarm_name
  kms_master_key_id = aws_kms_key.alarm[0].arn
}

resource "aws_sns_topic_policy" "break_glass" {
  count = local.alarm_count

  arn    = aws_sns_topic.break_glass[0].arn
  policy = data.aws_iam_policy_document.break_glass_topic.json
}

data "aws_iam_policy_document" "break_glass_topic" {
  statement {
    sid       = "OnlyTheAlarmRulesPublish"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = ["arn:${local.partition}:sns:${var.region}:${local.account_id}:${local.alarm_name}"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.alarm_rule_arns
    }
  }
}

resource "aws_sns_topic_subscription" "break_glass" {
  for_each = var.manage_break_glass_alarm ? { for s in var.alarm_subscriptions : "${s.protocol}:${s.endpoint}" => s } : {}

  topic_arn = aws_sns_topic.break_glass[0].arn
  protocol  = each.value.protocol
  endpoint  = each.value.endpoint
}

resource "aws_kms_key" "alarm" {
  count = local.alarm_count

  description             = "Sealed runner guardrails: break-glass alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.alarm_key.json
}

resource "aws_kms_alias" "alarm" {
  count = local.alarm_count

  name          = local.alarm_key_alias
  target_key_id = aws_kms_key.alarm[0].key_id
}

data "aws_iam_policy_document" "alarm_key" {
  statement {
    sid    = "AccountAdministersButDoesNotUse"
    effect = "Allow"
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:DeleteAlias",
      "kms:Describe*",
      "kms:Disable*",
      "kms:Enable*",
      "kms:Get*",
      "kms:List*",
      "kms:Put*",
      "kms:Revoke*",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:Update*",
    ]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # EventBridge publishing to an encrypted topic needs a data key; SNS then
  # decrypts to deliver.
  statement {
    sid       = "EventBridgePublishes"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}
