import { BackstageCredentials } from '@backstage/backend-plugin-api';
import {
  BreakGlassBypass,
  BreakGlassSession,
  ListBreakGlassQuery,
  OpenBreakGlassRequest,
  Run,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { RequestOptions } from '../RunService/types';

/**
 * Break-glass sessions: a holder of `sealed-runner.breakglass` opens a
 * time-limited session on one target, with a reason, and while it is open
 * may apply a plan without its approvals or from a branch that is not an
 * apply branch. Nothing else is bypassed. Every step is audited at
 * `critical` severity.
 */
export interface BreakGlassService {
  /** Opens a session for the caller (a user holding `sealed-runner.breakglass` on the target). */
  open(
    request: OpenBreakGlassRequest,
    options: RequestOptions,
  ): Promise<BreakGlassSession>;
  /** Sessions on targets the caller may read, newest first. */
  list(
    query: ListBreakGlassQuery,
    options: RequestOptions,
  ): Promise<BreakGlassSession[]>;
  /** Closes an open session: its opener, or another holder of the permission on its target. */
  close(
    sessionId: string,
    note: string | undefined,
    options: RequestOptions,
  ): Promise<BreakGlassSession>;
  /** Marks sessions whose time ran out as expired and audits each (the scheduler task). */
  expireSessions(): Promise<number>;
  /**
   * The session the caller may use on a target now: open, not expired,
   * opened by the caller, who must still hold `sealed-runner.breakglass`
   * there. Undefined if there is none.
   */
  usableSession(
    target: { entityRef: string; environment: string },
    credentials: BackstageCredentials,
  ): Promise<BreakGlassSession | undefined>;
  /** Audits a run that used a session to bypass `bypassed` (critical). */
  auditUse(
    session: BreakGlassSession,
    run: Run,
    bypassed: BreakGlassBypass[],
    request: RequestOptions['request'],
  ): Promise<void>;
}
