# The artifacts bucket. What lives here and who may touch it (<env> is the
# run's environment, so each environment's roles can be held to their own):
#   jobs/<env>/<runId>.json          the signed job: written by the backend, read
#                                    by that environment's runner tasks
#   plans/<env>/<runId>.tfplan(.json) saved plans and their binding: created by
#                                    the environment's planner, read by its applier
#                                    only (a plan can hold secrets)
#   seen-jobs/<env>/<runId>          single-use markers, created by its runner tasks
# Plans and markers are create-only (PutObject with If-None-Match: *) and
# never deleted but by lifecycle expiry. The prefixes are also fixed in
# packages/runner/src/artifacts.ts.

resource "aws_s3_bucket" "artifacts" {
  bucket_prefix = "sealed-runner-artifacts-"
  force_destroy = false
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.artifacts.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  # A job may start only within its lifetime (minutes); its document and
  # marker are kept two days for investigation, then go.
  rule {
    id     = "expire-jobs"
    status = "Enabled"

    filter {
      prefix = "jobs/"
    }

    expiration {
      days = 2
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "expire-seen-jobs"
    status = "Enabled"

    filter {
      prefix = "seen-jobs/"
    }

    expiration {
      days = 2
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "expire-plans"
    status = "Enabled"

    filter {
      prefix = "plans/"
    }

    expiration {
      days = var.plan_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 1
    }
  }

  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_policy" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  # Minified: a bucket policy may hold 20 KB, and it grows by four
  # statements per environment.
  policy = data.aws_iam_policy_document.artifacts_bucket.minified_json

  # The policy refuses unencrypted writes; set the default encryption first.
  depends_on = [
    aws_s3_bucket_public_access_block.artifacts,
    aws_s3_bucket_server_side_encryption_configuration.artifacts,
  ]
}

data "aws_iam_policy_document" "artifacts_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # Every writer names SSE-KMS explicitly (the runner's S3ArtifactStore and
  # the backend's EcsDispatcher do); a write relying on anything else is
  # refused rather than silently encrypted some other way.
  statement {
    sid       = "DenyPutWithoutSseKms"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }

  statement {
    sid       = "DenyPutWithAnotherKey"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [aws_kms_key.artifacts.arn]
    }
  }

  # Create-only: nobody replaces a plan (an apply would run what nobody
  # reviewed) or a marker (a job could run twice). s3:if-none-match is the
  # condition key AWS offers to enforce conditional writes; a PutObject
  # without If-None-Match is refused, and so are multipart uploads (their
  # parts carry no such header) and copies into these prefixes, neither of
  # which the runner uses.
  statement {
    sid       = "DenyOverwritingPlansAndMarkers"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = [local.plans_objects, local.seen_jobs_objects]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Null"
      variable = "s3:if-none-match"
      values   = ["true"]
    }
  }

  # Deleting a marker would let its job run again; deleting a plan's current
  # version would bring nothing back but remove what the apply was approved
  # against. Lifecycle expiry is not subject to the bucket policy.
  statement {
    sid       = "DenyDeletingPlansAndMarkers"
    effect    = "Deny"
    actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    resources = [local.plans_objects, local.seen_jobs_objects]

    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }

  # One identity per environment, whatever else a role's deploy policies
  # allow (the planners' default ReadOnlyAccess reads every bucket): an
  # environment's jobs are read only by its own runner roles, its plans
  # created only by its planner and read only by its applier, its markers
  # created only by its runner roles. Sids are alphanumeric: prod-eu's
  # read OnlyOwnRunnersReadJobsProdEu (two names differing only in a '-'
  # before a digit would collide, which the provider refuses).
  dynamic "statement" {
    for_each = var.environments

    content {
      sid       = "OnlyOwnRunnersReadJobs${replace(title(replace(statement.key, "-", " ")), " ", "")}"
      effect    = "Deny"
      actions   = ["s3:GetObject", "s3:GetObjectVersion"]
      resources = ["${aws_s3_bucket.artifacts.arn}/jobs/${statement.key}/*"]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "ArnNotEquals"
        variable = "aws:PrincipalArn"
        values   = [aws_iam_role.planner[statement.key].arn, aws_iam_role.applier[statement.key].arn]
      }
    }
  }

  dynamic "statement" {
    for_each = var.environments

    content {
      sid       = "OnlyOwnApplierReadsPlans${replace(title(replace(statement.key, "-", " ")), " ", "")}"
      effect    = "Deny"
      actions   = ["s3:GetObject", "s3:GetObjectVersion"]
      resources = ["${aws_s3_bucket.artifacts.arn}/plans/${statement.key}/*"]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "ArnNotEquals"
        variable = "aws:PrincipalArn"
        values   = [aws_iam_role.applier[statement.key].arn]
      }
    }
  }

  dynamic "statement" {
    for_each = var.environments

    content {
      sid       = "OnlyOwnPlannerCreatesPlans${replace(title(replace(statement.key, "-", " ")), " ", "")}"
      effect    = "Deny"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.artifacts.arn}/plans/${statement.key}/*"]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "ArnNotEquals"
        variable = "aws:PrincipalArn"
        values   = [aws_iam_role.planner[statement.key].arn]
      }
    }
  }

  dynamic "statement" {
    for_each = var.environments

    content {
      sid       = "OnlyOwnRunnersMarkJobs${replace(title(replace(statement.key, "-", " ")), " ", "")}"
      effect    = "Deny"
      actions   = ["s3:PutObject"]
      resources = ["${aws_s3_bucket.artifacts.arn}/seen-jobs/${statement.key}/*"]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "ArnNotEquals"
        variable = "aws:PrincipalArn"
        values   = [aws_iam_role.planner[statement.key].arn, aws_iam_role.applier[statement.key].arn]
      }
    }
  }

  # A plan file holds values Terraform marks sensitive. The backend never
  # reads one (the runner reports a values-free summary), so even a
  # compromised backend, or a policy widened by mistake, cannot.
  statement {
    sid       = "DenyBackendReadingPlans"
    effect    = "Deny"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.plans_objects]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.backend.arn]
    }
  }
}
