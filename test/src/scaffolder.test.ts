import { fixtureGit } from '@sealed-runner/demo';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BackendProcess,
  createIsolatedRoot,
  GateClient,
  IsolatedRoot,
  signIn,
} from './index';

jest.setTimeout(300_000);

const TEMPLATE = 'template:default/sealed-runner-new-service-deployment';

/** The scaffolder's HTTP API as the signed-in engineer. */
async function scaffolder(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const response = await fetch(`${baseUrl}/api/scaffolder${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body ? { 'Content-Type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: await response.json() };
}

async function waitForTask(
  baseUrl: string,
  token: string,
  taskId: string,
  timeoutMs = 240_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await scaffolder(
      baseUrl,
      token,
      'GET',
      `/v2/tasks/${taskId}`,
    );
    if (['completed', 'failed', 'cancelled'].includes(body.status)) {
      return body;
    }
    if (Date.now() > deadline) {
      throw new Error(`task ${taskId} is still ${body.status}`);
    }
    await new Promise(r => setTimeout(r, 500));
  }
}

async function taskLog(
  baseUrl: string,
  token: string,
  taskId: string,
): Promise<string[]> {
  const { body } = await scaffolder(
    baseUrl,
    token,
    'GET',
    `/v2/tasks/${taskId}/events`,
  );
  return body
    .filter((e: any) => e.type === 'log')
    .map((e: any) => e.body.message as string);
}

/** The files of a branch of a bare repository. */
async function filesOn(repoUrl: string, branch: string): Promise<string[]> {
  const work = await mkdtemp(join(tmpdir(), 'sealed-runner-e2e-ls-'));
  try {
    return fixtureGit(
      work,
      '--git-dir',
      repoUrl.replace('file://', ''),
      'ls-tree',
      '-r',
      '--name-only',
      branch,
    )
      .split('\n')
      .filter(Boolean);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

describe('the example template in the real scaffolder', () => {
  let root: IsolatedRoot;
  let backend: BackendProcess;
  let token: string;
  let erin: GateClient;

  beforeAll(async () => {
    root = await createIsolatedRoot();
    backend = await BackendProcess.start({ root });
    token = await signIn(backend.baseUrl, 'guest');
    erin = new GateClient(backend.baseUrl, token);
    await erin.waitForTargets('component:default/payments');
  });

  afterAll(async () => {
    await backend?.stop();
    await root?.cleanup();
  });

  const values = (name: string) => ({
    name,
    owner: 'group:default/payments-team',
    replicas: 2,
    moduleVersion: 'v1.1.0',
    repoUrl: root.demo.infrastructureLiveUrl,
  });

  it('renders a vetted module, publishes a review branch, registers the entity and plans dev', async () => {
    const created = await scaffolder(
      backend.baseUrl,
      token,
      'POST',
      '/v2/tasks',
      {
        templateRef: TEMPLATE,
        values: values('checkout'),
      },
    );
    expect(created.status).toBe(201);
    const task = await waitForTask(backend.baseUrl, token, created.body.id);
    const log = await taskLog(backend.baseUrl, token, created.body.id);
    if (task.status !== 'completed') {
      throw new Error(`the task ${task.status}:\n${log.join('\n')}`);
    }

    // The branch holds exactly the rendered deployment and the entity.
    expect(
      await filesOn(root.demo.infrastructureLiveUrl, 'new-service/checkout'),
    ).toEqual(
      expect.arrayContaining([
        'catalog/checkout.yaml',
        'live/dev/checkout/main.tf.json',
      ]),
    );

    // The plan really ran through the gate, as Erin, on the review branch.
    const runs = await erin.request(
      'GET',
      '/runs?entityRef=component:default/checkout',
    );
    expect(runs.body.items).toHaveLength(1);
    const [plan] = runs.body.items;
    expect(plan).toMatchObject({
      operation: 'plan',
      environment: 'dev',
      status: 'succeeded',
      ref: 'new-service/checkout',
      requestedBy: 'user:default/erin',
      plan: { add: 1, change: 0, destroy: 0 },
    });
    expect(log.join('\n')).toContain(
      'Plan: 1 to add, 0 to change, 0 to destroy.',
    );
  });

  it('dry-runs without triggering a run or pushing a branch', async () => {
    const { status, body } = await scaffolder(
      backend.baseUrl,
      token,
      'POST',
      '/v2/dry-run',
      {
        template: await (
          await fetch(
            `${backend.baseUrl}/api/catalog/entities/by-name/template/default/sealed-runner-new-service-deployment`,
            {
              headers: { Authorization: `Bearer ${token}` },
            },
          )
        ).json(),
        values: values('dryrun'),
        directoryContents: [],
      },
    );
    expect(status).toBe(200);
    expect(body.steps.map((s: any) => s.id)).toContain('plan');
    const runs = await erin.request(
      'GET',
      '/runs?entityRef=component:default/dryrun',
    );
    expect(runs.status === 404 || runs.body.items.length === 0).toBe(true);
    expect(
      await filesOn(
        root.demo.infrastructureLiveUrl,
        'new-service/dryrun',
      ).catch(() => []),
    ).toEqual([]);
  });
});
