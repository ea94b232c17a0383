export interface Config {
  /** Sealed Runner: the gate in front of the sealed deploy runner. */
  sealedRunner?: {
    /**
     * Allowlist of infrastructure-live repository URLs. Exact URLs, or a
     * prefix ending in `/*` matching one more path segment. A target whose
     * repository is not listed is not deployable.
     */
    repositories: string[];
    /** Environments, owned by the platform team. */
    environments: {
      [name: string]: {
        /** Branches whose commits may be applied; `['*']` means any. */
        applyBranches: string[];
        /** Approvals needed from users other than the requester. */
        requiredApprovals: number;
        /** User or group entity refs allowed to approve. Unset: anyone the permission policy allows. */
        approvers?: string[];
        /**
         * What Terraform code the runner may plan and apply here. Plan runs
         * code, so the default refuses code execution and every provider but
         * the built-in terraform provider.
         */
        planPolicy?: {
          /**
           * Lets `data "external"` and provisioners (`local-exec`,
           * `remote-exec`, `file`) through. Only for sandbox-like
           * environments: they run programs with the runner's credentials.
           * Default false.
           */
          allowCodeExecution?: boolean;
          /**
           * Provider addresses the code may use, written in full and in
           * lower case (`registry.terraform.io/hashicorp/aws`). The built-in
           * `terraform.io/builtin/terraform` is always allowed. Default: none.
           */
          providers?: string[];
        };
      };
    };
    modules?: {
      /**
       * Only `terraform-module` entities owned by one of these entity refs
       * count as vetted. Unset: every such entity in the catalog counts.
       */
      owners?: string[];
    };
    /** Signing of the job documents handed to runners. */
    jobSigning?: {
      /**
       * Ed25519 private key (PEM) the gate signs jobs with; runners hold the
       * public key. Unset: a key generated at startup, which only the
       * embedded local runner (started by this backend) can know.
       * @visibility secret
       */
      privateKey?: string;
      /** How long after it is issued a job may start on a runner, in seconds. Default 300. */
      lifetimeSeconds?: number;
    };
    runner?: {
      /** Runner type: `local` (embedded default) or one added by a module, such as `ecs`. */
      type?: string;
      /** Hard limit for one run, in seconds. Default 1800. */
      timeoutSeconds?: number;
      /**
       * A run whose supervising replica has not reported for this many
       * seconds is taken over by another replica. Default 30.
       */
      heartbeatTimeoutSeconds?: number;
      /** How often the reconciler runs, in seconds. Default 10. */
      reconcileIntervalSeconds?: number;
      /** The embedded local runner. */
      local?: {
        /**
         * Directory the runner owns: per-run work directories, saved plans
         * and local Terraform state. Relative paths resolve against the
         * backend's working directory.
         */
        directory: string;
        /** Terraform binary (absolute path). Default: `terraform` on the runner's fixed PATH. */
        terraformPath?: string;
        /** Filesystem provider mirror. Default: `<directory>/provider-mirror`. */
        providerMirror?: string;
      };
    };
  };
}
