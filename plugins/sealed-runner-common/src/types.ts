/**
 * What a run does.
 *
 * @public
 */
export type RunOperation = 'plan' | 'apply';

/**
 * Every run status, in lifecycle order.
 *
 * @public
 */
export const RUN_STATUSES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'rejected',
  'cancelled',
] as const;

/**
 * Lifecycle of a run. `rejected` means a check (gate or runner) refused it
 * before Terraform changed anything.
 *
 * @public
 */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** @public */
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'rejected',
  'cancelled',
];

/**
 * Terraform's own plan summary: a replace counts once in `add` and once in
 * `destroy`.
 *
 * @public
 */
export interface PlanSummary {
  add: number;
  change: number;
  destroy: number;
}

/** @public */
export type ResourceAction = 'create' | 'update' | 'delete' | 'read' | 'no-op';

/**
 * One resource change of a plan, as Terraform reports it. Values are never
 * included: plans can contain secrets, and approvers review addresses and
 * actions.
 *
 * @public
 */
export interface ResourceChange {
  address: string;
  actions: ResourceAction[];
}

/** @public */
export interface Approval {
  /** User entity ref of the approver. */
  by: string;
  /** ISO 8601 timestamp. */
  at: string;
}

/**
 * A plan or apply run, as returned by the API.
 *
 * @public
 */
export interface Run {
  id: string;
  entityRef: string;
  environment: string;
  operation: RunOperation;
  status: RunStatus;
  /** Branch name the run was requested for. */
  ref: string;
  /** Full 40-hex commit that was planned or applied. */
  commitSha: string;
  /** Entity ref of the user or service principal that requested the run. */
  requestedBy: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** For an apply: the plan run it applies. */
  planRunId?: string;
  plan?: PlanSummary;
  changes?: ResourceChange[];
  approvals: Approval[];
  error?: string;
  /** For a plan: the newer plan of the same target that made it stale. */
  supersededBy?: string;
  /** For a plan: the apply run that applied (or is applying) it. */
  applyRunId?: string;
  /**
   * For an apply that a break-glass session let through (it bypassed the
   * approvals or the apply branches): the session and why it was opened.
   * Extension beyond the v1 contract.
   */
  breakGlass?: RunBreakGlass;
}

/**
 * The break-glass session an apply used. @public
 */
export interface RunBreakGlass {
  sessionId: string;
  /** User entity ref of the session's opener (who also requested the apply). */
  openedBy: string;
  /** The session's reason. */
  reason: string;
}

/**
 * A deployment target: one entity in one environment.
 *
 * @public
 */
export interface Target {
  entityRef: string;
  environment: string;
  repository: string;
  path: string;
  applyBranches: string[];
  requiredApprovals: number;
  /**
   * User and group entity refs allowed to approve, when the environment
   * restricts approvers.
   */
  approvers?: string[];
  deployable: boolean;
  /** Why the target is not deployable. */
  reason?: string;
  locked: boolean;
  /** The id of the run holding the lock, while `locked` is true. */
  lockedBy?: string;
  lastRun?: Run;
  /**
   * False when the runner runs git and Terraform without its sandbox
   * (`runner.local.sandbox: false`): code in the target can reach what the
   * runner can. Extension beyond the v1 contract.
   */
  sandboxed: boolean;
}

/**
 * A vetted service-catalog module: a source address and its vetted tags.
 *
 * @public
 */
export interface CatalogModule {
  /** `git::<url>//<subdir>` without `?ref=`. */
  source: string;
  versions: string[];
  /**
   * The commit each vetted tag is pinned to, by tag: a tag can be moved, a
   * commit cannot. From the module entity's annotation (`v1.1.0@<commit>`),
   * or recorded by the gate the first time it saw the tag vetted. A tag
   * without a commit here cannot be used.
   */
  commits?: Record<string, string>;
}

/**
 * A module version that a target's newest successful plan used, as the
 * runner reported it, with the catalog module entities that vet it.
 *
 * @public
 */
export interface ModuleUsage {
  environment: string;
  /** The plan run that reported it. */
  runId: string;
  commitSha: string;
  /** Module source without `?ref=`: `git::<repository>//<subdir>`. */
  source: string;
  /** The tag it was pinned to. */
  version: string;
  /** The commit that tag was vetted at, which the runner verified it is. */
  pinnedCommit?: string;
  /** Entity refs of the catalog modules vetting this source at this version. */
  moduleRefs: string[];
}

/**
 * The entity a target (one folder of one repository in one environment)
 * belongs to: the first deployable entity the gate saw declaring it.
 *
 * @public
 */
export interface TargetOwner {
  environment: string;
  path: string;
  entityRef: string;
}

/**
 * A rule of the gate that a break-glass session lets its opener bypass.
 * Nothing else is ever bypassed.
 *
 * @public
 */
export type BreakGlassBypass = 'approvals' | 'apply-branch';

/**
 * One run that a break-glass session let through.
 *
 * @public
 */
export interface BreakGlassUse {
  runId: string;
  operation: RunOperation;
  /** ISO 8601 timestamp. */
  at: string;
  /** The rules the run bypassed. */
  bypassed: BreakGlassBypass[];
}

/**
 * A time-limited break-glass session on one target. It is active while it
 * is not closed and the current time is before `expiresAt`; an expired
 * session is reported closed with `closeReason: 'expired'` and `closedAt`
 * equal to `expiresAt`.
 *
 * @public
 */
export interface BreakGlassSession {
  id: string;
  entityRef: string;
  environment: string;
  /** User entity ref of the holder who opened it; only they may use it. */
  openedBy: string;
  reason: string;
  /** An incident or change ticket reference. */
  ticket?: string;
  openedAt: string;
  expiresAt: string;
  closedAt?: string;
  /** Who closed it (unset when it expired). */
  closedBy?: string;
  closeReason?: 'closed' | 'expired';
  /** What the closer wrote when closing it. */
  closeNote?: string;
  /** Every run that used it, oldest first. */
  uses: BreakGlassUse[];
}

/**
 * Whether a session can be used now: not closed, and not yet expired. Never
 * depends on the expiry task having run.
 *
 * @public
 */
export function isBreakGlassSessionActive(
  session: Pick<BreakGlassSession, 'closedAt' | 'expiresAt'>,
  now: number = Date.now(),
): boolean {
  return session.closedAt === undefined && Date.parse(session.expiresAt) > now;
}
