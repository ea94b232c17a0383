variable "region" {
  description = "Region of the alarm. Console sign-ins and calls to the global STS endpoint reach EventBridge in us-east-1."
  type        = string
  default     = "us-east-1"
}

variable "applier_role_arn" {
  description = "The role the sealed runner's applier deploys with in guarded accounts (an ARN; * wildcards allowed, e.g. arn:aws:iam::*:role/sealed-runner-deploy)."
  type        = string

  validation {
    condition     = can(regex("^arn:(aws[a-z-]*|\\*):iam::([0-9]{12}|\\*):role/.+$", var.applier_role_arn))
    error_message = "applier_role_arn must be an IAM role ARN (wildcards allowed)."
  }
}

variable "break_glass_role_arn" {
  description = "The named break-glass role (an ARN; * wildcards allowed for IAM Identity Center roles, e.g. arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_BreakGlass_*)."
  type        = string

  validation {
    condition     = can(regex("^arn:(aws[a-z-]*|\\*):iam::([0-9]{12}|\\*):role/.+$", var.break_glass_role_arn))
    error_message = "break_glass_role_arn must be an IAM role ARN (wildcards allowed)."
  }
}

variable "workload_role_arn_patterns" {
  description = "Roles of running workloads (task, task execution, function, instance and event-target roles), which still write their own data in guarded accounts. Only the applier can create or change roles there, so a path convention is safe."
  type        = list(string)
  default     = ["arn:aws:iam::*:role/workload/*"]
}

# ---------------------------------------------------------------------------
# What to manage in the account the provider points at.

variable "manage_scp" {
  description = "Create the SCP and attach it to scp_target_ids (organization management account, or a delegated policy administrator)."
  type        = bool
  default     = false
}

variable "scp_target_ids" {
  description = "Organizational units or accounts of prod and stage to attach the SCP to."
  type        = list(string)
  default     = []
}

variable "manage_permissions_boundary" {
  description = "Create the permissions boundary for human roles: the alternative for accounts outside an AWS Organization."
  type        = bool
  default     = false
}

variable "manage_break_glass_alarm" {
  description = "Create the break-glass alarm (EventBridge rules and an encrypted SNS topic) in this account and region."
  type        = bool
  default     = false
}

variable "create_trail" {
  description = "Also create a multi-region CloudTrail trail here; leave false where an organization trail already records this account."
  type        = bool
  default     = false
}

variable "alarm_subscriptions" {
  description = "Who hears about break-glass use: SNS subscriptions (protocol and endpoint, e.g. email, https)."
  type = list(object({
    protocol = string
    endpoint = string
  }))
  default = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
