import {
  AuditorService,
  AuthService,
  BackstageCredentials,
  LoggerService,
  PermissionsService,
  UserInfoService,
} from '@backstage/backend-plugin-api';
import {
  ConflictError,
  NotAllowedError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import {
  AuthorizeResult,
  ResourcePermission,
} from '@backstage/plugin-permission-common';
import {
  breakGlassPermission,
  lockReleasePermission,
  Run,
  runApplyPermission,
  runApprovePermission,
  runCancelPermission,
  runPlanPermission,
  runReadPermission,
  stringifyTargetRef,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { SealedRunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { RunRecord, RunStore } from '../../database/RunStore';
import { Audited, createAudited } from '../audit';
import { BreakGlassService } from '../BreakGlassService/types';
import { ModulePinService } from '../ModulePins/createModulePinService';
import { actorOf } from '../principals';
import { RunSupervisor } from '../RunSupervisor/RunSupervisor';
import { TargetResolver } from '../TargetResolver/TargetResolver';
import { ResolvedTarget } from '../TargetResolver/resolveTargets';
import { toApiRun } from './toApiRun';

/** Resolves a branch (or the default branch) to its head commit. */
export type BranchResolver = (
  repository: string,
  branch: string | undefined,
) => Promise<{ branch: string; commitSha: string } | undefined>;

/** What the run service is built from. */
export interface RunServiceDeps {
  store: RunStore;
  targets: TargetResolver;
  supervisor: RunSupervisor;
  resolveBranch: BranchResolver;
  permissions: PermissionsService;
  auth: AuthService;
  userInfo: UserInfoService;
  auditor: AuditorService;
  logger: LoggerService;
  config: SealedRunnerConfig;
  /** Lets an apply use its requester's open break-glass session. */
  breakGlass: BreakGlassService;
  /** False when the runner runs the code unsandboxed; every target says so. */
  sandboxed: boolean;
  modulePins: ModulePinService;
}

/** A target that passed every deployability rule. */
export type DeployableTarget = ResolvedTarget & {
  lockKey: string;
  environmentConfig: NonNullable<ResolvedTarget['environmentConfig']>;
};

/** How a denial reads: "you may not <verb> <entity> in <environment>". */
const DENIED_VERB: Record<string, string> = {
  [runReadPermission.name]: 'see runs of',
  [runPlanPermission.name]: 'plan',
  [runApplyPermission.name]: 'apply',
  [runApprovePermission.name]: 'approve plans of',
  [runCancelPermission.name]: 'cancel runs of',
  [lockReleasePermission.name]: 'force-release the lock of',
  [breakGlassPermission.name]: 'use break-glass on',
};

/**
 * The parts every command of the run service shares: who is asking, the
 * permission check, the audit record, loading a run the caller may read,
 * reading a branch head, and starting a runner.
 */
export interface RunContext extends RunServiceDeps {
  /** Who is asking: a user entity ref, or `service:<subject>`. */
  actorOf(credentials: BackstageCredentials): string;
  /** Throws NotAllowedError, naming the action, unless the policy allows it. */
  authorize(
    permission: ResourcePermission,
    target: { entityRef: string; environment: string },
    credentials: BackstageCredentials,
  ): Promise<void>;
  /** Records an audit event around an action, with its outcome. */
  audited: Audited;
  /** A run the caller may read; one they may not read does not exist for them. */
  loadRun(runId: string, credentials: BackstageCredentials): Promise<RunRecord>;
  /** A branch's head; an unreachable repository is a 503. */
  headOf: BranchResolver;
  /** The entity's targets the caller may read. */
  readableTargets(
    entityRef: string,
    credentials: BackstageCredentials,
  ): Promise<ResolvedTarget[]>;
  /** Starts the runner in the background; callers follow the run by id. */
  dispatch(run: RunRecord): Run;
}

/** Throws a 409 naming the reason unless the target is deployable. */
export function requireDeployable(
  target: ResolvedTarget,
): asserts target is DeployableTarget {
  if (!target.deployable || !target.lockKey || !target.environmentConfig) {
    throw new ConflictError(
      `${target.entityRef} is not deployable to ${target.environment}: ${target.reason}`,
    );
  }
}

export function createRunContext(deps: RunServiceDeps): RunContext {
  const { store, targets, supervisor, permissions, auth } = deps;

  return {
    ...deps,

    actorOf: credentials => actorOf(auth, credentials),

    async authorize(permission, target, credentials) {
      const [decision] = await permissions.authorize(
        [{ permission, resourceRef: stringifyTargetRef(target) }],
        { credentials },
      );
      if (decision.result !== AuthorizeResult.ALLOW) {
        throw new NotAllowedError(
          `you may not ${DENIED_VERB[permission.name] ?? permission.name} ${
            target.entityRef
          } in ${target.environment}`,
        );
      }
    },

    audited: createAudited(deps.auditor),

    async loadRun(runId, credentials) {
      const run = await store.getRun(runId);
      const [decision] = run
        ? await permissions.authorize(
            [
              {
                permission: runReadPermission,
                resourceRef: stringifyTargetRef(run),
              },
            ],
            { credentials },
          )
        : [undefined];
      if (!run || decision?.result !== AuthorizeResult.ALLOW) {
        throw new NotFoundError(`run ${runId} does not exist`);
      }
      return run;
    },

    async headOf(repository, branch) {
      try {
        return await deps.resolveBranch(repository, branch);
      } catch (error) {
        throw new ServiceUnavailableError(
          `could not read ${repository}: ${(error as Error).message}`,
        );
      }
    },

    async readableTargets(entityRef, credentials) {
      const resolved = await targets.listTargets(entityRef, { credentials });
      const readable = await permissions.authorize(
        resolved.map(t => ({
          permission: runReadPermission,
          resourceRef: stringifyTargetRef(t),
        })),
        { credentials },
      );
      return resolved.filter(
        (_, i) => readable[i].result === AuthorizeResult.ALLOW,
      );
    },

    dispatch(run) {
      void supervisor.start(run);
      return toApiRun(run);
    },
  };
}
