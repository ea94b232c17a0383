# Two keys, neither usable by anyone the key policy does not name: the
# account root may administer them (so IAM admins are never locked out) but
# not use them. Neither policy grants kms:CreateGrant, through which use
# could be handed on.

locals {
  # Key administration without use: no Encrypt/Decrypt/GenerateDataKey/Sign,
  # no CreateGrant. kms:Get* includes GetPublicKey, which Terraform's
  # aws_kms_public_key below needs.
  key_administration_actions = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
  ]
  account_root = "arn:${local.partition}:iam::${local.account_id}:root"
}

# ---------------------------------------------------------------------------
# Artifacts: SSE-KMS for every object in the artifacts bucket (jobs, plans,
# seen-job markers). Used only through S3, and only for that bucket.

resource "aws_kms_key" "artifacts" {
  description              = "Sealed runner: artifacts bucket (signed jobs, saved plans, seen-job markers)"
  key_usage                = "ENCRYPT_DECRYPT"
  customer_master_key_spec = "SYMMETRIC_DEFAULT"
  enable_key_rotation      = true
  deletion_window_in_days  = 30
  policy                   = data.aws_iam_policy_document.artifacts_key.json
}

resource "aws_kms_alias" "artifacts" {
  name          = "alias/sealed-runner-artifacts"
  target_key_id = aws_kms_key.artifacts.key_id
}

data "aws_iam_policy_document" "artifacts_key" {
  statement {
    sid       = "AccountAdministersButDoesNotUse"
    effect    = "Allow"
    actions   = local.key_administration_actions
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }

  # Every environment's runner roles: with S3 Bucket Keys the encryption
  # context is the bucket, not the object, so the key cannot tell one
  # environment's objects from another's. The bucket policy does (s3.tf).
  statement {
    sid       = "RunnersReadAndWriteArtifacts"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = concat(values(aws_iam_role.planner)[*].arn, values(aws_iam_role.applier)[*].arn)
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = ["${aws_s3_bucket.artifacts.arn}*"]
    }
  }

  # The backend only writes job documents (SSE-KMS needs a data key); it
  # cannot decrypt, so it could not read a plan even past the bucket policy.
  statement {
    sid       = "BackendWritesJobs"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.backend.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = ["${aws_s3_bucket.artifacts.arn}*"]
    }
  }
}

# ---------------------------------------------------------------------------
# Job signing: the backend signs every job document with KMS Sign
# (ED25519_SHA_512, MessageType RAW); the private key never leaves KMS.
# Runners verify with the public key, which reaches them in the task
# definition (runner_config.jobPublicKey), never from a job.

resource "aws_kms_key" "job_signing" {
  description              = "Sealed runner: signs job documents (only the Backstage backend role may Sign)"
  key_usage                = "SIGN_VERIFY"
  customer_master_key_spec = "ECC_NIST_EDWARDS25519"
  # KMS does not rotate asymmetric keys; rotating means a new key and a new
  # task definition revision, which this module does in one apply.
  enable_key_rotation     = false
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.job_signing_key.json
}

resource "aws_kms_alias" "job_signing" {
  name          = "alias/sealed-runner-job-signing"
  target_key_id = aws_kms_key.job_signing.key_id
}

data "aws_iam_policy_document" "job_signing_key" {
  statement {
    sid       = "AccountAdministersButDoesNotSign"
    effect    = "Allow"
    actions   = local.key_administration_actions
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [local.account_root]
    }
  }

  statement {
    sid       = "OnlyTheBackendSigns"
    effect    = "Allow"
    actions   = ["kms:Sign"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.backend.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:SigningAlgorithm"
      values   = ["ED25519_SHA_512"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:MessageType"
      values   = ["RAW"]
    }
  }

  statement {
    sid       = "BackendChecksTheKey"
    effect    = "Allow"
    actions   = ["kms:GetPublicKey"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.backend.arn]
    }
  }
}

data "aws_kms_public_key" "job_signing" {
  key_id = aws_kms_key.job_signing.arn
}
