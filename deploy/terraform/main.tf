# The sealed runner's own infrastructure: the ECS cluster and, per
# environment, a plan and an apply task definition the Backstage backend may
# start, with a planner and an applier role of that environment's own; the
# artifacts bucket, the keys and the log group. deploy/README.md explains
# the trust boundaries; test/src/deploy.test.ts holds the least-privilege
# properties.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # Names the backend's config and policy refer to.
  cluster_name      = "sealed-runner"
  container_name    = "runner"
  log_group_name    = "/sealed-runner/runner"
  log_stream_prefix = "runner"

  # One identity per environment: its own task definition families (and
  # roles, iam.tf), so nothing of one environment serves another.
  task_families = {
    for name in keys(var.environments) : name => {
      plan  = "sealed-runner-${name}-plan"
      apply = "sealed-runner-${name}-apply"
    }
  }

  # ARNs the backend's policy is written against: every revision of exactly
  # these families.
  task_definition_arns = flatten([
    for families in values(local.task_families) : [
      for family in values(families) : "arn:${local.partition}:ecs:${var.region}:${local.account_id}:task-definition/${family}:*"
    ]
  ])
  cluster_tasks = "arn:${local.partition}:ecs:${var.region}:${local.account_id}:task/${local.cluster_name}/*"

  # Artifact prefixes (packages/runner/src/artifacts.ts), each followed by
  # /<environment>/: jobs/<env>/<runId>.json, plans/<env>/<runId>.tfplan(.json),
  # seen-jobs/<env>/<runId>. The runner roles' policies (iam.tf) and the
  # bucket policy (s3.tf) narrow these to one environment.
  jobs_objects      = "${aws_s3_bucket.artifacts.arn}/jobs/*"
  plans_objects     = "${aws_s3_bucket.artifacts.arn}/plans/*"
  seen_jobs_objects = "${aws_s3_bucket.artifacts.arn}/seen-jobs/*"
}
