import { ResponseError } from '@backstage/errors';
import { SealedRunnerHttpClient } from './SealedRunnerHttpClient';

const BASE = 'http://gate.test/api/sealed-runner';

function client(response: () => Response) {
  const transport = jest.fn(async (_url: string, _init: RequestInit) =>
    response(),
  );
  return {
    transport,
    http: new SealedRunnerHttpClient({ baseUrl: async () => BASE, transport }),
  };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });

describe('SealedRunnerHttpClient', () => {
  it('sends each operation to its path, encoding ids and queries', async () => {
    const { http, transport } = client(() => json({ run: { id: 'r' } }));
    await http.approve('a/../b?c');
    await http.requestPlan({
      entityRef: 'component:default/x',
      environment: 'dev',
    });
    const [[approveUrl, approveInit], [planUrl, planInit]] =
      transport.mock.calls;
    expect(approveUrl).toBe(`${BASE}/runs/a%2F..%2Fb%3Fc/approve`);
    expect(approveInit).toMatchObject({ method: 'POST', body: '{}' });
    expect(planUrl).toBe(`${BASE}/runs`);
    expect(JSON.parse(planInit.body as string)).toEqual({
      entityRef: 'component:default/x',
      environment: 'dev',
      operation: 'plan',
    });
  });

  it('leaves unset and empty filters out of a query', async () => {
    const { http, transport } = client(() => json({ items: [] }));
    await http.listRuns({ environment: '', status: 'failed', limit: 5 });
    expect(transport.mock.calls[0][0]).toBe(
      `${BASE}/runs?status=failed&limit=5`,
    );
  });

  it("throws a refusal as ResponseError with the gate's reason", async () => {
    const { http } = client(() =>
      json(
        {
          error: { name: 'ConflictError', message: 'plan p is stale' },
          request: { method: 'POST', url: '/runs/p/apply' },
          response: { statusCode: 409 },
        },
        409,
      ),
    );
    const error = await http.apply('p').catch(e => e);
    expect(error).toBeInstanceOf(ResponseError);
    expect(error.response.status).toBe(409);
    expect(error.body.error.message).toBe('plan p is stale');
  });

  it('names the path of an answer that is not JSON', async () => {
    const { http } = client(() => new Response('<html>', { status: 200 }));
    await expect(http.getRun('r1')).rejects.toThrow(
      'the sealed-runner gate answered /runs/r1 with malformed JSON',
    );
  });
});
