import { DatabaseService } from '@backstage/backend-plugin-api';
import { ConflictError, NotFoundError } from '@backstage/errors';
import {
  BreakGlassBypass,
  BreakGlassSession,
  entityRefKey,
  RunOperation,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { Knex } from 'knex';
import { migratedClient } from './migrations';
import {
  BreakGlassFilter,
  BreakGlassStore,
  NewBreakGlassSession,
} from './BreakGlassStore';

interface SessionRow {
  id: string;
  entity_ref: string;
  environment: string;
  opened_by: string;
  reason: string;
  ticket: string | null;
  opened_at: string;
  expires_at: string;
  closed_at: string | null;
  closed_by: string | null;
  close_reason: string | null;
  close_note: string | null;
  open_target: string | null;
}

interface UseRow {
  session_id: string;
  run_id: string;
  operation: string;
  at: string;
  bypassed: string;
}

/**
 * The key of a target's open session: entity refs compare
 * case-insensitively in Backstage, environment names are lower case.
 */
export function openTargetKey(entityRef: string, environment: string): string {
  return `${entityRefKey(entityRef)}#${environment}`;
}

function isUniqueViolation(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return (
    code === '23505' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    /unique/i.test(message ?? '')
  );
}

/**
 * A session as the API shows it. One whose time ran out is expired even
 * if the expiry task has not marked it yet: it reads exactly as it will
 * once marked.
 */
function toSession(
  row: SessionRow,
  uses: UseRow[],
  now: string,
): BreakGlassSession {
  const session: BreakGlassSession = {
    id: row.id,
    entityRef: row.entity_ref,
    environment: row.environment,
    openedBy: row.opened_by,
    reason: row.reason,
    openedAt: row.opened_at,
    expiresAt: row.expires_at,
    uses: uses.map(use => ({
      runId: use.run_id,
      operation: use.operation as RunOperation,
      at: use.at,
      bypassed: JSON.parse(use.bypassed) as BreakGlassBypass[],
    })),
  };
  if (row.ticket !== null) session.ticket = row.ticket;
  if (row.closed_at !== null) {
    session.closedAt = row.closed_at;
    if (row.closed_by !== null) session.closedBy = row.closed_by;
    session.closeReason = row.close_reason === 'expired' ? 'expired' : 'closed';
    if (row.close_note !== null) session.closeNote = row.close_note;
  } else if (row.expires_at <= now) {
    session.closedAt = row.expires_at;
    session.closeReason = 'expired';
  }
  return session;
}

const now = () => new Date().toISOString();

/** The knex implementation of {@link BreakGlassStore}, for SQLite and PostgreSQL. */
export class DatabaseBreakGlassStore implements BreakGlassStore {
  static async create(options: {
    database: DatabaseService;
  }): Promise<DatabaseBreakGlassStore> {
    return new DatabaseBreakGlassStore(await migratedClient(options.database));
  }

  private constructor(private readonly knex: Knex) {}

  private async hydrate(
    db: Knex | Knex.Transaction,
    rows: SessionRow[],
    at: string,
  ): Promise<BreakGlassSession[]> {
    if (rows.length === 0) {
      return [];
    }
    const uses = await db<UseRow>('break_glass_uses')
      .whereIn(
        'session_id',
        rows.map(r => r.id),
      )
      .orderBy([
        { column: 'at', order: 'asc' },
        { column: 'run_id', order: 'asc' },
      ]);
    return rows.map(row =>
      toSession(
        row,
        uses.filter(u => u.session_id === row.id),
        at,
      ),
    );
  }

  /** Marks sessions expired, one conditional update each, so only one caller marks each. */
  private async markExpired(
    db: Knex | Knex.Transaction,
    candidates: SessionRow[],
  ): Promise<SessionRow[]> {
    const marked: SessionRow[] = [];
    for (const row of candidates) {
      const updated = await db('break_glass_sessions')
        .where({ id: row.id })
        .whereNull('closed_at')
        .update({
          closed_at: row.expires_at,
          close_reason: 'expired',
          open_target: null,
        });
      if (updated > 0) {
        marked.push({
          ...row,
          closed_at: row.expires_at,
          close_reason: 'expired',
          open_target: null,
        });
      }
    }
    return marked;
  }

  async openSession(
    session: NewBreakGlassSession,
  ): Promise<{ session: BreakGlassSession; expired: BreakGlassSession[] }> {
    const key = openTargetKey(session.entityRef, session.environment);
    let expired: SessionRow[] = [];
    try {
      await this.knex.transaction(async tx => {
        expired = await this.markExpired(
          tx,
          await tx<SessionRow>('break_glass_sessions')
            .where({ open_target: key })
            .where('expires_at', '<=', session.openedAt),
        );
        const open = await tx<SessionRow>('break_glass_sessions')
          .where({ open_target: key })
          .first();
        if (open) {
          throw new ConflictError(
            `${session.entityRef} in ${session.environment} already has an open break-glass session (${open.id}, opened by ${open.opened_by} until ${open.expires_at})`,
          );
        }
        await tx('break_glass_sessions').insert({
          id: session.id,
          entity_ref: session.entityRef,
          environment: session.environment,
          opened_by: session.openedBy,
          reason: session.reason,
          ticket: session.ticket ?? null,
          opened_at: session.openedAt,
          expires_at: session.expiresAt,
          open_target: key,
        });
      });
    } catch (error) {
      // Another replica opened one between our read and our insert.
      if (!(error instanceof ConflictError) && isUniqueViolation(error)) {
        throw new ConflictError(
          `${session.entityRef} in ${session.environment} already has an open break-glass session`,
        );
      }
      throw error;
    }
    return {
      session: (await this.getSession(session.id))!,
      expired: await this.hydrate(this.knex, expired, now()),
    };
  }

  async getSession(id: string): Promise<BreakGlassSession | undefined> {
    const row = await this.knex<SessionRow>('break_glass_sessions')
      .where({ id })
      .first();
    return row ? (await this.hydrate(this.knex, [row], now()))[0] : undefined;
  }

  async listSessions(filter: BreakGlassFilter): Promise<BreakGlassSession[]> {
    const query = this.knex<SessionRow>('break_glass_sessions')
      .orderBy([
        { column: 'opened_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(filter.limit)
      .offset(filter.offset ?? 0);
    if (filter.entityRef) {
      query.whereRaw('LOWER(entity_ref) = ?', [entityRefKey(filter.entityRef)]);
    }
    if (filter.environment) query.where('environment', filter.environment);
    if (filter.active === true) {
      query.whereNull('closed_at').where('expires_at', '>', filter.now);
    } else if (filter.active === false) {
      query.where(q =>
        q.whereNotNull('closed_at').orWhere('expires_at', '<=', filter.now),
      );
    }
    return this.hydrate(this.knex, await query, filter.now);
  }

  async activeSession(
    entityRef: string,
    environment: string,
    at: string,
  ): Promise<BreakGlassSession | undefined> {
    const row = await this.knex<SessionRow>('break_glass_sessions')
      .where({ open_target: openTargetKey(entityRef, environment) })
      .whereNull('closed_at')
      .where('expires_at', '>', at)
      .first();
    return row ? (await this.hydrate(this.knex, [row], at))[0] : undefined;
  }

  async closeSession(
    id: string,
    closed: { by: string; note?: string; now: string },
  ): Promise<BreakGlassSession> {
    await this.knex.transaction(async tx => {
      const query = tx<SessionRow>('break_glass_sessions').where({ id });
      const row = await (tx.client.config.client === 'pg'
        ? query.forUpdate()
        : query
      ).first();
      if (!row) {
        throw new NotFoundError(`break-glass session ${id} does not exist`);
      }
      if (row.closed_at !== null) {
        throw new ConflictError(
          `break-glass session ${id} is already ${
            row.close_reason === 'expired' ? 'expired' : 'closed'
          } (at ${row.closed_at})`,
        );
      }
      if (row.expires_at <= closed.now) {
        throw new ConflictError(
          `break-glass session ${id} is already expired (at ${row.expires_at})`,
        );
      }
      await tx('break_glass_sessions')
        .where({ id })
        .update({
          closed_at: closed.now,
          closed_by: closed.by,
          close_reason: 'closed',
          close_note: closed.note ?? null,
          open_target: null,
        });
    });
    return (await this.getSession(id))!;
  }

  async expireSessions(at: string): Promise<BreakGlassSession[]> {
    const candidates = await this.knex<SessionRow>('break_glass_sessions')
      .whereNull('closed_at')
      .where('expires_at', '<=', at)
      .orderBy('expires_at', 'asc')
      .limit(500);
    return this.hydrate(
      this.knex,
      await this.markExpired(this.knex, candidates),
      at,
    );
  }
}
