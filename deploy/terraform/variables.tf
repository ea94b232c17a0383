variable "region" {
  description = "Region of the runner's cluster, bucket, keys and log group."
  type        = string
}

variable "runner_image" {
  description = "The runner image (packages/runner/Dockerfile), by digest: <registry>/<repository>@sha256:<64 hex>. A tag could be moved to other code."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$", var.runner_image))
    error_message = "runner_image must be pinned by digest: <registry>/<repository>@sha256:<64 lowercase hex digits>."
  }
}

# ---------------------------------------------------------------------------
# The runner's policy: the same values the platform team keeps in
# app-config.production.yaml under sealedRunner.repositories and
# sealedRunner.environments (requiredApprovals and approvers are the gate's
# business and are dropped here).

variable "repositories" {
  description = "Allowlisted repository URLs (exact, or a prefix ending in /*)."
  type        = list(string)
}

variable "environments" {
  description = "Environments by name: the branches whose commits they may apply, and their plan policy."
  type = map(object({
    applyBranches = list(string)
    planPolicy = optional(object({
      allowCodeExecution = optional(bool, false)
      providers          = optional(list(string), [])
      # A Fargate task's disk dies with it: targets keep state in a remote
      # backend, whose type must be listed here (never local or cloud).
      backends = optional(list(string), [])
    }), {})
  }))
}

variable "job_lifetime_seconds" {
  description = "How long after the backend signed it a job may start."
  type        = number
  default     = 300
}

variable "timeout_seconds" {
  description = "Hard limit for one run."
  type        = number
  default     = 3600
}

# ---------------------------------------------------------------------------
# Credentials of the runner tasks.

variable "planner_policy_arns" {
  description = "Managed policies of the planner task role: read-only deploy credentials (and, for other accounts, sts:AssumeRole on their read-only roles)."
  type        = list(string)
  default     = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
}

variable "applier_policy_arns" {
  description = "Managed policies of the applier task role: the deploy credentials. No default: what the pipeline may change is a decision, not a default."
  type        = list(string)

  validation {
    condition     = length(var.applier_policy_arns) > 0
    error_message = "applier_policy_arns must name at least one policy."
  }
}

variable "backend_trusted_principal_arns" {
  description = "Principals that may assume the backend role: the Backstage backend's own role (its ECS task role, an IRSA role...)."
  type        = list(string)

  validation {
    condition     = length(var.backend_trusted_principal_arns) > 0 && alltrue([for arn in var.backend_trusted_principal_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/", arn))])
    error_message = "backend_trusted_principal_arns must be IAM role ARNs."
  }
}

# ---------------------------------------------------------------------------
# Task size, retention.

variable "plan_cpu" {
  description = "CPU units of a plan task."
  type        = number
  default     = 1024
}

variable "plan_memory" {
  description = "Memory (MiB) of a plan task."
  type        = number
  default     = 2048
}

variable "apply_cpu" {
  description = "CPU units of an apply task."
  type        = number
  default     = 1024
}

variable "apply_memory" {
  description = "Memory (MiB) of an apply task."
  type        = number
  default     = 2048
}

variable "plan_retention_days" {
  description = "Days a saved plan (plans/) is kept; an apply needs its plan."
  type        = number
  default     = 30
}

variable "log_retention_days" {
  description = "Days the runner's logs are kept."
  type        = number
  default     = 90
}

variable "log_kms_key_arn" {
  description = "KMS key for the log group (its policy must allow logs.<region>.amazonaws.com); null: CloudWatch's default encryption."
  type        = string
  default     = null
}

# ---------------------------------------------------------------------------
# Networking: passed in, and passed on to the backend's config.

variable "subnet_ids" {
  description = "Subnets the runner tasks start in (private, with a NAT gateway or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must name at least one subnet."
  }
}

variable "security_group_ids" {
  description = "Security groups of the runner tasks."
  type        = list(string)
  default     = []
}

variable "create_egress_security_group" {
  description = "Also create a security group with no inbound rule and HTTPS out only (needs vpc_id)."
  type        = bool
  default     = false
}

variable "vpc_id" {
  description = "VPC of the subnets; only needed for create_egress_security_group."
  type        = string
  default     = null
}

variable "assign_public_ip" {
  description = "Whether tasks get a public IP (only for subnets without NAT)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
