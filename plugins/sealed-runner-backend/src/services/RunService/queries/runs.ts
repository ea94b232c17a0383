import {
  ListRunsQuery,
  Run,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { RunHistoryEntry } from '../../../database/RunStore';
import { listReadable } from '../../readable';
import { RunContext } from '../context';
import { toApiRun } from '../toApiRun';
import { RequestOptions } from '../types';

export async function getRun(
  ctx: RunContext,
  runId: string,
  { credentials }: RequestOptions,
): Promise<Run> {
  return toApiRun(await ctx.loadRun(runId, credentials));
}

/** Runs matching the query, newest first, of the targets the caller may read. */
export async function listRuns(
  ctx: RunContext,
  query: ListRunsQuery,
  { credentials }: RequestOptions,
): Promise<Run[]> {
  const records = await listReadable({
    permissions: ctx.permissions,
    credentials,
    limit: query.limit ?? 50,
    readPage: page => ctx.store.listRuns({ ...query, ...page }),
  });
  return records.map(toApiRun);
}

export async function getHistory(
  ctx: RunContext,
  runId: string,
  { credentials }: RequestOptions,
): Promise<RunHistoryEntry[]> {
  await ctx.loadRun(runId, credentials);
  return ctx.store.listHistory(runId);
}
