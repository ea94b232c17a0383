import { once } from 'node:events';
import { createServer, Server } from 'node:http';
import { RunnerConfig } from './config';
import { checkTaskRole, readTaskRoleArn } from './taskRole';

const PLANNER = 'arn:aws:iam::123456789012:role/sealed-runner-planner';
const APPLIER = 'arn:aws:iam::123456789012:role/sealed-runner-applier';
const config = { taskRoles: { plan: PLANNER, apply: APPLIER } } as RunnerConfig;

describe('checkTaskRole', () => {
  it.each([
    ['plan', PLANNER],
    ['apply', APPLIER],
  ])('lets a %s job run with its own role', async (operation, role) => {
    await expect(checkTaskRole(operation, config, {}, async () => role)).resolves.toBeUndefined();
  });

  it('refuses a plan job in a task that holds the applier role', async () => {
    await expect(checkTaskRole('plan', config, {}, async () => APPLIER)).resolves.toBe(
      `a plan job runs only with the role ${PLANNER}, but this task holds ${APPLIER} (was the task role overridden at RunTask?)`,
    );
  });

  it('refuses when the role cannot be read', async () => {
    await expect(
      checkTaskRole('apply', config, {}, async () => {
        throw new Error('no ECS task credentials endpoint in the environment');
      }),
    ).resolves.toMatch(/could not read this task's IAM role: no ECS task credentials endpoint/);
  });

  it('checks nothing without taskRoles (the local runner)', async () => {
    const read = jest.fn();
    await expect(checkTaskRole('apply', {} as RunnerConfig, {}, read)).resolves.toBeUndefined();
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
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/creds`;
  });
  afterAll(() => server.close());

  it('reads RoleArn from the ECS credentials endpoint, with the authorization token', async () => {
    answer = { status: 200, body: { AccessKeyId: 'x', RoleArn: PLANNER } };
    await expect(
      readTaskRoleArn({ AWS_CONTAINER_CREDENTIALS_FULL_URI: url, AWS_CONTAINER_AUTHORIZATION_TOKEN: 'tok' }),
    ).resolves.toBe(PLANNER);
    expect(authorization).toBe('tok');
  });

  it.each([
    [{ status: 500, body: {} }, /answered 500/],
    [{ status: 200, body: { AccessKeyId: 'x' } }, /named no RoleArn/],
    [{ status: 200, body: { RoleArn: 42 } }, /named no RoleArn/],
  ])('fails on %j', async (reply, message) => {
    answer = reply;
    await expect(readTaskRoleArn({ AWS_CONTAINER_CREDENTIALS_FULL_URI: url })).rejects.toThrow(message);
  });

  it('fails without a credentials endpoint', async () => {
    await expect(readTaskRoleArn({})).rejects.toThrow(/no ECS task credentials endpoint/);
  });
});
