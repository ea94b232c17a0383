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
         * Plans a service principal (a CI token) requests. No person stands
         * behind such a plan for the four-eyes rule (whoever wrote the commit
         * could approve it), so `extra-approval` (default) needs one approval
         * more than `requiredApprovals` where that is at least 1; `deny`
         * refuses plans from services here.
         */
        serviceRequests?: 'deny' | 'extra-approval';
        /**
         * What Terraform code the runner may plan and apply here. Plan runs
         * code, so the default refuses code execution and every provider but
         * the built-in terraform provider.
         */
        planPolicy?: {
          /**
           * Lets `data "external"` and provisioners (`local-exec`,
           * `remote-exec`, `file`) through. Only for sandbox-like
           * environments: they run programs (inside the runner's sandbox,
           * with the environment's credentials). Default false.
           */
          allowCodeExecution?: boolean;
          /**
           * Provider addresses the code may use, written in full and in
           * lower case (`registry.terraform.io/hashicorp/aws`). The built-in
           * `terraform.io/builtin/terraform` is always allowed. Default: none.
           */
          providers?: string[];
          /**
           * Provider configuration arguments allowed beyond the built-in
           * allowlists, per provider, as dotted paths
           * (`assume_role.role_arn`). An argument that names a file, a
           * command or a profile lets the code reach it.
           */
          providerArguments?: Array<{ provider: string; arguments: string[] }>;
          /**
           * State backend types the code may declare, as a `backend` block
           * or a `terraform_remote_state` data source (`s3`, `gcs`,
           * `azurerm`, `http`, `consul`, `pg`, `kubernetes`, `oss`, `cos`),
           * each with a fixed allowlist of configuration keys. Default none:
           * the runner keeps the state.
           */
          backends?: string[];
          /**
           * Gives Terraform's sandbox the network (provider APIs, a remote
           * backend, module repositories over https or ssh). Default false.
           */
          allowNetwork?: boolean;
        };
      };
    };
    modules?: {
      /**
       * Only `terraform-module` entities owned by one of these entity refs
       * count as vetted. Unset: every such entity in the catalog counts.
       */
      owners?: string[];
      /**
       * Only module entities whose origin location (as the catalog records
       * it) is one of these location refs, or starts with one ending in `*`:
       * `url:https://github.com/acme/service-catalog/*`, or `file:` paths,
       * relative ones resolved against the backend's working directory.
       * Without it, anyone who can register a location can claim an owner.
       */
      locations?: string[];
    };
    targets?: {
      /**
       * Only entities whose origin location (as the catalog records it) is
       * one of these location refs, or starts with one ending in `*`, have
       * deployable targets; listed most trusted first — a folder two
       * entities declare belongs to the one from the earlier location.
       * Unset: entities from any location (a warning at startup).
       */
      locations?: string[];
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
      /**
       * Sign with an AWS KMS key instead (key spec ECC_NIST_EDWARDS25519,
       * usage SIGN_VERIFY): the private key never leaves KMS. Credentials
       * come from the `aws` config section or the standard provider chain.
       */
      kms?: {
        /** Key id, ARN or alias. */
        keyId: string;
        region: string;
        /** A VPC endpoint or a local KMS-compatible server. */
        endpoint?: string;
      };
      /** How long after it is issued a job may start on a runner, in seconds. Default 300. */
      lifetimeSeconds?: number;
    };
    /** Live log streams (`GET /runs/:id/logs/stream`). */
    logStreams?: {
      /** Streams one caller (user or service) may hold open; more get 429. Default 4. */
      maxPerCaller?: number;
      /** Streams this backend holds open in all; more get 429. Default 200. */
      maxTotal?: number;
      /**
       * A client that has not taken what was written to it within this many
       * seconds is cut off (it reconnects with Last-Event-ID). Default 30.
       */
      slowClientSeconds?: number;
    };
    /** Break-glass sessions (`POST /break-glass`). */
    breakGlass?: {
      /**
       * The longest session a holder of `sealed-runner.breakglass` may open,
       * in minutes (1–10080). Default 240.
       */
      maxDurationMinutes?: number;
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
      /**
       * How much log one run keeps. Output past either limit is not stored:
       * one marker line says so, and the run still finishes with its result.
       */
      logs?: {
        /** Default 250000 lines. */
        maxLines?: number;
        /** Default 67108864 (64 MiB), each line counting its text and 160 bytes for its row. */
        maxBytes?: number;
      };
      /**
       * A backend module registering a dispatcher for a built-in runner type
       * (`local`, `ecs`) would receive every signed job: startup fails
       * unless this is true, and is logged at warn when it is. Default false.
       */
      allowReplacingBuiltIn?: boolean;
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
        /**
         * The bubblewrap sandbox git and Terraform run in (on by default;
         * the backend refuses to start where it cannot work). `false` runs
         * them unsandboxed, as the backend's user — only on a machine of
         * your own without bubblewrap (macOS); logged loudly, and every
         * target shows it.
         */
        sandbox?:
          | false
          | {
              /** Default `/usr/bin/bwrap`. */
              bwrapPath?: string;
              /** The unprivileged user (and group) git and Terraform run as when the backend is root. Default 64100. */
              uid?: number;
              gid?: number;
            };
      };
      /**
       * The ECS Fargate runner (`type: ecs`); see deploy/terraform, whose
       * outputs fill these in. Credentials come from the `aws` config
       * section (@backstage/integration-aws-node) or the provider chain.
       */
      ecs?: {
        region: string;
        /** Cluster name or ARN. */
        cluster: string;
        /**
         * The planner and applier task definitions (family, family:revision
         * or ARN) of every environment: one identity per environment, plan
         * read-only, only apply deploys.
         */
        taskDefinitions: {
          [environment: string]: { plan: string; apply: string };
        };
        /** The runner's container in both task definitions. Default `runner`. */
        containerName?: string;
        subnets: string[];
        securityGroups?: string[];
        /** Default false: reach AWS APIs and git through the VPC. */
        assignPublicIp?: boolean;
        /** The container's awslogs group and stream prefix (default `runner`). */
        logGroup: string;
        logStreamPrefix?: string;
        /** Bucket and KMS key for the signed job documents (and the runner's plans). */
        artifactsBucket: string;
        artifactsKmsKeyId: string;
        /** VPC endpoints or a local AWS-compatible server. */
        endpoint?: string;
        /** RunTask attempts for capacity errors, throttling and 5xx (1–10). Default 5. */
        startAttempts?: number;
        /** First backoff ceiling in ms, doubled per attempt, full jitter. Default 1000. */
        startBackoffMs?: number;
        /** How long to read a stopped task's log stream for its last lines, in seconds. Default 30. */
        logGraceSeconds?: number;
      };
    };
  };
}
