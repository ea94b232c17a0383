import { once } from 'node:events';
import { createServer, Server } from 'node:http';
import { RunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { checkTaskRole, readTaskRoleArn } from './taskRole';

const PLANNER = 'arn:aws:iam::123456789012:role/sealed-runner-prod-planner';
const APPLIER = 'arn:aws:iam::123456789012:role/sealed-runner-prod-applier';
const DEV_APPLIER = 'arn:aws:iam::123456789012:role/sealed-runner-dev-applier';
const config = {
  taskRoles: {
    prod: { plan: PLANNER, apply: APPLIER },
    dev: {
      plan: 'arn:aws:iam::123456789012:role/sealed-runner-dev-planner',
      apply: DEV_APPLIER,
    },
  },
} as unknown as RunnerConfig;

describe('checkTaskRole', () => {
  it.each([
    ['plan', PLANNER],
    ['apply', APPLIER],
  ])(
    "lets a %s job of prod run with prod's own role",
    async (operation, role) => {
      await expect(
        checkTaskRole(
          { operation, environment: 'prod' },
          config,
          {},
          async () => role,
        ),
      ).resolves.toBeUndefined();
    },
  );

  it.each([
    ['a plan job in a task holding the applier role', 'plan', 'prod', APPLIER],
    [
      "an apply job of prod in a task holding dev's applier role",
      'apply',
      'prod',
      DEV_APPLIER,
    ],
    [
      "an apply job of dev in a task holding prod's applier role",
      'apply',
      'dev',
      APPLIER,
    ],
  ])('refuses %s', async (_, operation, environment, held) => {
    await expect(
      checkTaskRole({ operation, environment }, config, {}, async () => held),
    ).resolves.toBe(
      `${
        operation === 'apply' ? 'an' : 'a'
      } ${operation} job of ${environment} runs only with the role ${
        config.taskRoles![environment][operation as 'plan' | 'apply']
      }, but this task holds ${held} (was the task role overridden at RunTask, or the task started for another environment?)`,
    );
  });

  it.each([['stage'], ['constructor'], [undefined], [42]])(
    'refuses a job of an environment it does not serve (%j)',
    async environment => {
      const read = jest.fn();
      await expect(
        checkTaskRole({ operation: 'plan', environment }, config, {}, read),
      ).resolves.toMatch(/^this runner serves only prod, dev, not /);
      expect(read).not.toHaveBeenCalled();
    },
  );

  it('refuses when the role cannot be read', async () => {
    await expect(
      checkTaskRole(
        { operation: 'apply', environment: 'prod' },
        config,
        {},
        async () => {
          throw new Error(
            'no ECS task credentials endpoint in the environment',
          );
        },
      ),
    ).resolves.toMatch(
      /could not read this task's IAM role: no ECS task credentials endpoint/,
    );
  });

  it('checks nothing without taskRoles (the local runner)', async () => {
    const read = jest.fn();
    await expect(
      checkTaskRole(
        { operation: 'apply', environment: 'prod' },
        {} as RunnerConfig,
        {},
        read,
      ),
    ).resolves.toBeUndefined();
    expect(read).not.toHaveBeenCalled();
  });
});

describe('readTaskRoleArn', () => {
  let server: Server;
  let url: string;
  let answer: { status: number; body: unknown };
  let authorization: string | undefined;

  beforeAll(async () => {
    server = createServer((req, res) => {
      authorization = req.headers.authorization;
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${
      (server.address() as { port: number }).port
    }/creds`;
  });
  afterAll(() => server.close());

  it('reads RoleArn from the ECS credentials endpoint, with the authorization token', async () => {
    answer = { status: 200, body: { AccessKeyId: 'x', RoleArn: PLANNER } };
    await expect(
      readTaskRoleArn({
        AWS_CONTAINER_CREDENTIALS_FULL_URI: url,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: 'tok',
      }),
    ).resolves.toBe(PLANNER);
    expect(authorization).toBe('tok');
  });

  it.each([
    [{ status: 500, body: {} }, /answered 500/],
    [{ status: 200, body: { AccessKeyId: 'x' } }, /named no RoleArn/],
    [{ status: 200, body: { RoleArn: 42 } }, /named no RoleArn/],
  ])('fails on %j', async (reply, message) => {
    answer = reply;
    await expect(
      readTaskRoleArn({ AWS_CONTAINER_CREDENTIALS_FULL_URI: url }),
    ).rejects.toThrow(message);
  });

  it('fails without a credentials endpoint', async () => {
    await expect(readTaskRoleArn({})).rejects.toThrow(
      /no ECS task credentials endpoint/,
    );
  });
});
