# Optional: a security group with no inbound rule and HTTPS out only — git
# over https, the AWS APIs, nothing else. Providers come from the image's
# mirror, never from the internet.
resource "aws_security_group" "runner" {
  count = var.create_egress_security_group ? 1 : 0

  name_prefix = "sealed-runner-"
  description = "Sealed runner tasks: no inbound, HTTPS out"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS: git remotes and AWS APIs"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  lifecycle {
    precondition {
      condition     = var.vpc_id != null
      error_message = "create_egress_security_group needs vpc_id."
    }
  }
}

locals {
  runner_security_group_ids = concat(var.security_group_ids, aws_security_group.runner[*].id)
}
