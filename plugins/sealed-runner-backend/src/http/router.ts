import { AuthService, HttpAuthService } from '@backstage/backend-plugin-api';
import { CustomErrorBase, InputError } from '@backstage/errors';
import {
  breakGlassIdParamSchema,
  closeBreakGlassRequestSchema,
  createRunRequestSchema,
  emptyBodySchema,
  listBreakGlassQuerySchema,
  listRunsQuerySchema,
  listTargetOwnersQuerySchema,
  listTargetsQuerySchema,
  logsQuerySchema,
  openBreakGlassRequestSchema,
  releaseLockRequestSchema,
  runIdParamSchema,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import express from 'express';
import Router from 'express-promise-router';
import { z } from 'zod';
import { BreakGlassService } from '../services/BreakGlassService/types';
import { actorOf } from '../services/principals';
import { RunService } from '../services/RunService/types';
import {
  DEFAULT_STREAM_LIMITS,
  LogStreamLimiter,
  LogStreamLimits,
} from './LogStreamLimiter';
import { sendLogEvents } from './sendLogEvents';

/** Request bodies are a few fields: anything larger is refused unread. */
const MAX_BODY = '16kb';
/** When a caller over the stream limit should try again. */
const RETRY_AFTER_SECONDS = 10;

/** 429: the caller holds (or the backend serves) as many streams as allowed. */
class TooManyRequestsError extends CustomErrorBase {
  name = 'TooManyRequestsError' as const;
  statusCode = 429;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    throw new InputError(`Invalid ${what}: ${z.prettifyError(result.error)}`);
  }
  return result.data;
}

/** The HTTP API of the gate: parse strictly, authenticate, call the service. */
export async function createRouter(options: {
  httpAuth: HttpAuthService;
  auth: AuthService;
  runService: RunService;
  breakGlassService: BreakGlassService;
  logStreams?: LogStreamLimits;
}): Promise<express.Router> {
  const { httpAuth, auth, runService, breakGlassService } = options;
  const limits = options.logStreams ?? DEFAULT_STREAM_LIMITS;
  const streamLimiter = new LogStreamLimiter(limits);
  const router = Router();
  // Malformed, oversized or mis-encoded bodies are bad input like any other.
  const parseJson = express.json({ limit: MAX_BODY });
  router.use((req, res, next) =>
    parseJson(req, res, error =>
      next(
        error
          ? new InputError(`Invalid request body: ${(error as Error).message}`)
          : undefined,
      ),
    ),
  );

  /** Who is calling (users and service principals), and the request for audit events. */
  const caller = async (req: express.Request) => ({
    credentials: await httpAuth.credentials(req, {
      allow: ['user', 'service'],
    }),
    request: req,
  });

  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/targets', async (req, res) => {
    const { entityRef } = parse(listTargetsQuerySchema, req.query, 'query');
    const items = await runService.listTargets(entityRef, await caller(req));
    res.json({ items });
  });

  router.get('/modules', async (req, res) => {
    const { entityRef } = parse(listTargetsQuerySchema, req.query, 'query');
    const items = await runService.listModuleUsage(
      entityRef,
      await caller(req),
    );
    res.json({ items });
  });

  router.get('/target-owners', async (req, res) => {
    const { repository } = parse(
      listTargetOwnersQuerySchema,
      req.query,
      'query',
    );
    res.json({
      items: await runService.listTargetOwners(repository, await caller(req)),
    });
  });

  router.post('/runs', async (req, res) => {
    const request = parse(createRunRequestSchema, req.body, 'request body');
    const run = await runService.requestPlan(request, await caller(req));
    res.status(202).json({ run });
  });

  router.get('/runs', async (req, res) => {
    const query = parse(listRunsQuerySchema, req.query, 'query');
    const items = await runService.listRuns(query, await caller(req));
    res.json({ items });
  });

  router.get('/runs/:id', async (req, res) => {
    const { id } = parse(runIdParamSchema, req.params, 'run id');
    res.json({ run: await runService.getRun(id, await caller(req)) });
  });

  router.post('/runs/:id/approve', async (req, res) => {
    const { id } = parse(runIdParamSchema, req.params, 'run id');
    parse(emptyBodySchema, req.body, 'request body');
    res.json({ run: await runService.approve(id, await caller(req)) });
  });

  router.post('/runs/:id/apply', async (req, res) => {
    const { id } = parse(runIdParamSchema, req.params, 'run id');
    parse(emptyBodySchema, req.body, 'request body');
    const run = await runService.apply(id, await caller(req));
    res.status(202).json({ run });
  });

  router.post('/runs/:id/cancel', async (req, res) => {
    const { id } = parse(runIdParamSchema, req.params, 'run id');
    parse(emptyBodySchema, req.body, 'request body');
    res.json({ run: await runService.cancel(id, await caller(req)) });
  });

  router.post('/runs/:id/release-lock', async (req, res) => {
    const { id } = parse(runIdParamSchema, req.params, 'run id');
    const { reason } = parse(
      releaseLockRequestSchema,
      req.body,
      'request body',
    );
    res.json({
      run: await runService.releaseLock(id, reason, await caller(req)),
    });
  });

  router.get('/runs/:id/logs', async (req, res) => {
    const { id } = parse(runIdParamSchema, req.params, 'run id');
    const { after } = parse(logsQuerySchema, req.query, 'query');
    res.json(await runService.getLogs(id, after ?? 0, await caller(req)));
  });

  router.get('/runs/:id/history', async (req, res) => {
    const { id } = parse(runIdParamSchema, req.params, 'run id');
    res.json({ items: await runService.getHistory(id, await caller(req)) });
  });

  router.post('/break-glass', async (req, res) => {
    const request = parse(
      openBreakGlassRequestSchema,
      req.body,
      'request body',
    );
    const session = await breakGlassService.open(request, await caller(req));
    res.status(201).json({ session });
  });

  router.get('/break-glass', async (req, res) => {
    const query = parse(listBreakGlassQuerySchema, req.query, 'query');
    res.json({ items: await breakGlassService.list(query, await caller(req)) });
  });

  router.post('/break-glass/:id/close', async (req, res) => {
    const { id } = parse(
      breakGlassIdParamSchema,
      req.params,
      'break-glass session id',
    );
    const { reason } = parse(
      closeBreakGlassRequestSchema,
      req.body,
      'request body',
    );
    res.json({
      session: await breakGlassService.close(id, reason, await caller(req)),
    });
  });

  router.get('/runs/:id/logs/stream', async (req, res) => {
    const { id } = parse(runIdParamSchema, req.params, 'run id');
    const { after } = parse(logsQuerySchema, req.query, 'query');
    const lastEventId = req.header('last-event-id');
    const resumeAt =
      lastEventId !== undefined
        ? parse(logsQuerySchema, { after: lastEventId }, 'Last-Event-ID header')
            .after
        : after;
    const who = await caller(req);
    const slot = streamLimiter.acquire(actorOf(auth, who.credentials));
    if ('refused' in slot) {
      res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      throw new TooManyRequestsError(slot.refused);
    }
    const abort = new AbortController();
    const stop = () => abort.abort();
    req.on('close', stop);
    res.on('close', stop);
    try {
      // Authorisation and 404 happen before the first byte of the stream.
      const stream = await runService.followLogs(id, resumeAt ?? 0, {
        ...who,
        signal: abort.signal,
      });
      if (!stream) {
        // The run ended and the client has every line: 204 tells an
        // EventSource not to reconnect.
        res.status(204).end();
        return;
      }
      res.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      res.flushHeaders();
      await sendLogEvents(res, stream, {
        signal: abort.signal,
        slowClientMs: limits.slowClientSeconds * 1000,
      });
    } finally {
      slot.release();
      abort.abort();
      // Before the headers, an error is the error middleware's to answer.
      if (res.headersSent && !res.writableEnded) {
        res.end();
      }
    }
  });

  return router;
}
