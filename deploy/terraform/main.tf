# The sealed runner's own infrastructure: the ECS cluster and the two task
# definitions the Backstage backend may start, their roles, the artifacts
# bucket, the keys and the log group. deploy/README.md explains the trust
# boundaries; test/src/deploy.test.ts holds the least-privilege properties.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Names the backend's config and policy refer to.
  cluster_name      = "sealed-runner"
  plan_family       = "sealed-runner-plan"
  apply_family      = "sealed-runner-apply"
  container_name    = "runner"
  log_group_name    = "/sealed-runner/runner"
  log_stream_prefix = "runner"

  # ARNs the backend's policy is written against.
  plan_task_definitions  = "arn:${local.partition}:ecs:${var.region}:${local.account_id}:task-definition/${local.plan_family}:*"
  apply_task_definitions = "arn:${local.partition}:ecs:${var.region}:${local.account_id}:task-definition/${local.apply_family}:*"
  cluster_tasks          = "arn:${local.partition}:ecs:${var.region}:${local.account_id}:task/${local.cluster_name}/*"

  # Artifact prefixes (packages/runner/src/artifacts.ts).
  jobs_objects      = "${aws_s3_bucket.artifacts.arn}/jobs/*"
  plans_objects     = "${aws_s3_bucket.artifacts.arn}/plans/*"
  seen_jobs_objects = "${aws_s3_bucket.artifacts.arn}/seen-jobs/*"
}
