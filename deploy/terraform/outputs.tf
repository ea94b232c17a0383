# What the backend's app-config.production.yaml needs (deploy/README.md):
# `terraform output -json app_config` is the part to merge into it.

locals {
  # sealedRunner.runner.ecs.taskDefinitions: every environment's own pair.
  task_definition_outputs = {
    for name in keys(var.environments) : name => {
      plan  = aws_ecs_task_definition.plan[name].family
      apply = aws_ecs_task_definition.apply[name].family
    }
  }
}

output "app_config" {
  description = "aws.accounts, sealedRunner.runner and sealedRunner.jobSigning for app-config.production.yaml."
  value = {
    # The backend's own credentials assume the backend role for every call
    # on this account's resources (Backstage's AWS integration picks the
    # account from the cluster and key ARNs below).
    aws = {
      accounts = [{ accountId = local.account_id, roleName = aws_iam_role.backend.name }]
    }
    sealedRunner = {
      runner = {
        type = "ecs"
        ecs = {
          region            = var.region
          cluster           = aws_ecs_cluster.runner.arn
          taskDefinitions   = local.task_definition_outputs
          containerName     = local.container_name
          subnets           = var.subnet_ids
          securityGroups    = local.runner_security_group_ids
          assignPublicIp    = var.assign_public_ip
          logGroup          = aws_cloudwatch_log_group.runner.name
          logStreamPrefix   = local.log_stream_prefix
          artifactsBucket   = aws_s3_bucket.artifacts.bucket
          artifactsKmsKeyId = aws_kms_key.artifacts.arn
        }
      }
      jobSigning = {
        kms = {
          keyId  = aws_kms_key.job_signing.arn
          region = var.region
        }
      }
    }
  }
}

output "backend_role_arn" {
  description = "The role the Backstage backend must use for every AWS call of the sealed runner."
  value       = aws_iam_role.backend.arn
}

output "cluster_arn" {
  description = "The runner cluster."
  value       = aws_ecs_cluster.runner.arn
}

output "task_definitions" {
  description = "Per environment, the task definition families the backend may start (RunTask runs their latest active revision)."
  value       = local.task_definition_outputs
}

output "task_roles" {
  description = "Per environment, the plan task's role (read-only deploy credentials) and the apply task's role (deploy credentials): trust each from that environment's target accounts only."
  value       = { for name in keys(var.environments) : name => { plan = aws_iam_role.planner[name].arn, apply = aws_iam_role.applier[name].arn } }
}

output "subnet_ids" {
  description = "Subnets of the runner tasks (passed through)."
  value       = var.subnet_ids
}

output "security_group_ids" {
  description = "Security groups of the runner tasks."
  value       = local.runner_security_group_ids
}

output "log_group_name" {
  description = "The runner's log group."
  value       = aws_cloudwatch_log_group.runner.name
}

output "artifacts_bucket" {
  description = "The artifacts bucket."
  value       = aws_s3_bucket.artifacts.bucket
}

output "artifacts_kms_key_arn" {
  description = "The artifacts key (SSE-KMS of every object in the bucket)."
  value       = aws_kms_key.artifacts.arn
}

output "job_signing_kms_key_arn" {
  description = "The job-signing key (only the backend role may Sign)."
  value       = aws_kms_key.job_signing.arn
}
