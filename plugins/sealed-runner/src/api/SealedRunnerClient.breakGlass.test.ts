import { ENTITY_REF, makeSession } from '../__testUtils__/fixtures';
import { SealedRunnerClient } from './SealedRunnerClient';

const BASE_URL = 'http://localhost:7007/api/sealed-runner';

function setup(body: unknown, status = 200) {
  const fetch = jest.fn(
    async (_input: RequestInfo | URL, _init?: RequestInit) =>
      new Response(JSON.stringify(body), {
        status,
        headers: { 'content-type': 'application/json' },
      }),
  );
  const client = new SealedRunnerClient({
    discoveryApi: { getBaseUrl: async () => BASE_URL },
    fetchApi: { fetch },
  });
  const request = () => {
    const [url, init = {}] = fetch.mock.calls[0];
    return {
      url: String(url),
      method: init.method,
      body: init.body === undefined ? undefined : JSON.parse(String(init.body)),
    };
  };
  return { client, request };
}

describe('SealedRunnerClient break-glass', () => {
  it('lists sessions with its filters, leaving unset ones out', async () => {
    const sessions = [makeSession()];
    const { client, request } = setup({ items: sessions });
    await expect(
      client.listBreakGlass({
        entityRef: ENTITY_REF,
        environment: undefined,
        active: true,
      }),
    ).resolves.toEqual(sessions);
    expect(request()).toEqual({
      url: `${BASE_URL}/break-glass?entityRef=component%3Adefault%2Fpayments&active=true`,
      method: 'GET',
      body: undefined,
    });
  });

  it('opens a session with POST /break-glass', async () => {
    const session = makeSession();
    const { client, request } = setup({ session }, 201);
    const body = {
      entityRef: ENTITY_REF,
      environment: 'prod',
      reason: 'payments API down, hotfix',
      ticket: 'INC-4711',
      durationMinutes: 30,
    };
    await expect(client.openBreakGlass(body)).resolves.toEqual(session);
    expect(request()).toEqual({
      url: `${BASE_URL}/break-glass`,
      method: 'POST',
      body,
    });
  });

  it('closes a session by its encoded id, with or without a note', async () => {
    const session = makeSession({ closeReason: 'closed' });
    const first = setup({ session });
    await expect(first.client.closeBreakGlass('a/b')).resolves.toEqual(session);
    expect(first.request()).toEqual({
      url: `${BASE_URL}/break-glass/a%2Fb/close`,
      method: 'POST',
      body: {},
    });
    const second = setup({ session });
    await second.client.closeBreakGlass('s-1', 'incident over');
    expect(second.request().body).toEqual({ reason: 'incident over' });
  });

  it('throws the gate refusal', async () => {
    const { client } = setup(
      {
        error: {
          name: 'ConflictError',
          message: 'break-glass session s-1 is already closed',
        },
        request: { method: 'POST', url: '/break-glass/s-1/close' },
        response: { statusCode: 409 },
      },
      409,
    );
    await expect(client.closeBreakGlass('s-1')).rejects.toMatchObject({
      name: 'ResponseError',
      body: { error: { message: 'break-glass session s-1 is already closed' } },
    });
  });
});
