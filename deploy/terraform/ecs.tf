resource "aws_ecs_cluster" "runner" {
  name = local.cluster_name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

locals {
  # The runner's own policy and layout (runnerConfigSchema in
  # packages/runner/src/config.ts). It never comes from the job: the backend
  # can only name a job document, which the runner checks against this.
  runner_config = {
    repositories = var.repositories
    environments = {
      for name, environment in var.environments : name => {
        applyBranches = environment.applyBranches
        planPolicy    = environment.planPolicy
      }
    }
    # Everything the runner writes lives under /work (a task volume).
    workDir           = "/work/run"
    planDir           = "/work/plans"
    stateDir          = "/work/state"
    seenJobsDir       = "/work/seen-jobs"
    providerMirrorDir = "/opt/terraform/providers"
    terraformPath     = "/usr/local/bin/terraform"
    gitPath           = "/usr/bin/git"
    # Only the backend role can sign with the private half (kms.tf).
    jobPublicKey       = data.aws_kms_public_key.job_signing.public_key_pem
    jobLifetimeSeconds = var.job_lifetime_seconds
    timeoutSeconds     = var.timeout_seconds
    # ECS lets a RunTask caller override the task role: the runner refuses
    # a job whose operation does not match the role it holds.
    taskRoles = {
      plan  = aws_iam_role.planner.arn
      apply = aws_iam_role.applier.arn
    }
    artifacts = {
      bucket   = aws_s3_bucket.artifacts.bucket
      kmsKeyId = aws_kms_key.artifacts.arn
      region   = var.region
    }
  }
  runner_config_json = jsonencode(local.runner_config)

  # One container definition for both task definitions: they differ only in
  # their task role (what the credentials may do) and size.
  runner_container = {
    name      = local.container_name
    image     = var.runner_image
    essential = true
    # The image's ENTRYPOINT with the config's sha256. RunTask can override a
    # container's command and environment but not its entryPoint, so a caller
    # who swaps SEALED_RUNNER_CONFIG (its own repositories or signing key)
    # gets a task that refuses to start the runner.
    entryPoint = [
      "/usr/local/bin/sealed-runner-entrypoint",
      "--config-sha256=${sha256(local.runner_config_json)}",
    ]
    environment = [
      { name = "SEALED_RUNNER_CONFIG", value = local.runner_config_json },
    ]
    user                   = "10001:10001"
    readonlyRootFilesystem = true
    mountPoints = [
      { sourceVolume = "work", containerPath = "/work", readOnly = false },
      { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
    ]
    portMappings = []
    linuxParameters = {
      # Reaps what provisioners leave behind and forwards SIGTERM, which the
      # runner turns into a graceful Terraform interrupt.
      initProcessEnabled = true
      capabilities       = { add = [], drop = ["ALL"] }
    }
    # Fargate's longest: time for Terraform to stop cleanly on StopTask.
    stopTimeout = 120
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.runner.name
        awslogs-region        = var.region
        awslogs-stream-prefix = local.log_stream_prefix
      }
    }
  }
}

resource "aws_ecs_task_definition" "plan" {
  family                   = local.plan_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.plan_cpu
  memory                   = var.plan_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.planner.arn
  container_definitions    = jsonencode([local.runner_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "work"
  }

  volume {
    name = "tmp"
  }
}

resource "aws_ecs_task_definition" "apply" {
  family                   = local.apply_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.apply_cpu
  memory                   = var.apply_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.applier.arn
  container_definitions    = jsonencode([local.runner_container])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  volume {
    name = "work"
  }

  volume {
    name = "tmp"
  }
}
