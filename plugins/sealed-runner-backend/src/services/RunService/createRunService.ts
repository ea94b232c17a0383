import { randomUUID } from 'node:crypto';
import { on } from 'node:events';
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
  InputError,
  NotAllowedError,
  NotFoundError,
  ServiceUnavailableError,
} from '@backstage/errors';
import {
  AuthorizeResult,
  ResourcePermission,
} from '@backstage/plugin-permission-common';
import {
  BreakGlassBypass,
  breakGlassPermission,
  BreakGlassSession,
  jobSchema,
  lockReleasePermission,
  ModuleUsage,
  parseModuleSource,
  Run,
  runApplyPermission,
  runApprovePermission,
  runCancelPermission,
  runPlanPermission,
  runReadPermission,
  sameEntityRef,
  sleep,
  stringifyTargetRef,
  Target,
  TERMINAL_RUN_STATUSES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { SealedRunnerConfig } from '../../config';
import { listReadable } from '../readable';
import { NewRun, RunRecord, RunStore } from '../../database/RunStore';
import {
  breakGlassBypassesNeeded,
  decideApply,
  decideApplyReadiness,
  decideApproval,
  decideCancel,
  decidePlanRequest,
  enforce,
} from '../../decisions/decisions';
import { createAudited } from '../audit';
import { actorOf as actorOfCredentials, requireHuman } from '../principals';
import { BreakGlassService } from '../BreakGlassService/types';
import { ModulePinService } from '../ModulePins/createModulePinService';
import { RunSupervisor } from '../RunSupervisor/RunSupervisor';
import { TargetResolver } from '../TargetResolver/TargetResolver';
import { ResolvedTarget } from '../TargetResolver/resolveTargets';
import { RunService } from './types';

/** A target that passed every deployability rule. */
type DeployableTarget = ResolvedTarget & {
  lockKey: string;
  environmentConfig: NonNullable<ResolvedTarget['environmentConfig']>;
};

/** Resolves a branch (or the default branch) to its head commit. */
export type BranchResolver = (
  repository: string,
  branch: string | undefined,
) => Promise<{ branch: string; commitSha: string } | undefined>;

const MAX_LOG_PAGE = 1000;
/**
 * A live stream reads this many lines at a time, and the next page only
 * once the client has taken the last: what one stream holds is bounded.
 */
const FOLLOW_PAGE = 200;

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
const CANCEL_WAIT_MS = 10_000;
const FOLLOW_POLL_MS = 1000;

/** The API shape of a run: internal fields never leave the backend. */
export function toApiRun(record: RunRecord): Run {
  const run: Run = {
    id: record.id,
    entityRef: record.entityRef,
    environment: record.environment,
    operation: record.operation,
    status: record.status,
    ref: record.ref,
    commitSha: record.commitSha,
    requestedBy: record.requestedBy,
    createdAt: record.createdAt,
    approvals: record.approvals,
  };
  const optional = {
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    planRunId: record.planRunId,
    plan: record.plan,
    changes: record.changes,
    error: record.error,
    supersededBy: record.supersededBy,
    applyRunId: record.applyRunId,
    breakGlass: record.breakGlass,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) {
      Object.assign(run, { [key]: value });
    }
  }
  return run;
}

export function createRunService(options: {
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
}): RunService {
  const {
    store,
    targets,
    supervisor,
    permissions,
    auth,
    userInfo,
    auditor,
    config,
  } = options;

  /** Who is asking: a user entity ref, or `service:<subject>`. */
  const actorOf = (credentials: BackstageCredentials) =>
    actorOfCredentials(auth, credentials);

  async function authorize(
    permission: ResourcePermission,
    target: { entityRef: string; environment: string },
    credentials: BackstageCredentials,
  ) {
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
  }

  /** Records an audit event around an action, with its outcome. */
  const audited = createAudited(auditor);

  /** A run the caller may read; one they may not read does not exist for them. */
  async function loadRun(
    runId: string,
    credentials: BackstageCredentials,
  ): Promise<RunRecord> {
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
  }

  async function headOf(repository: string, branch: string | undefined) {
    try {
      return await options.resolveBranch(repository, branch);
    } catch (error) {
      throw new ServiceUnavailableError(
        `could not read ${repository}: ${(error as Error).message}`,
      );
    }
  }

  function requireDeployable(
    target: ResolvedTarget,
  ): asserts target is DeployableTarget {
    if (!target.deployable || !target.lockKey || !target.environmentConfig) {
      throw new ConflictError(
        `${target.entityRef} is not deployable to ${target.environment}: ${target.reason}`,
      );
    }
  }

  /**
   * A queued run of a deployable target, with the job its runner gets: the
   * target, the commit, and the current vetted-module snapshot. An apply
   * names its plan's saved plan file, and the break-glass session it uses
   * (the signed grant lets the runner apply a branch that is not an apply
   * branch, until the session expires).
   */
  async function newRun(
    target: DeployableTarget,
    fields: {
      ref: string;
      commitSha: string;
      requestedBy: string;
      plan?: RunRecord;
      breakGlass?: { session: BreakGlassSession; bypassed: BreakGlassBypass[] };
    },
  ): Promise<NewRun> {
    const session = fields.breakGlass?.session;
    const id = randomUUID();
    const operation = fields.plan ? 'apply' : 'plan';
    const job = jobSchema.parse({
      version: 1,
      runId: id,
      operation,
      entityRef: target.entityRef,
      environment: target.environment,
      repository: target.repository,
      ref: fields.ref,
      commitSha: fields.commitSha,
      path: target.path,
      // Vetted versions are commits: each tag as pinned when it was vetted.
      modules: await options.modulePins.pinned(await targets.catalogModules()),
      ...(fields.plan
        ? { plan: { runId: fields.plan.id, sha256: fields.plan.planSha256 } }
        : {}),
      issuedAt: new Date().toISOString(),
      ...(session
        ? {
            breakGlass: {
              sessionId: session.id,
              openedBy: session.openedBy,
              expiresAt: session.expiresAt,
            },
          }
        : {}),
    });
    return {
      id,
      entityRef: target.entityRef,
      environment: target.environment,
      repository: target.repository,
      path: target.path,
      lockKey: target.lockKey,
      operation,
      ref: fields.ref,
      commitSha: fields.commitSha,
      requestedBy: fields.requestedBy,
      createdAt: job.issuedAt,
      ...(fields.plan ? { planRunId: fields.plan.id } : {}),
      job,
      ...(session
        ? {
            breakGlass: {
              sessionId: session.id,
              openedBy: session.openedBy,
              reason: session.reason,
              bypassed: fields.breakGlass!.bypassed,
            },
          }
        : {}),
    };
  }

  async function dispatch(run: RunRecord): Promise<Run> {
    // The runner starts in the background; callers follow the run by id.
    void supervisor.start(run);
    return toApiRun(run);
  }

  /** The entity's targets the caller may read. */
  async function readableTargets(
    entityRef: string,
    credentials: BackstageCredentials,
  ) {
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
  }

  return {
    async listTargets(entityRef, { credentials }) {
      const result: Target[] = [];
      for (const t of await readableTargets(entityRef, credentials)) {
        const lastRun = await store.latestRun(t.entityRef, t.environment);
        const lockedBy = t.lockKey
          ? await store.lockHolder(t.lockKey)
          : undefined;
        const approvers = t.environmentConfig?.approvers;
        result.push({
          entityRef: t.entityRef,
          environment: t.environment,
          repository: t.repository,
          path: t.path,
          applyBranches: t.environmentConfig?.applyBranches ?? [],
          requiredApprovals: t.environmentConfig?.requiredApprovals ?? 0,
          deployable: t.deployable,
          ...(t.reason ? { reason: t.reason } : {}),
          ...(approvers ? { approvers } : {}),
          locked: lockedBy !== undefined,
          ...(lockedBy ? { lockedBy } : {}),
          ...(lastRun ? { lastRun: toApiRun(lastRun) } : {}),
          sandboxed: options.sandboxed,
        });
      }
      return result;
    },

    async listModuleUsage(entityRef, { credentials }) {
      const vetted = await targets.vettedModuleEntities();
      const usage: ModuleUsage[] = [];
      for (const t of await readableTargets(entityRef, credentials)) {
        const [plan] = await store.listRuns({
          entityRef: t.entityRef,
          environment: t.environment,
          operation: 'plan',
          status: 'succeeded',
          limit: 1,
        });
        for (const reported of plan?.moduleSources ?? []) {
          const parsed = parseModuleSource(reported);
          if (!parsed.ok || !parsed.value.ref) {
            continue;
          }
          const { base, ref } = parsed.value;
          const pinnedCommit = plan.job.modules.find(m => m.source === base)
            ?.commits?.[ref];
          usage.push({
            environment: t.environment,
            runId: plan.id,
            commitSha: plan.commitSha,
            source: base,
            version: ref,
            ...(pinnedCommit ? { pinnedCommit } : {}),
            moduleRefs: vetted
              .filter(
                v =>
                  v.module.source === base && v.module.versions.includes(ref),
              )
              .map(v => v.entityRef),
          });
        }
      }
      return usage;
    },

    async listTargetOwners(repository, { credentials }) {
      // Owners name entities a user may not be allowed to see in the
      // catalog: only other plugins (the catalog module) ask.
      if (!auth.isPrincipal(credentials, 'service')) {
        throw new NotAllowedError(
          'only backend plugins may list target owners',
        );
      }
      return targets.targetOwners(repository);
    },

    async requestPlan(request, { credentials, request: httpRequest }) {
      const actor = actorOf(credentials);
      return audited(
        httpRequest,
        'run-plan',
        'medium',
        {
          actor,
          entityRef: request.entityRef,
          environment: request.environment,
          ref: request.ref ?? null,
        },
        async () => {
          const target = await targets.getTarget(
            request.entityRef,
            request.environment,
            { credentials },
          );
          await authorize(runPlanPermission, target, credentials);
          requireDeployable(target);
          enforce(
            decidePlanRequest(
              actor,
              target.environment,
              target.environmentConfig,
            ),
          );
          const head = await headOf(target.repository, request.ref);
          if (!head) {
            throw new InputError(
              request.ref
                ? `branch ${request.ref} does not exist in ${target.repository}`
                : `${target.repository} has no default branch`,
            );
          }
          const run = await store.createRun(
            await newRun(target, {
              ref: head.branch,
              commitSha: head.commitSha,
              requestedBy: actor,
            }),
          );
          return dispatch(run);
        },
        run => ({ runId: run.id, commitSha: run.commitSha }),
      );
    },

    async approve(planRunId, { credentials, request: httpRequest }) {
      const actor = actorOf(credentials);
      return audited(
        httpRequest,
        'run-approve',
        'high',
        { actor, runId: planRunId },
        async () => {
          requireHuman(auth, credentials, 'approve plans');
          const plan = await loadRun(planRunId, credentials);
          await authorize(runApprovePermission, plan, credentials);
          const environment = config.environments[plan.environment];
          if (!environment) {
            throw new ConflictError(
              `environment ${plan.environment} is no longer configured`,
            );
          }
          const approver = await userInfo.getUserInfo(credentials);
          const approved = await store.addApproval(
            planRunId,
            { by: approver.userEntityRef, at: new Date().toISOString() },
            snapshot =>
              enforce(decideApproval(snapshot, approver, environment)),
          );
          return toApiRun(approved);
        },
      );
    },

    async apply(planRunId, { credentials, request: httpRequest }) {
      const actor = actorOf(credentials);
      return audited(
        httpRequest,
        'run-apply',
        'high',
        { actor, planRunId },
        async () => {
          const plan = await loadRun(planRunId, credentials);
          await authorize(runApplyPermission, plan, credentials);
          const target = await targets.getTarget(
            plan.entityRef,
            plan.environment,
            { credentials },
          );
          requireDeployable(target);
          if (target.lockKey !== plan.lockKey) {
            throw new ConflictError(
              `the target's repository or folder changed since plan ${plan.id}; plan again`,
            );
          }
          const snapshot = await store.getPlanSnapshot(plan.id);
          // Break-glass waives only what this apply needs waived (the
          // approvals, the apply branches), and only with the requester's
          // own open session. Everything else below still applies.
          const needed = breakGlassBypassesNeeded(
            snapshot,
            target.environmentConfig,
          );
          const session =
            needed.length > 0
              ? await options.breakGlass.usableSession(target, credentials)
              : undefined;
          const waived = session ? needed : [];
          // Refuse what can be refused without the repository first, then
          // decide everything again inside the transaction that creates the
          // apply, on the plan as it is then.
          enforce(
            decideApplyReadiness(snapshot, target.environmentConfig, waived),
          );
          const head = await headOf(plan.repository, plan.ref);
          const run = await store.createRun(
            await newRun(target, {
              ref: plan.ref,
              commitSha: plan.commitSha,
              requestedBy: actor,
              plan,
              ...(session ? { breakGlass: { session, bypassed: waived } } : {}),
            }),
            {
              verify: current =>
                enforce(
                  decideApply(
                    current,
                    target.environmentConfig,
                    head?.commitSha,
                    waived,
                  ),
                ),
            },
          );
          if (session) {
            await options.breakGlass.auditUse(
              session,
              toApiRun(run),
              waived,
              httpRequest,
            );
          }
          return dispatch(run);
        },
        run => ({
          runId: run.id,
          environment: run.environment,
          commitSha: run.commitSha,
          ...(run.breakGlass
            ? { breakGlassSessionId: run.breakGlass.sessionId }
            : {}),
        }),
      );
    },

    async cancel(runId, { credentials, request: httpRequest }) {
      const actor = actorOf(credentials);
      return audited(
        httpRequest,
        'run-cancel',
        'medium',
        { actor, runId },
        async () => {
          const run = await loadRun(runId, credentials);
          // A service may stop what it started, never anyone else's run.
          if (!sameEntityRef(run.requestedBy, actor)) {
            requireHuman(auth, credentials, "cancel someone else's run");
          }
          await authorize(runCancelPermission, run, credentials);
          enforce(decideCancel(run));
          if (run.status === 'queued' && !run.dispatchHandle) {
            await supervisor.finishWithoutResult(
              run,
              { status: 'cancelled', error: `cancelled by ${actor}` },
              actor,
            );
          } else {
            await store.requestCancel(run.id, actor);
            if (run.dispatchHandle) {
              await supervisor.cancelRunner(run.dispatchHandle);
            }
          }
          const deadline = Date.now() + CANCEL_WAIT_MS;
          let latest = (await store.getRun(runId))!;
          while (
            !TERMINAL_RUN_STATUSES.includes(latest.status) &&
            Date.now() < deadline
          ) {
            await sleep(200);
            latest = (await store.getRun(runId))!;
          }
          return toApiRun(latest);
        },
      );
    },

    async releaseLock(runId, reason, { credentials, request: httpRequest }) {
      const actor = actorOf(credentials);
      return audited(
        httpRequest,
        'lock-force-release',
        'critical',
        { actor, runId, reason },
        async () => {
          requireHuman(auth, credentials, 'force-release a lock');
          const run = await loadRun(runId, credentials);
          await authorize(lockReleasePermission, run, credentials);
          if ((await store.lockHolder(run.lockKey)) !== run.id) {
            throw new ConflictError(`run ${run.id} holds no lock`);
          }
          // Ending the run is what frees its lock; a runner that still
          // answers is told to stop, one that does not is left to die.
          if (run.dispatchHandle) {
            await supervisor
              .cancelRunner(run.dispatchHandle)
              .catch(() => undefined);
          }
          await store.addHistory(run.id, actor, 'lock-force-released', {
            reason,
          });
          await supervisor.finishWithoutResult(
            run,
            {
              status: 'failed',
              error: `the lock was force-released by ${actor}: ${reason}`,
            },
            actor,
          );
          // A run that had already ended but still held its lock (a crash
          // between the two) is freed too.
          await store.releaseOrphanLocks();
          return toApiRun((await store.getRun(runId))!);
        },
      );
    },

    async getRun(runId, { credentials }) {
      return toApiRun(await loadRun(runId, credentials));
    },

    async listRuns(query, { credentials }) {
      const records = await listReadable({
        permissions,
        credentials,
        limit: query.limit ?? 50,
        readPage: page => store.listRuns({ ...query, ...page }),
      });
      return records.map(toApiRun);
    },

    async getLogs(runId, after, { credentials }) {
      const run = await loadRun(runId, credentials);
      const logs = await store.getLogs(runId, after, MAX_LOG_PAGE);
      const next = logs.length > 0 ? logs[logs.length - 1].seq : after;
      return {
        lines: logs.map(l => l.line),
        next,
        complete:
          TERMINAL_RUN_STATUSES.includes(run.status) && next >= run.logCount,
      };
    },

    async getHistory(runId, { credentials }) {
      await loadRun(runId, credentials);
      return store.listHistory(runId);
    },

    async followLogs(runId, after, { credentials, signal }) {
      const started = await loadRun(runId, credentials);
      if (
        TERMINAL_RUN_STATUSES.includes(started.status) &&
        after >= started.logCount
      ) {
        return undefined;
      }
      /**
       * Waits for new output: output ingested on this replica wakes the
       * stream at once; the timeout picks up output ingested by another.
       */
      const nextUpdate = async () => {
        const wake = AbortSignal.any([
          signal,
          AbortSignal.timeout(FOLLOW_POLL_MS),
        ]);
        try {
          for await (const [id] of on(supervisor.updates, 'output', {
            signal: wake,
          })) {
            if (id === runId) {
              return;
            }
          }
        } catch {
          // Woken by the timeout, or the client went away.
        }
      };
      return (async function* follow() {
        let cursor = after;
        while (!signal.aborted) {
          // Read the run before its logs: if it had ended, the logs are complete.
          const run = (await store.getRun(runId))!;
          const logs = await store.getLogs(runId, cursor, FOLLOW_PAGE);
          for (const log of logs) {
            yield log;
            cursor = log.seq;
          }
          if (logs.length === FOLLOW_PAGE) {
            continue;
          }
          if (
            TERMINAL_RUN_STATUSES.includes(run.status) &&
            cursor >= run.logCount
          ) {
            yield { status: run.status };
            return;
          }
          await nextUpdate();
        }
      })();
    },
  };
}
