# For teams without AWS Organizations: the SCP's ceiling as a permissions
# boundary. Attach it to every human role of a guarded account —
# `permissions_boundary = <this policy's ARN>` on each aws_iam_role, or
# aws_ssoadmin_permissions_boundary_attachment on each IAM Identity Center
# permission set — but never to the applier's deploy role or the break-glass
# role, which are the exceptions. A role under it cannot remove it: the
# ceiling allows no IAM change. Weaker than the SCP in one way, which is why
# the SCP is preferred: a role created without the boundary has none, so
# role creation must itself be the pipeline's alone.

resource "aws_iam_policy" "human_boundary" {
  count = var.manage_permissions_boundary ? 1 : 0

  name        = "sealed-runner-human-boundary"
  description = "Permissions boundary for human roles: look, never change (the sealed runner deploys)."
  policy      = data.aws_iam_policy_document.human_boundary.json
}

data "aws_iam_policy_document" "human_boundary" {
  # A boundary grants nothing by itself; whatever a role's own policies
  # allow is cut down to this.
  statement {
    sid       = "LookNeverChange"
    effect    = "Allow"
    actions   = local.read_only_actions
    resources = ["*"]
  }
}
