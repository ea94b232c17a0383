terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.21"
    }
  }
}

# Which account this provider points at decides what applying does (see
# deploy/README.md, "Guardrails"): the organization's management account for
# the SCP, each guarded account for the break-glass alarm, us-east-1 because
# sign-in and global STS events are delivered there.
provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ "sealed-runner.io/component" = "guardrails" }, var.tags)
  }
}
