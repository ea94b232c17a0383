import { BreakGlassSession } from '@sealed-runner/backstage-plugin-sealed-runner-common';

/** What opening a session records; the rest of a session comes later. */
export type NewBreakGlassSession = Pick<
  BreakGlassSession,
  | 'id'
  | 'entityRef'
  | 'environment'
  | 'openedBy'
  | 'reason'
  | 'ticket'
  | 'openedAt'
  | 'expiresAt'
>;

export interface BreakGlassFilter {
  entityRef?: string;
  environment?: string;
  /** Only active (true) or only closed and expired (false) sessions, as of `now`. */
  active?: boolean;
  now: string;
  limit: number;
  offset?: number;
}

/**
 * Persistence of break-glass sessions and the runs that used them. At most
 * one session per target is open at a time — a unique key, so the rule
 * holds across backend replicas. A run's use of a session is recorded by
 * {@link RunStore.createRun}, in the transaction that creates the run.
 *
 * Sessions whose `expiresAt` has passed are expired whether or not
 * {@link BreakGlassStore.expireSessions} has marked them yet: every read
 * reports them closed with `closeReason: 'expired'`.
 */
export interface BreakGlassStore {
  /**
   * Opens a session. Marks the target's sessions whose time ran out as
   * expired first (returned in `expired`, to be audited), then throws
   * ConflictError naming the open session if the target still has one.
   */
  openSession(
    session: NewBreakGlassSession,
  ): Promise<{ session: BreakGlassSession; expired: BreakGlassSession[] }>;
  getSession(id: string): Promise<BreakGlassSession | undefined>;
  /** Newest first. */
  listSessions(filter: BreakGlassFilter): Promise<BreakGlassSession[]>;
  /** The target's session that is open and not expired at `now`, if any. */
  activeSession(
    entityRef: string,
    environment: string,
    now: string,
  ): Promise<BreakGlassSession | undefined>;
  /**
   * Closes an open session. Throws NotFoundError for an unknown id and
   * ConflictError if it is already closed or has expired at `now`.
   */
  closeSession(
    id: string,
    closed: { by: string; note?: string; now: string },
  ): Promise<BreakGlassSession>;
  /** Marks every session expired at `now`; returns those this call marked. */
  expireSessions(now: string): Promise<BreakGlassSession[]>;
}
