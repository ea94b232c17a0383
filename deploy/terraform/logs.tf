# The runner's output: JSON events, one per line. The backend reads a task's
# stream (runner/runner/<task id>) for its logs and result; nothing else in
# the account can write here but the runner tasks' execution role.
resource "aws_cloudwatch_log_group" "runner" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
}
