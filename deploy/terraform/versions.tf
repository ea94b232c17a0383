terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The job-signing key is Ed25519 (ECC_NIST_EDWARDS25519), which KMS
      # added in November 2025: provider releases built before that refuse
      # the key spec at plan time (hashicorp/terraform-provider-aws#45015).
      version = "~> 6.21"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({ "sealed-runner.io/component" = "sealed-runner" }, var.tags)
  }
}
