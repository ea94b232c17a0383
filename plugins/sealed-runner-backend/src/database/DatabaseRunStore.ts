import { DatabaseService } from '@backstage/backend-plugin-api';
import { ConflictError, NotFoundError } from '@backstage/errors';
import { JsonObject } from '@backstage/types';
import {
  Approval,
  entityRefKey,
  RunStatus,
  sameEntityRef,
  TERMINAL_RUN_STATUSES,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { Knex } from 'knex';
import {
  DEFAULT_LOG_LIMITS,
  limitLogLines,
  LogLimits,
} from '../decisions/logLimits';
import { migratedClient } from './migrations';
import { openTargetKey } from './DatabaseBreakGlassStore';
import {
  NewRun,
  PlanSnapshot,
  RunDetachedError,
  RunFilter,
  RunHistoryEntry,
  RunOutcome,
  RunRecord,
  RunStore,
} from './RunStore';

const ACTIVE: RunStatus[] = ['queued', 'running'];
const TERMINAL = [...TERMINAL_RUN_STATUSES];
/** SQLite allows 999 bound variables per statement in older builds. */
const INSERT_CHUNK = 200;

interface RunRow {
  id: string;
  entity_ref: string;
  environment: string;
  repository: string;
  path: string;
  lock_key: string;
  operation: string;
  status: string;
  phase: string | null;
  ref: string;
  commit_sha: string;
  requested_by: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  plan_run_id: string | null;
  superseded_by: string | null;
  plan_add: number | null;
  plan_change: number | null;
  plan_destroy: number | null;
  changes: string | null;
  plan_sha256: string | null;
  module_sources: string | null;
  error: string | null;
  job: string;
  dispatch_handle: string | null;
  dispatch_cursor: string | null;
  attached_by: string | null;
  heartbeat_at: string | null;
  log_count: number;
  log_bytes: number | string;
  log_truncated: boolean | number;
  cancel_requested_by: string | null;
  break_glass: string | null;
}

function now(): string {
  return new Date().toISOString();
}

function optional<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}

function toRecord(
  row: RunRow,
  approvals: Approval[],
  applyRunId?: string,
): RunRecord {
  const hasPlan =
    row.plan_add !== null &&
    row.plan_change !== null &&
    row.plan_destroy !== null;
  return {
    id: row.id,
    entityRef: row.entity_ref,
    environment: row.environment,
    operation: row.operation as RunRecord['operation'],
    status: row.status as RunStatus,
    ref: row.ref,
    commitSha: row.commit_sha,
    requestedBy: row.requested_by,
    createdAt: row.created_at,
    startedAt: optional(row.started_at),
    finishedAt: optional(row.finished_at),
    planRunId: optional(row.plan_run_id),
    plan: hasPlan
      ? {
          add: row.plan_add!,
          change: row.plan_change!,
          destroy: row.plan_destroy!,
        }
      : undefined,
    changes: row.changes ? JSON.parse(row.changes) : undefined,
    approvals,
    error: optional(row.error),
    supersededBy: optional(row.superseded_by),
    applyRunId,
    repository: row.repository,
    path: row.path,
    lockKey: row.lock_key,
    phase: optional(row.phase),
    planSha256: optional(row.plan_sha256),
    moduleSources: row.module_sources
      ? JSON.parse(row.module_sources)
      : undefined,
    job: JSON.parse(row.job),
    dispatchHandle: row.dispatch_handle
      ? JSON.parse(row.dispatch_handle)
      : undefined,
    dispatchCursor: optional(row.dispatch_cursor),
    attachedBy: optional(row.attached_by),
    heartbeatAt: optional(row.heartbeat_at),
    logCount: Number(row.log_count),
    cancelRequestedBy: optional(row.cancel_requested_by),
    breakGlass: row.break_glass ? JSON.parse(row.break_glass) : undefined,
  };
}

/** The knex implementation of {@link RunStore}, for SQLite and PostgreSQL. */
export class DatabaseRunStore implements RunStore {
  static async create(options: {
    database: DatabaseService;
    /** How much log one run keeps; the rest is cut with one marker line. */
    logLimits?: LogLimits;
  }): Promise<DatabaseRunStore> {
    return new DatabaseRunStore(
      await migratedClient(options.database),
      options.logLimits ?? DEFAULT_LOG_LIMITS,
    );
  }

  private constructor(
    private readonly knex: Knex,
    private readonly logLimits: LogLimits,
  ) {}

  /** Loads runs with their approvals and the apply each plan led to. */
  private async hydrate(
    db: Knex | Knex.Transaction,
    rows: RunRow[],
  ): Promise<RunRecord[]> {
    if (rows.length === 0) {
      return [];
    }
    const ids = rows.map(r => r.id);
    const approvals = await db('run_approvals')
      .whereIn('run_id', ids)
      .orderBy('approved_at', 'asc');
    const applies = await db('runs')
      .select('id', 'plan_run_id')
      .whereIn('plan_run_id', ids)
      .orderBy('created_at', 'asc');
    const applyByPlan = new Map<string, string>();
    for (const apply of applies) {
      applyByPlan.set(apply.plan_run_id, apply.id);
    }
    return rows.map(row =>
      toRecord(
        row,
        approvals
          .filter(a => a.run_id === row.id)
          .map(a => ({ by: a.approved_by, at: a.approved_at })),
        applyByPlan.get(row.id),
      ),
    );
  }

  private async history(
    db: Knex | Knex.Transaction,
    runId: string,
    actor: string,
    action: string,
    detail?: JsonObject,
  ) {
    await db('run_history').insert({
      run_id: runId,
      at: now(),
      actor,
      action,
      detail: detail ? JSON.stringify(detail) : null,
    });
  }

  /**
   * Reads a plan inside a transaction, locking its row on PostgreSQL so an
   * approval, an apply and a superseding plan cannot interleave.
   */
  private async snapshot(
    tx: Knex.Transaction,
    planRunId: string,
  ): Promise<PlanSnapshot> {
    const query = tx<RunRow>('runs').where({ id: planRunId });
    const row = await (tx.client.config.client === 'pg'
      ? query.forUpdate()
      : query
    ).first();
    if (!row) {
      throw new NotFoundError(`run ${planRunId} does not exist`);
    }
    const [plan] = await this.hydrate(tx, [row]);
    const applyRows = await tx<RunRow>('runs')
      .where({ plan_run_id: planRunId })
      .orderBy('created_at', 'desc');
    return {
      plan,
      approvals: plan.approvals,
      applyRuns: await this.hydrate(tx, applyRows),
    };
  }

  async createRun(
    run: NewRun,
    options: { verify?: (snapshot: PlanSnapshot) => void } = {},
  ): Promise<RunRecord> {
    await this.knex.transaction(async tx => {
      if (run.planRunId && options.verify) {
        options.verify(await this.snapshot(tx, run.planRunId));
      }
      if (run.breakGlass) {
        await this.verifyBreakGlass(tx, run);
      }
      await tx('runs').insert({
        id: run.id,
        entity_ref: run.entityRef,
        environment: run.environment,
        repository: run.repository,
        path: run.path,
        lock_key: run.lockKey,
        operation: run.operation,
        status: 'queued',
        ref: run.ref,
        commit_sha: run.commitSha,
        requested_by: run.requestedBy,
        created_at: run.createdAt,
        plan_run_id: run.planRunId ?? null,
        job: JSON.stringify(run.job),
        break_glass: run.breakGlass
          ? JSON.stringify({
              sessionId: run.breakGlass.sessionId,
              openedBy: run.breakGlass.openedBy,
              reason: run.breakGlass.reason,
            })
          : null,
      });
      const locked = await tx('target_locks')
        .insert({
          lock_key: run.lockKey,
          run_id: run.id,
          acquired_at: run.createdAt,
        })
        .onConflict('lock_key')
        .ignore()
        .returning('lock_key');
      if (locked.length === 0) {
        // Throwing rolls back the run row: the target belongs to another run.
        const holder = await tx('target_locks')
          .where({ lock_key: run.lockKey })
          .first();
        throw new ConflictError(
          holder
            ? `target is locked by run ${holder.run_id}`
            : 'target was locked by a run that just ended; retry',
        );
      }
      if (run.operation === 'plan') {
        // A new plan voids every older plan of the target, and with it
        // their approvals.
        const older = await tx('runs')
          .select('id')
          .where({ lock_key: run.lockKey, operation: 'plan' })
          .whereNot({ id: run.id })
          .whereNull('superseded_by');
        for (const { id } of older) {
          await tx('runs').where({ id }).update({ superseded_by: run.id });
          await this.history(tx, id, run.requestedBy, 'superseded', {
            by: run.id,
          });
        }
      }
      await this.history(tx, run.id, run.requestedBy, 'requested', {
        operation: run.operation,
        ref: run.ref,
        commitSha: run.commitSha,
        ...(run.planRunId ? { planRunId: run.planRunId } : {}),
      });
      if (run.breakGlass) {
        await tx('break_glass_uses').insert({
          session_id: run.breakGlass.sessionId,
          run_id: run.id,
          operation: run.operation,
          at: run.createdAt,
          bypassed: JSON.stringify(run.breakGlass.bypassed),
        });
        await this.history(tx, run.id, run.requestedBy, 'break-glass-used', {
          sessionId: run.breakGlass.sessionId,
          bypassed: run.breakGlass.bypassed,
        });
      }
    });
    return (await this.getRun(run.id))!;
  }

  /**
   * A run may use a break-glass session only while it is open, on its own
   * target, and only if the requester opened it. Read with the session row
   * locked on PostgreSQL, so a close cannot slip in before the run exists.
   */
  private async verifyBreakGlass(tx: Knex.Transaction, run: NewRun) {
    const { sessionId } = run.breakGlass!;
    const query = tx('break_glass_sessions').where({ id: sessionId });
    const session = await (tx.client.config.client === 'pg'
      ? query.forUpdate()
      : query
    ).first();
    const at = new Date().toISOString();
    if (
      !session ||
      session.closed_at !== null ||
      session.expires_at <= at ||
      session.open_target !== openTargetKey(run.entityRef, run.environment) ||
      !sameEntityRef(session.opened_by, run.requestedBy)
    ) {
      throw new ConflictError(
        `break-glass session ${sessionId} is no longer open for ${run.requestedBy} on ${run.entityRef} in ${run.environment}`,
      );
    }
  }

  async addApproval(
    planRunId: string,
    approval: Approval,
    verify: (snapshot: PlanSnapshot) => void,
  ): Promise<RunRecord> {
    await this.knex.transaction(async tx => {
      const snapshot = await this.snapshot(tx, planRunId);
      verify(snapshot);
      if (snapshot.approvals.some(a => a.by === approval.by)) {
        return;
      }
      await tx('run_approvals').insert({
        run_id: planRunId,
        approved_by: approval.by,
        approved_at: approval.at,
      });
      await this.history(tx, planRunId, approval.by, 'approved');
    });
    return (await this.getRun(planRunId))!;
  }

  async getPlanSnapshot(planRunId: string): Promise<PlanSnapshot> {
    return this.knex.transaction(tx => this.snapshot(tx, planRunId));
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const row = await this.knex<RunRow>('runs').where({ id }).first();
    return row ? (await this.hydrate(this.knex, [row]))[0] : undefined;
  }

  async listRuns(filter: RunFilter): Promise<RunRecord[]> {
    const query = this.knex<RunRow>('runs')
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(filter.limit)
      .offset(filter.offset ?? 0);
    // Entity refs compare case-insensitively in Backstage.
    if (filter.entityRef)
      query.whereRaw('LOWER(entity_ref) = ?', [entityRefKey(filter.entityRef)]);
    if (filter.environment) query.where('environment', filter.environment);
    if (filter.status) query.where('status', filter.status);
    if (filter.operation) query.where('operation', filter.operation);
    return this.hydrate(this.knex, await query);
  }

  async latestRun(
    entityRef: string,
    environment: string,
  ): Promise<RunRecord | undefined> {
    const [run] = await this.listRuns({ entityRef, environment, limit: 1 });
    return run;
  }

  async lockHolder(lockKey: string): Promise<string | undefined> {
    const row = await this.knex('target_locks')
      .where({ lock_key: lockKey })
      .first();
    return row?.run_id;
  }

  async markRunning(
    id: string,
    handle: JsonObject,
    instanceId: string,
  ): Promise<boolean> {
    const at = now();
    const updated = await this.knex('runs')
      .where({ id, status: 'queued' })
      .update({
        status: 'running',
        started_at: at,
        dispatch_handle: JSON.stringify(handle),
        attached_by: instanceId,
        heartbeat_at: at,
      });
    if (updated > 0) {
      // The handle (pid, paths, task ARN) is an operator detail, not history.
      await this.history(this.knex, id, 'sealed-runner', 'started', {
        runner: String(handle.type ?? 'unknown'),
      });
    }
    return updated > 0;
  }

  async appendOutput(
    id: string,
    output: { lines: string[]; cursor: string; phase?: string },
    instanceId: string,
  ): Promise<void> {
    await this.knex.transaction(async tx => {
      const query = tx<RunRow>('runs').where({ id, attached_by: instanceId });
      const row = await (tx.client.config.client === 'pg'
        ? query.forUpdate()
        : query
      ).first();
      if (!row) {
        throw new RunDetachedError(
          `run ${id} is supervised by another replica`,
        );
      }
      const { kept, tally } = limitLogLines(
        {
          lines: Number(row.log_count),
          bytes: Number(row.log_bytes),
          truncated: Boolean(row.log_truncated),
        },
        output.lines,
        this.logLimits,
      );
      const first = Number(row.log_count) + 1;
      const rows = kept.map((line, i) => ({
        run_id: id,
        seq: first + i,
        line,
      }));
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        await tx('run_logs').insert(rows.slice(i, i + INSERT_CHUNK));
      }
      await tx('runs')
        .where({ id })
        .update({
          log_count: tally.lines,
          log_bytes: tally.bytes,
          log_truncated: tally.truncated,
          dispatch_cursor: output.cursor,
          heartbeat_at: now(),
          ...(output.phase ? { phase: output.phase } : {}),
        });
    });
  }

  async heartbeat(id: string, instanceId: string): Promise<boolean> {
    const updated = await this.knex('runs')
      .where({ id, attached_by: instanceId })
      .whereIn('status', ACTIVE)
      .update({ heartbeat_at: now() });
    return updated > 0;
  }

  async claimStaleRun(
    id: string,
    instanceId: string,
    staleBefore: string,
  ): Promise<boolean> {
    const updated = await this.knex('runs')
      .where({ id, status: 'running' })
      .where(q =>
        q.whereNull('heartbeat_at').orWhere('heartbeat_at', '<', staleBefore),
      )
      .update({ attached_by: instanceId, heartbeat_at: now() });
    if (updated > 0) {
      await this.history(this.knex, id, 'sealed-runner', 'reattached', {
        instanceId,
      });
    }
    return updated > 0;
  }

  async finishRun(
    id: string,
    outcome: RunOutcome,
    actor: string,
  ): Promise<RunRecord | undefined> {
    const finished = await this.knex.transaction(async tx => {
      const updated = await tx('runs')
        .where({ id })
        .whereIn('status', ACTIVE)
        .update({
          status: outcome.status,
          finished_at: now(),
          error: outcome.error ?? null,
          plan_add: outcome.plan?.add ?? null,
          plan_change: outcome.plan?.change ?? null,
          plan_destroy: outcome.plan?.destroy ?? null,
          changes: outcome.changes ? JSON.stringify(outcome.changes) : null,
          plan_sha256: outcome.planSha256 ?? null,
          module_sources: outcome.moduleSources
            ? JSON.stringify(outcome.moduleSources)
            : null,
        });
      if (updated === 0) {
        return false;
      }
      // Every way a run ends passes through here: the lock goes with it.
      await tx('target_locks').where({ run_id: id }).delete();
      await this.history(tx, id, actor, 'finished', {
        status: outcome.status,
        ...(outcome.error ? { error: outcome.error } : {}),
      });
      return true;
    });
    return finished ? this.getRun(id) : undefined;
  }

  async requestCancel(id: string, actor: string): Promise<void> {
    const updated = await this.knex('runs')
      .where({ id })
      .whereIn('status', ACTIVE)
      .update({ cancel_requested_by: actor });
    if (updated > 0) {
      await this.history(this.knex, id, actor, 'cancel-requested');
    }
  }

  async listRunsToReconcile(
    staleBefore: string,
    queuedBefore: string,
  ): Promise<RunRecord[]> {
    const rows = await this.knex<RunRow>('runs')
      .where(q =>
        q
          .where(r =>
            r
              .where('status', 'running')
              .where(h =>
                h
                  .whereNull('heartbeat_at')
                  .orWhere('heartbeat_at', '<', staleBefore),
              ),
          )
          .orWhere(r =>
            r.where('status', 'queued').where('created_at', '<', queuedBefore),
          ),
      )
      .orderBy('created_at', 'asc')
      .limit(100);
    return this.hydrate(this.knex, rows);
  }

  async releaseOrphanLocks(): Promise<number> {
    return this.knex('target_locks')
      .whereIn(
        'run_id',
        this.knex('runs').select('id').whereIn('status', TERMINAL),
      )
      .delete();
  }

  async getLogs(id: string, after: number, limit: number) {
    const rows = await this.knex('run_logs')
      .select('seq', 'line')
      .where({ run_id: id })
      .where('seq', '>', after)
      .orderBy('seq', 'asc')
      .limit(limit);
    return rows.map(r => ({ seq: Number(r.seq), line: r.line as string }));
  }

  async addHistory(
    id: string,
    actor: string,
    action: string,
    detail?: JsonObject,
  ) {
    await this.history(this.knex, id, actor, action, detail);
  }

  async listHistory(id: string): Promise<RunHistoryEntry[]> {
    const rows = await this.knex('run_history')
      .where({ run_id: id })
      .orderBy('id', 'asc');
    return rows.map(r => ({
      at: r.at,
      actor: r.actor,
      action: r.action,
      ...(r.detail ? { detail: JSON.parse(r.detail) } : {}),
    }));
  }
}
