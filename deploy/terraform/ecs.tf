resource "aws_ecs_cluster" "runner" {
  name = local.cluster_name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

locals {
  # The runner's own policy and layout (runnerConfigSchema in
  # packages/runner/src/config.ts), the part every environment's config
  # shares. It never comes from the job: the backend can only name a job
  # document, which the runner checks against this.
  runner_config_shared = {
    repositories = var.repositories
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
    # Fargate allows no user namespaces, so no bubblewrap: the runner, root
    # in its container, runs git and Terraform as the image's unprivileged
    # `terraform` user (packages/runner/Dockerfile) and kills every process
    # of that user after each command. That user cannot read the runner's
    # files or its environment (this config), nor write its stdout.
    sandbox = {
      type = "uid"
      uid  = 10002
      gid  = 10002
    }
    artifacts = {
      bucket   = aws_s3_bucket.artifacts.bucket
      kmsKeyId = aws_kms_key.artifacts.arn
      region   = var.region
    }
  }

  # One config per environment, naming only that environment and its two
  # roles. ECS lets a RunTask caller override the task role, so the runner
  # reads the role it holds and refuses a job unless it is the role of the
  # job's environment and operation; a task of one environment refuses
  # every other environment's job, whatever role it was started with.
  runner_configs = {
    for name, environment in var.environments : name => merge(local.runner_config_shared, {
      environments = {
        (name) = {
          applyBranches = environment.applyBranches
          planPolicy    = environment.planPolicy
        }
      }
      taskRoles = {
        (name) = {
          plan  = aws_iam_role.planner[name].arn
          apply = aws_iam_role.applier[name].arn
        }
      }
    })
  }
  runner_config_json = { for name, config in local.runner_configs : name => jsonencode(config) }

  # What every container definition shares; per environment, only the
  # config (and its pin) differ. An environment's plan and apply task
  # definitions differ only in their task role (what the credentials may
  # do) and size.
  runner_container_shared = {
    name      = local.container_name
    image     = var.runner_image
    essential = true
    # Root in the container, so that the runner can run git and Terraform
    # as the unprivileged sandbox user, hand it the run's directories and
    # kill what it leaves behind. What root may do here is cut down by the
    # capabilities below, the read-only root filesystem and an image
    # without setuid or setgid binaries.
    user                   = "0:0"
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
      # Fargate can add no capability but SYS_PTRACE, so the runner keeps a
      # subset of Docker's defaults and drops the rest. Kept:
      #   CHOWN         hand each run's directories to the sandbox user, and
      #                 take them back before they are read
      #   DAC_OVERRIDE  read and remove what the sandbox user wrote (its
      #                 plan, its outputs) whatever modes it chose
      #   FOWNER        change modes and times of files the sandbox user
      #                 owns, and remove them from the sticky /tmp
      #   KILL          signal the sandbox user's processes: interrupt
      #                 Terraform, kill all that is left after a command
      #   SETGID        start git and Terraform with the sandbox group (and
      #                 no supplementary groups)
      #   SETUID        start git and Terraform as the sandbox user
      # A process that becomes the sandbox user loses them all; with no
      # setuid binary in the image it cannot get them back.
      capabilities = {
        add = []
        drop = [
          "AUDIT_WRITE",
          "FSETID",
          "MKNOD",
          "NET_BIND_SERVICE",
          "NET_RAW",
          "SETFCAP",
          "SETPCAP",
          "SYS_CHROOT",
        ]
      }
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

  runner_containers = {
    for name, config_json in local.runner_config_json : name => merge(local.runner_container_shared, {
      # The image's ENTRYPOINT with the config's sha256. RunTask can override
      # a container's command and environment but not its entryPoint, so a
      # caller who swaps SEALED_RUNNER_CONFIG (its own repositories, signing
      # key, or another environment's roles) gets a task that refuses to
      # start the runner.
      entryPoint = [
        "/usr/local/bin/sealed-runner-entrypoint",
        "--config-sha256=${sha256(config_json)}",
      ]
      environment = [
        { name = "SEALED_RUNNER_CONFIG", value = config_json },
      ]
    })
  }
}

resource "aws_ecs_task_definition" "plan" {
  for_each = var.environments

  family                   = local.task_families[each.key].plan
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.plan_cpu
  memory                   = var.plan_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.planner[each.key].arn
  container_definitions    = jsonencode([local.runner_containers[each.key]])

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
  for_each = var.environments

  family                   = local.task_families[each.key].apply
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.apply_cpu
  memory                   = var.apply_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.applier[each.key].arn
  container_definitions    = jsonencode([local.runner_containers[each.key]])

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
