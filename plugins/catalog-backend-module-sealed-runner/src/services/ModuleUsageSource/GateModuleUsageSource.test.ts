import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import {
  createServer,
  IncomingMessage,
  Server,
  ServerResponse,
} from 'node:http';
import { AddressInfo } from 'node:net';
import { GateModuleUsageSource } from './GateModuleUsageSource';

const USAGE = {
  environment: 'prod',
  runId: '5f0c7a1e-0000-4000-8000-000000000001',
  commitSha: 'a'.repeat(40),
  source:
    'git::https://github.com/acme/service-catalog.git//modules/web-service',
  version: 'v1.1.0',
  moduleRefs: ['component:default/web-service-module'],
};

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A local stand-in for the gate's HTTP API. */
async function startGate(handler: Handler) {
  const requests: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}/api/sealed-runner`;
  const source = GateModuleUsageSource.create({
    discovery: mockServices.discovery.mock({
      getBaseUrl: async pluginId => {
        expect(pluginId).toBe('sealed-runner');
        return baseUrl;
      },
    }),
    auth: mockServices.auth({ pluginId: 'catalog' }),
    timeoutMs: 500,
  });
  return { server, requests, source, baseUrl };
}

const json =
  (status: number, body: unknown): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };

describe('GateModuleUsageSource', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise(resolve => server?.close(resolve));
    server = undefined;
  });

  it('asks GET /modules for the entity with the catalog plugin service token', async () => {
    const gate = await startGate(json(200, { items: [USAGE] }));
    server = gate.server;
    await expect(
      gate.source.listModuleUsage('component:default/payments'),
    ).resolves.toEqual([USAGE]);
    expect(gate.requests).toHaveLength(1);
    const [req] = gate.requests;
    expect(req.method).toBe('GET');
    expect(req.url).toBe(
      '/api/sealed-runner/modules?entityRef=component%3Adefault%2Fpayments',
    );
    expect(req.headers.authorization).toBe(
      mockCredentials.service.header({
        onBehalfOf: mockCredentials.service('plugin:catalog'),
        targetPluginId: 'sealed-runner',
      }),
    );
  });

  it('encodes a hostile entity ref into one query parameter', async () => {
    const gate = await startGate(json(200, { items: [] }));
    server = gate.server;
    await gate.source.listModuleUsage('component:default/a&entityRef=x#y');
    expect(gate.requests[0].url).toBe(
      '/api/sealed-runner/modules?entityRef=component%3Adefault%2Fa%26entityRef%3Dx%23y',
    );
  });

  it('answers no usage when the gate does not know the entity', async () => {
    const gate = await startGate(
      json(404, {
        error: { name: 'NotFoundError', message: 'entity not found' },
      }),
    );
    server = gate.server;
    await expect(
      gate.source.listModuleUsage('component:default/new-service'),
    ).resolves.toEqual([]);
  });

  it.each([
    [500, /Request failed with 500/],
    [401, /Request failed with 401/],
    [403, /Request failed with 403/],
    [503, /Request failed with 503/],
  ])('rejects on %i', async (status, message) => {
    const gate = await startGate(
      json(status, {
        error: { name: 'Error', message: 'no' },
        response: { statusCode: status },
      }),
    );
    server = gate.server;
    await expect(
      gate.source.listModuleUsage('component:default/payments'),
    ).rejects.toThrow(message);
  });

  it.each<[string, Handler, RegExp]>([
    ['malformed JSON', (_req, res) => res.end('{"items": ['), /malformed JSON/],
    ['a body without items', json(200, { targets: [] }), /unexpected body/],
    ['null', json(200, null), /unexpected body/],
    [
      'items without moduleRefs',
      json(200, { items: [{ ...USAGE, moduleRefs: undefined }] }),
      /unexpected body/,
    ],
    [
      'moduleRefs that are not strings',
      json(200, { items: [{ ...USAGE, moduleRefs: [{ ref: 'x' }] }] }),
      /unexpected body/,
    ],
  ])('rejects %s', async (_, handler, message) => {
    const gate = await startGate(handler);
    server = gate.server;
    await expect(
      gate.source.listModuleUsage('component:default/payments'),
    ).rejects.toThrow(message);
  });

  it('does not follow a redirect with its token', async () => {
    const gate = await startGate((_req, res) => {
      res.writeHead(302, { Location: 'http://127.0.0.1:1/steal' });
      res.end();
    });
    server = gate.server;
    await expect(
      gate.source.listModuleUsage('component:default/payments'),
    ).rejects.toThrow();
    expect(gate.requests).toHaveLength(1);
  });

  it('gives up on a gate that does not answer', async () => {
    const gate = await startGate(() => {
      // never answers
    });
    server = gate.server;
    await expect(
      gate.source.listModuleUsage('component:default/payments'),
    ).rejects.toThrow(/timeout|aborted/i);
  });
});
