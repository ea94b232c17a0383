import { ResponseError } from '@backstage/errors';
import { RunStatus } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { ENTITY_REF, makeRun, makeTarget } from '../__testUtils__/fixtures';
import { SealedRunnerApi } from './SealedRunnerApi';
import { SealedRunnerClient } from './SealedRunnerClient';

const BASE_URL = 'http://localhost:7007/api/sealed-runner';

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });

/** A `text/event-stream` body that delivers `chunks` one read at a time. */
function eventStream(chunks: string[]): Response {
  const encoder = new TextEncoder();
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) {
        controller.enqueue(encoder.encode(chunks[i++]));
      } else {
        controller.close();
      }
    },
  });
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
  });
}

function setup(response: Response | (() => Response) = json({})) {
  const fetch = jest.fn(
    async (_input: RequestInfo | URL, _init?: RequestInit) =>
      typeof response === 'function' ? response() : response,
  );
  const discoveryApi = { getBaseUrl: jest.fn(async () => BASE_URL) };
  const client = new SealedRunnerClient({ discoveryApi, fetchApi: { fetch } });
  /** The one request the client made. */
  const request = () => {
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init = {}] = fetch.mock.calls[0];
    return {
      url: new URL(String(url)),
      method: init.method,
      headers: init.headers as Record<string, string>,
      body:
        init.body === undefined ? undefined : JSON.parse(init.body as string),
      signal: init.signal,
    };
  };
  return { client, fetch, discoveryApi, request };
}

describe('SealedRunnerClient', () => {
  it('finds the gate through discovery', async () => {
    const { client, discoveryApi } = setup(json({ items: [] }));
    await client.listTargets(ENTITY_REF);
    expect(discoveryApi.getBaseUrl).toHaveBeenCalledWith('sealed-runner');
  });

  it('lists the module versions an entity uses, with their pinned commits', async () => {
    const items = [
      { environment: 'dev', version: 'v1.1.0', pinnedCommit: 'a'.repeat(40) },
    ];
    const { client, fetch } = setup(json({ items }));
    await expect(client.listModuleUsage(ENTITY_REF)).resolves.toEqual(items);
    expect(fetch.mock.calls[0][0]).toBe(
      `${BASE_URL}/modules?entityRef=component%3Adefault%2Fpayments`,
    );
  });

  it('lists the targets of an entity', async () => {
    const targets = [makeTarget()];
    const { client, fetch, request } = setup(json({ items: targets }));
    await expect(client.listTargets(ENTITY_REF)).resolves.toEqual(targets);
    expect(fetch.mock.calls[0][0]).toBe(
      `${BASE_URL}/targets?entityRef=component%3Adefault%2Fpayments`,
    );
    expect(request()).toMatchObject({
      method: 'GET',
      headers: { Accept: 'application/json' },
      body: undefined,
    });
  });

  it('requests a plan with POST /runs', async () => {
    const run = makeRun({ status: 'queued' });
    const { client, request } = setup(json({ run }, 201));
    await expect(
      client.requestPlan({
        entityRef: ENTITY_REF,
        environment: 'dev',
        ref: 'feature/x',
      }),
    ).resolves.toEqual(run);
    const { url, method, headers, body } = request();
    expect(`${url.origin}${url.pathname}`).toBe(`${BASE_URL}/runs`);
    expect(url.search).toBe('');
    expect(method).toBe('POST');
    expect(headers).toEqual({
      Accept: 'application/json',
      'Content-Type': 'application/json',
    });
    expect(body).toEqual({
      entityRef: ENTITY_REF,
      environment: 'dev',
      ref: 'feature/x',
      operation: 'plan',
    });
  });

  it('only ever requests plans, whatever the caller passes', async () => {
    const { client, request } = setup(json({ run: makeRun() }));
    const sneaky = {
      entityRef: ENTITY_REF,
      environment: 'prod',
      operation: 'apply',
    };
    await client.requestPlan(
      sneaky as Parameters<SealedRunnerApi['requestPlan']>[0],
    );
    expect(request().body.operation).toBe('plan');
  });

  it.each([
    ['approve', 'approve'],
    ['apply', 'apply'],
    ['cancel', 'cancel'],
  ] as const)(
    '%s posts to the run with an encoded id',
    async (method, action) => {
      const run = makeRun({ id: 'run/1#x' });
      const { client, fetch, request } = setup(json({ run }));
      await expect(client[method]('run/1#x')).resolves.toEqual(run);
      expect(fetch.mock.calls[0][0]).toBe(
        `${BASE_URL}/runs/run%2F1%23x/${action}`,
      );
      expect(request()).toMatchObject({ method: 'POST', body: {} });
    },
  );

  it('reads a run with an encoded id', async () => {
    const run = makeRun();
    const { client, fetch } = setup(json({ run }));
    await expect(client.getRun('../targets?x')).resolves.toEqual(run);
    expect(fetch.mock.calls[0][0]).toBe(`${BASE_URL}/runs/..%2Ftargets%3Fx`);
  });

  it('lists runs with the given filters in the query string', async () => {
    const runs = [makeRun()];
    const { client, request } = setup(json({ items: runs }));
    await expect(
      client.listRuns({
        entityRef: ENTITY_REF,
        environment: 'prod & dev',
        status: 'failed',
        limit: 200,
      }),
    ).resolves.toEqual(runs);
    const { url, method } = request();
    expect(method).toBe('GET');
    expect(url.pathname).toBe('/api/sealed-runner/runs');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      entityRef: ENTITY_REF,
      environment: 'prod & dev',
      status: 'failed',
      limit: '200',
    });
    expect(url.search).toContain('environment=prod+%26+dev');
  });

  it('leaves unset and empty filters out of the query string', async () => {
    const { client, fetch } = setup(json({ items: [] }));
    await client.listRuns({ environment: '', status: undefined });
    expect(fetch.mock.calls[0][0]).toBe(`${BASE_URL}/runs`);
  });

  it.each([
    [undefined, '0'],
    [42, '42'],
  ])('reads the log after %s', async (after, expected) => {
    const page = { lines: ['a'], next: 43, complete: false };
    const { client, fetch } = setup(json(page));
    await expect(client.getLogs('run-1', after)).resolves.toEqual(page);
    expect(fetch.mock.calls[0][0]).toBe(
      `${BASE_URL}/runs/run-1/logs?after=${expected}`,
    );
  });

  it("throws a ResponseError with the gate's reason on refusal", async () => {
    const { client } = setup(
      new Response(
        JSON.stringify({
          error: {
            name: 'ConflictError',
            message: 'branch main moved since the plan',
          },
          request: {
            method: 'POST',
            url: '/api/sealed-runner/runs/run-1/apply',
          },
          response: { statusCode: 409 },
        }),
        {
          status: 409,
          statusText: 'Conflict',
          headers: { 'content-type': 'application/json' },
        },
      ),
    );
    const error = await client.apply('run-1').catch(e => e);
    expect(error).toBeInstanceOf(ResponseError);
    expect(error.statusCode).toBe(409);
    expect(error.cause).toMatchObject({
      name: 'ConflictError',
      message: 'branch main moved since the plan',
    });
  });

  it('throws a ResponseError for a non-JSON failure, keeping the body text', async () => {
    const { client } = setup(
      new Response('upstream unavailable', {
        status: 502,
        statusText: 'Bad Gateway',
      }),
    );
    const error = await client.listTargets(ENTITY_REF).catch(e => e);
    expect(error).toBeInstanceOf(ResponseError);
    expect(error.statusCode).toBe(502);
    expect(error.cause.message).toContain('upstream unavailable');
  });

  describe('streamLogs', () => {
    const handlers = () => ({
      onLine: jest.fn(),
      onComplete: jest.fn<void, [RunStatus]>(),
    });

    it('asks for the event stream after the given position, with the abort signal', async () => {
      const { client, request } = setup(
        eventStream(['event: complete\ndata: {"status":"succeeded"}\n\n']),
      );
      const signal = new AbortController().signal;
      await client.streamLogs('run 1', { after: 5, signal, ...handlers() });
      const { url, method, headers, signal: passed } = request();
      expect(url.toString()).toBe(
        `${BASE_URL}/runs/run%201/logs/stream?after=5`,
      );
      expect(method).toBe('GET');
      expect(headers).toEqual({ Accept: 'text/event-stream' });
      expect(passed).toBe(signal);
    });

    it('passes on lines with their positions, then the final status', async () => {
      const { client } = setup(
        eventStream([
          ': keepalive\n\n',
          'id: 6\ndata: "Initializing the backend..."\n\n',
          'data: "Plan: 2 to add"\n\n', // no id: the position after the previous line
          'id: 10\ndata: "line with \\"quotes\\""\n\n',
          'event: complete\ndata: {"status":"succeeded"}\n\n',
        ]),
      );
      const h = handlers();
      await expect(
        client.streamLogs('run-1', {
          after: 5,
          signal: new AbortController().signal,
          ...h,
        }),
      ).resolves.toBeUndefined();
      expect(h.onLine.mock.calls).toEqual([
        ['Initializing the backend...', 6],
        ['Plan: 2 to add', 7],
        ['line with "quotes"', 10],
      ]);
      expect(h.onComplete).toHaveBeenCalledTimes(1);
      expect(h.onComplete).toHaveBeenCalledWith('succeeded');
    });

    it('stops at complete, ignoring anything after it', async () => {
      const { client } = setup(
        eventStream([
          'event: complete\ndata: {"status":"failed"}\n\n',
          'id: 1\ndata: "late"\n\n',
        ]),
      );
      const h = handlers();
      await client.streamLogs('run-1', {
        after: 0,
        signal: new AbortController().signal,
        ...h,
      });
      expect(h.onLine).not.toHaveBeenCalled();
      expect(h.onComplete).toHaveBeenCalledWith('failed');
    });

    it('reports an unknown final status as failed', async () => {
      const { client } = setup(
        eventStream(['event: complete\ndata: {"status":"exploded"}\n\n']),
      );
      const h = handlers();
      await client.streamLogs('run-1', {
        after: 0,
        signal: new AbortController().signal,
        ...h,
      });
      expect(h.onComplete).toHaveBeenCalledWith('failed');
    });

    it('resolves without calling the handlers when there is nothing left (204)', async () => {
      const { client } = setup(new Response(null, { status: 204 }));
      const h = handlers();
      await expect(
        client.streamLogs('run-1', {
          after: 99,
          signal: new AbortController().signal,
          ...h,
        }),
      ).resolves.toBeUndefined();
      expect(h.onLine).not.toHaveBeenCalled();
      expect(h.onComplete).not.toHaveBeenCalled();
    });

    it('rejects when the stream ends before the run did', async () => {
      const { client } = setup(eventStream(['id: 1\ndata: "a"\n\n']));
      const h = handlers();
      await expect(
        client.streamLogs('run-1', {
          after: 0,
          signal: new AbortController().signal,
          ...h,
        }),
      ).rejects.toThrow('the log stream ended before the run did');
      expect(h.onLine).toHaveBeenCalledWith('a', 1);
      expect(h.onComplete).not.toHaveBeenCalled();
    });

    it('rejects when the stream cannot be opened', async () => {
      const { client } = setup(
        json(
          {
            error: { name: 'NotAllowedError', message: 'no' },
            request: {},
            response: { statusCode: 403 },
          },
          403,
        ),
      );
      await expect(
        client.streamLogs('run-1', {
          after: 0,
          signal: new AbortController().signal,
          ...handlers(),
        }),
      ).rejects.toBeInstanceOf(ResponseError);
    });

    it('rejects when the stream breaks', async () => {
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (!sent) {
            sent = true;
            controller.enqueue(
              new TextEncoder().encode('id: 1\ndata: "a"\n\n'),
            );
          } else {
            controller.error(new TypeError('network error'));
          }
        },
      });
      const { client } = setup(new Response(body, { status: 200 }));
      await expect(
        client.streamLogs('run-1', {
          after: 0,
          signal: new AbortController().signal,
          ...handlers(),
        }),
      ).rejects.toThrow('network error');
    });

    it('resolves quietly when aborted while streaming', async () => {
      const abort = new AbortController();
      let step = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (step++ === 0) {
            controller.enqueue(
              new TextEncoder().encode('id: 1\ndata: "a"\n\n'),
            );
          } else {
            // What fetch does to the body when its signal aborts.
            abort.abort();
            controller.error(
              new DOMException('The operation was aborted.', 'AbortError'),
            );
          }
        },
      });
      const { client } = setup(new Response(body, { status: 200 }));
      const h = handlers();
      await expect(
        client.streamLogs('run-1', { after: 0, signal: abort.signal, ...h }),
      ).resolves.toBeUndefined();
      expect(h.onLine).toHaveBeenCalledWith('a', 1);
      expect(h.onComplete).not.toHaveBeenCalled();
    });
  });
});
