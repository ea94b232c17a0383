# Four roles:
#   execution  ECS itself: pulls the image, writes the task's log stream
#   planner    the plan task: read-only deploy credentials, writes plans
#   applier    the apply task: deploy credentials, reads plans
#   backend    the Backstage backend: starts exactly these tasks, and nothing else

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
# Planner task role.

resource "aws_iam_role" "planner" {
  name               = "sealed-runner-planner"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy_attachment" "planner_deploy" {
  for_each   = toset(var.planner_policy_arns)
  role       = aws_iam_role.planner.name
  policy_arn = each.value
}

resource "aws_iam_role_policy" "planner_artifacts" {
  name   = "artifacts"
  role   = aws_iam_role.planner.id
  policy = data.aws_iam_policy_document.planner_artifacts.json
}

data "aws_iam_policy_document" "planner_artifacts" {
  statement {
    sid       = "ReadJobs"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = [local.jobs_objects]
  }

  statement {
    sid       = "SavePlans"
    effect    = "Allow"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.plans_objects]
  }

  statement {
    sid       = "MarkJobsSeen"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = [local.seen_jobs_objects]
  }

  # Without it S3 answers 403 instead of 404 for an object that does not
  # exist, and the runner could not tell "no such plan" from a denial.
  statement {
    sid       = "TellMissingFromDenied"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
  }

  statement {
    sid       = "UseArtifactsKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.artifacts.arn]
  }
}

# ---------------------------------------------------------------------------
# Applier task role: may read a saved plan, never write one, so an apply
# task cannot replace the plan another apply will run.

resource "aws_iam_role" "applier" {
  name               = "sealed-runner-applier"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_trust.json
}

resource "aws_iam_role_policy_attachment" "applier_deploy" {
  for_each   = toset(var.applier_policy_arns)
  role       = aws_iam_role.applier.name
  policy_arn = each.value
}

resource "aws_iam_role_policy" "applier_artifacts" {
  name   = "artifacts"
  role   = aws_iam_role.applier.id
  policy = data.aws_iam_policy_document.applier_artifacts.json
}

data "aws_iam_policy_document" "applier_artifacts" {
  statement {
    sid       = "ReadJobsAndPlans"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = [local.jobs_objects, local.plans_objects]
  }

  statement {
    sid       = "MarkJobsSeen"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = [local.seen_jobs_objects]
  }

  statement {
    sid       = "TellMissingFromDenied"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artifacts.arn]
  }

  statement {
    sid       = "UseArtifactsKey"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.artifacts.arn]
  }
}

# ---------------------------------------------------------------------------
# The Backstage backend's role. Its whole power: start the plan or apply
# task definition on the runner cluster (with exactly their roles), watch
# and stop those tasks, read their logs, leave a signed job for them, and
# sign jobs. It cannot read plans, change a task definition, register a new
# one, or pass any other role.

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
    resources = [local.plan_task_definitions, local.apply_task_definitions]

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
    resources = [aws_iam_role.planner.arn, aws_iam_role.applier.arn, aws_iam_role.execution.arn]

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
