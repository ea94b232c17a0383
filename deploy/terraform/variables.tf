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
  description = <<-EOT
    Environments by name, each its own identity: a planner role, an applier
    role and a plan and an apply task definition of its own, whose runner
    config names only this environment. Per environment: the branches whose
    commits it may apply, its plan policy, and the managed policies of its
    planner (read-only deploy credentials, default ReadOnlyAccess) and of its
    applier (the deploy credentials: required, no default). Give every
    environment's applier policies that reach only that environment's
    accounts and resources: two environments must not hold the same deploy
    policies, or a dev apply can change what only a prod apply should.
    Only the environment that deploys this module itself (e.g. tooling)
    should hold any right in the runner's own account beyond reading.
  EOT
  type = map(object({
    applyBranches = list(string)
    planPolicy = optional(object({
      allowCodeExecution = optional(bool, false)
      providers          = optional(list(string), [])
      providerArguments = optional(list(object({
        provider  = string
        arguments = list(string)
      })), [])
      # A Fargate task's disk dies with it: targets keep state in a remote
      # backend, whose type must be listed here (never local or cloud).
      backends     = optional(list(string), [])
      allowNetwork = optional(bool, false)
    }), {})
    planner_policy_arns = optional(list(string), ["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    applier_policy_arns = list(string)
  }))

  validation {
    condition     = length(var.environments) > 0
    error_message = "environments must name at least one environment."
  }

  # The runner's rule for environment names (checkEnvironmentName); they
  # also end up in role names (64 characters at most) and artifact keys.
  validation {
    condition     = alltrue([for name in keys(var.environments) : can(regex("^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$", name))])
    error_message = "Environment names must be 1-32 lowercase letters, digits or '-' (not at either end)."
  }

  validation {
    condition     = alltrue([for environment in values(var.environments) : length(environment.applier_policy_arns) > 0])
    error_message = "Every environment's applier_policy_arns must name at least one policy: what the pipeline may change is a decision, not a default."
  }
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
# Who may start the runner tasks. The tasks' own deploy credentials are per
# environment, in var.environments.

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
