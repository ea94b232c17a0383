# The roles:
#   execution         ECS itself: pulls the image, writes the task's log stream
#   <env> planner     the plan tasks of one environment: its read-only deploy
#                     credentials, creates its plans
#   <env> applier     the apply tasks of one environment: its deploy
#                     credentials, reads its plans
#   backend           the Backstage backend: starts exactly these tasks, and nothing else
#
# One identity per environment: a role of one environment can read and
# write only that environment's artifacts (jobs/<env>/, plans/<env>/,
# seen-jobs/<env>/), and its deploy policies are that environment's own
# (var.environments). The task roles write no logs: only the execution
# role does, so nothing Terraform runs can write into the runner's log
# stream, which the backend reads as the run's result.

# ---------------------------------------------------------------------------
# Trust: task roles are assumed by ECS tasks of this account, in this region.

data "aws_iam_policy_document" "ecs_tasks_trust" {
  statement {
    sid     = "EcsTasksOfThisAccount"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${var.region}:${local.account_id}:*"]
    }
  }
}

# ---------------------------------------------------------------------------
# Execution role.

resource "aws_iam_role" "execution" {
  name               = "sealed-runner-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-image-write-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

locals {
  # <account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:...: the
  # execution role may pull from that repository only. An image elsewhere
  # (a public registry) needs no ECR permission at all.
  runner_image_ecr = try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([^@:]+)", var.runner_image), null)
  runner_image_repository_arn = (
    local.runner_image_ecr == null ? null :
    "arn:${local.partition}:ecr:${local.runner_image_ecr[1]}:${local.runner_image_ecr[0]}:repository/${local.runner_image_ecr[2]}"
  )
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "WriteRunnerLogStreams"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.runner.arn}:log-stream:*"]
  }

  dynamic "statement" {
    for_each = local.runner_image_repository_arn == null ? [] : [local.runner_image_repository_arn]

    content {
      sid       = "PullRunnerImage"
      effect    = "Allow"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.runner_image_repository_arn == null ? [] : [local.runner_image_repository_arn]

    content {
      # ECR's registry login token belongs to no repository: AWS accepts
      # only "*" as its resource. It grants nothing without the pull above.
      sid       = "EcrLoginToken"
      effect    = "Allow"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }
}

# ---------------------------------------------------------------------------
# Deploy credentials: each environment's managed policies, on its own roles.

locals {
  planner_policy_attachments = merge([
    for name, environment in var.environments : {
      for arn in toset(environment.planner_policy_arns) : "${name} ${arn}" => { environment = name, policy_arn = arn }
    }
  ]...)
  applier_policy_attachments = merge([
    for name, environment in var.environments : {
      for arn in toset(environment.applier_policy_arns) : "${name} ${arn}" => { environment = name, policy_arn = arn }
    }
  ]...)
}

# ---------------------------------------------------------------------------
# Planner task roles: read-only deploy credentials. A planner creates its
# environment's plans and never reads one, so a plan task cannot learn what
# an earlier plan holds (a saved plan holds values marked sensitive).

resource "aws_iam_role" "planner" {
  for_each = var.environments

  name               = "sealed-runner-${each.key}-planner"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy_attachment" "planner_deploy" {
  for_each = local.planner_policy_attachments

  role       = aws_iam_role.planner[each.value.environment].name
  policy_arn = each.value.policy_arn
}

resource "aws_iam_role_policy" "planner_artifacts" {
  for_each = var.environments

  name   = "artifacts"
  role   = aws_iam_role.planner[each.key].id
  policy = data.aws_iam_policy_document.planner_artifacts[each.key].json
}

data "aws_iam_policy_document" "planner_artifacts" {
  for_each = var.environments

  statement {
    sid       = "ReadOwnJobs"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/jobs/${each.key}/*"]
  }

  # Create-only (If-None-Match: *), as the bucket policy demands of everyone:
  # a plan or a marker, once written, is never replaced.
  statement {
    sid       = "CreateOwnPlansAndMarkers"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/plans/${each.key}/*", "${aws_s3_bucket.artifacts.arn}/seen-jobs/${each.key}/*"]

    condition {
      test     = "Null"
      variable = "s3:if-none-match"
      values   = ["false"]
    }
  }

  # Without it S3 answers 403 instead of 404 for an object that does not
  # exist, and the runner could not tell "no such job" from a denial. Only
  # under the prefix it reads: listing shows keys (run ids), not contents.
  statement {
    sid       = "TellMissingFromDenied"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["jobs/${each.key}/*"]
    }
  }

  statement {
    sid       = "UseArtifactsKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.artifacts.arn]
  }
}

# ---------------------------------------------------------------------------
# Applier task roles: the deploy credentials. An applier reads its
# environment's plans and never writes one, so an apply task cannot replace
# the plan another apply will run.

resource "aws_iam_role" "applier" {
  for_each = var.environments

  name               = "sealed-runner-${each.key}-applier"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy_attachment" "applier_deploy" {
  for_each = local.applier_policy_attachments

  role       = aws_iam_role.applier[each.value.environment].name
  policy_arn = each.value.policy_arn
}

resource "aws_iam_role_policy" "applier_artifacts" {
  for_each = var.environments

  name   = "artifacts"
  role   = aws_iam_role.applier[each.key].id
  policy = data.aws_iam_policy_document.applier_artifacts[each.key].json
}

data "aws_iam_policy_document" "applier_artifacts" {
  for_each = var.environments

  statement {
    sid       = "ReadOwnJobsAndPlans"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/jobs/${each.key}/*", "${aws_s3_bucket.artifacts.arn}/plans/${each.key}/*"]
  }

  statement {
    sid       = "CreateOwnMarkers"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/seen-jobs/${each.key}/*"]

    condition {
      test     = "Null"
      variable = "s3:if-none-match"
      values   = ["false"]
    }
  }

  statement {
    sid       = "TellMissingFromDenied"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["jobs/${each.key}/*", "plans/${each.key}/*"]
    }
  }

  statement {
    sid       = "UseArtifactsKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.artifacts.arn]
  }
}

# ---------------------------------------------------------------------------
# The Backstage backend's role. Its whole power: start any environment's
# plan or apply task definition on the runner cluster (with exactly the
# runner roles), watch and stop those tasks, read their logs, leave a signed
# job for them, and sign jobs. It cannot read plans, change a task
# definition, register a new one, or pass any other role. It can pass one
# environment's role to another's task definition (IAM cannot tie a passed
# role to a family): each task's runner config names only its own
# environment's roles, and the runner refuses a job when the role it holds
# is not the one for the job's environment and operation.

resource "aws_iam_role" "backend" {
  name                 = "sealed-runner-backend"
  assume_role_policy   = data.aws_iam_policy_document.backend_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "backend_trust" {
  statement {
    sid     = "BackstageBackend"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "AWS"
      identifiers = var.backend_trusted_principal_arns
    }
  }
}

resource "aws_iam_role_policy" "backend" {
  name   = "start-runner-tasks"
  role   = aws_iam_role.backend.id
  policy = data.aws_iam_policy_document.backend.json
}

data "aws_iam_policy_document" "backend" {
  statement {
    sid       = "StartRunnerTasks"
    effect    = "Allow"
    actions   = ["ecs:RunTask"]
    resources = local.task_definition_arns

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.runner.arn]
    }

    # ECS Exec would open a shell in a task holding deploy credentials.
    condition {
      test     = "BoolIfExists"
      variable = "ecs:enable-execute-command"
      values   = ["false"]
    }
  }

  # RunTask with tags (the dispatcher tags each task with its run) is also
  # authorised as ecs:TagResource, allowed here only as part of RunTask.
  statement {
    sid       = "TagTasksAtStart"
    effect    = "Allow"
    actions   = ["ecs:TagResource"]
    resources = [local.cluster_tasks]

    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }

  statement {
    sid       = "PassOnlyTheRunnerRoles"
    effect    = "Allow"
    actions   = ["iam:PassRole"]
    resources = concat(values(aws_iam_role.planner)[*].arn, values(aws_iam_role.applier)[*].arn, [aws_iam_role.execution.arn])

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "WatchAndStopRunnerTasks"
    effect    = "Allow"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = [local.cluster_tasks]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.runner.arn]
    }
  }

  statement {
    sid       = "ReadRunnerLogs"
    effect    = "Allow"
    actions   = ["logs:GetLogEvents"]
    resources = ["${aws_cloudwatch_log_group.runner.arn}:log-stream:*"]
  }

  statement {
    sid       = "LeaveJobsForTheRunner"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = [local.jobs_objects]
  }

  statement {
    sid       = "EncryptJobs"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = [aws_kms_key.artifacts.arn]
  }

  statement {
    sid       = "SignJobs"
    effect    = "Allow"
    actions   = ["kms:Sign", "kms:GetPublicKey"]
    resources = [aws_kms_key.job_signing.arn]
  }
}
