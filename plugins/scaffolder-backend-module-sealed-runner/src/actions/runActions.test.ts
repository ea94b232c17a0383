import {
  CheckpointStore,
  mockActionContext,
} from '../__testUtils__/actionContext';
import {
  APPLY_RUN_ID,
  aRun,
  aTarget,
  COMMIT,
  fakeGate,
  FakeGate,
  gateRefusal,
  logPages,
  PLAN_RUN_ID,
} from '../__testUtils__/fakeGate';
import { createApplyAction, createPlanAction } from './runActions';

const ENTITY = 'component:default/payments';
const runUrl = (id: string) => `http://app/sealed-runner/runs/${id}`;

/**
 * Runs a step to its end on jest's fake clock (log polls, 404 retries and
 * timeouts are real waits of seconds) and returns the error it failed with.
 */
async function finish(step: Promise<void>): Promise<Error | undefined> {
  let settled = false;
  let failure: Error | undefined;
  step.then(
    () => {
      settled = true;
    },
    error => {
      failure = error;
      settled = true;
    },
  );
  for (let i = 0; !settled && i < 20_000; i++) {
    await jest.advanceTimersByTimeAsync(250);
  }
  if (!settled) {
    throw new Error('the step did not finish within 5000 s of fake time');
  }
  return failure;
}

/** Nothing was asked of the gate. */
function expectNoGateCalls(gate: FakeGate) {
  for (const call of Object.values(gate)) {
    expect(call).not.toHaveBeenCalled();
  }
}

beforeEach(() => {
  // Fake only the clock: the step's waits, not the promise machinery.
  jest.useFakeTimers({
    doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'],
  });
});

afterEach(() => {
  jest.useRealTimers();
});

describe('sealed-runner:plan', () => {
  function setup(
    input: Record<string, unknown> = {},
    options: {
      isDryRun?: boolean;
      checkpoints?: CheckpointStore;
      signal?: AbortSignal;
      gate?: FakeGate;
    } = {},
  ) {
    const gate = options.gate ?? fakeGate();
    const action = createPlanAction({ gate, appBaseUrl: 'http://app' });
    const mock = mockActionContext(action, {
      input: {
        entityRef: ENTITY,
        environment: 'dev',
        ref: 'new-service/payments',
        ...input,
      } as any,
      isDryRun: options.isDryRun,
      checkpoints: options.checkpoints,
      signal: options.signal,
    });
    return {
      ...mock,
      gate,
      action,
      run: () => finish(action.handler(mock.ctx)),
    };
  }

  it("requests the plan as the template's user, streams its log and outputs the run", async () => {
    const { gate, run, credentials, infoLines, outputs } = setup();
    const log = [
      'Initializing the backend...',
      'Planning...',
      'Plan: 1 to add, 0 to change, 0 to destroy.',
    ];
    for (const page of logPages(
      { lines: log.slice(0, 2) },
      { lines: [] },
      { lines: log.slice(2), complete: true },
    )) {
      gate.getLogs.mockResolvedValueOnce(page);
    }

    expect(await run()).toBeUndefined();

    expect(gate.requestPlan).toHaveBeenCalledTimes(1);
    expect(gate.requestPlan).toHaveBeenCalledWith(
      { entityRef: ENTITY, environment: 'dev', ref: 'new-service/payments' },
      { credentials },
    );
    expect(gate.getLogs.mock.calls).toEqual([
      [PLAN_RUN_ID, 0, { credentials }],
      [PLAN_RUN_ID, 2, { credentials }],
      [PLAN_RUN_ID, 2, { credentials }],
    ]);
    expect(infoLines()).toEqual([
      `plan ${PLAN_RUN_ID}: ${runUrl(PLAN_RUN_ID)}`,
      ...log,
    ]);
    expect(outputs()).toEqual({
      runId: PLAN_RUN_ID,
      runUrl: runUrl(PLAN_RUN_ID),
      status: 'succeeded',
      commitSha: COMMIT,
      plan: { add: 1, change: 0, destroy: 0 },
    });
  });

  it("plans the repository's default branch when no ref is given", async () => {
    const { gate, run } = setup({ ref: undefined });
    expect(await run()).toBeUndefined();
    expect(gate.requestPlan.mock.calls[0][0]).toEqual({
      entityRef: ENTITY,
      environment: 'dev',
    });
  });

  it("fails the step with the gate's reason when the gate refuses", async () => {
    const { gate, run, outputs } = setup();
    gate.requestPlan.mockRejectedValue(
      await gateRefusal(409, 'ConflictError', 'target is locked by run X'),
    );

    const error = await run();

    expect(error?.message).toBe(
      'the gate refused the plan: target is locked by run X',
    );
    expect(gate.requestPlan).toHaveBeenCalledTimes(1);
    expect(outputs()).toEqual({});
  });

  describe('while the catalog ingests a just-registered entity', () => {
    const notFound = () =>
      gateRefusal(404, 'NotFoundError', `entity ${ENTITY} not found`);

    it('retries the 404 and plans once the entity is known', async () => {
      const { gate, run, outputs } = setup({ entityWaitSeconds: 10 });
      gate.requestPlan
        .mockRejectedValueOnce(await notFound())
        .mockRejectedValueOnce(await notFound())
        .mockResolvedValueOnce(aRun({ status: 'queued' }));

      expect(await run()).toBeUndefined();
      expect(gate.requestPlan).toHaveBeenCalledTimes(3);
      expect(outputs().status).toBe('succeeded');
    });

    // Attempts every 2 s; none that would start after the bound.
    it.each([
      [0, 1],
      [5, 3],
      [60, 31],
    ])(
      'gives up within entityWaitSeconds %i (after %i attempts) with the gate reason',
      async (seconds, attempts) => {
        const { gate, run } = setup(
          seconds === 60 ? {} : { entityWaitSeconds: seconds },
        );
        gate.requestPlan.mockRejectedValue(await notFound());
        const started = Date.now();

        const error = await run();

        expect(error?.message).toBe(
          `the gate refused the plan: entity ${ENTITY} not found`,
        );
        expect(gate.requestPlan).toHaveBeenCalledTimes(attempts);
        expect(Date.now() - started).toBeLessThanOrEqual(seconds * 1000 + 250);
      },
    );

    it('does not retry when the task is cancelled', async () => {
      const { gate, run } = setup(
        { entityWaitSeconds: 60 },
        { signal: AbortSignal.abort() },
      );
      gate.requestPlan.mockRejectedValue(await notFound());
      expect((await run())?.message).toMatch(/not found/);
      expect(gate.requestPlan).toHaveBeenCalledTimes(1);
    });

    it('does not retry other refusals', async () => {
      const { gate, run } = setup({ entityWaitSeconds: 60 });
      gate.requestPlan.mockRejectedValue(
        await gateRefusal(403, 'NotAllowedError', 'not allowed to plan'),
      );
      expect((await run())?.message).toBe(
        'the gate refused the plan: not allowed to plan',
      );
      expect(gate.requestPlan).toHaveBeenCalledTimes(1);
    });
  });

  it.each([
    [
      'failed',
      'terraform exited with 1',
      `plan ${PLAN_RUN_ID} failed: terraform exited with 1`,
    ],
    [
      'rejected',
      'module source "git::https://evil.example.com/x.git" is not vetted',
      `plan ${PLAN_RUN_ID} rejected: module source "git::https://evil.example.com/x.git" is not vetted`,
    ],
    ['cancelled', undefined, `plan ${PLAN_RUN_ID} cancelled`],
  ] as const)(
    'fails the step when the run ends %s, with the run error, and still outputs the run',
    async (status, runError, message) => {
      const { gate, run, outputs } = setup();
      gate.getRun.mockResolvedValue(
        aRun({ status, ...(runError ? { error: runError } : {}) }),
      );

      expect((await run())?.message).toBe(message);
      expect(outputs()).toMatchObject({
        runId: PLAN_RUN_ID,
        runUrl: runUrl(PLAN_RUN_ID),
        status,
      });
    },
  );

  it('fails the step with a link to the run when it is still running at the timeout', async () => {
    const { gate, run, outputs } = setup({ timeoutSeconds: 10 });
    gate.getLogs.mockResolvedValue({ lines: [], next: 0, complete: false });
    gate.getRun.mockResolvedValue(aRun({ status: 'running' }));
    const started = Date.now();

    const error = await run();

    expect(error?.message).toBe(
      `plan ${PLAN_RUN_ID} is still running after 10 s; follow it at ${runUrl(
        PLAN_RUN_ID,
      )}`,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
    expect(Date.now() - started).toBeLessThan(12_000);
    expect(outputs()).toMatchObject({
      runId: PLAN_RUN_ID,
      runUrl: runUrl(PLAN_RUN_ID),
      status: 'running',
    });
  });

  it.each([
    ['an environment with capitals', { environment: 'Prod' }, /^environment: /],
    [
      'an environment with a trailing dash',
      { environment: 'dev-' },
      /^environment: /,
    ],
    [
      'an environment with a control character',
      { environment: 'dev\n' },
      /^environment: /,
    ],
    ['a ref that reads as an option', { ref: '--upload-pack=x' }, /^ref: /],
    ['a ref with ..', { ref: 'a..b' }, /^ref: /],
    ['a full ref name', { ref: 'refs/heads/main' }, /^ref: /],
  ])('refuses %s before calling the gate', async (_, input, message) => {
    for (const isDryRun of [false, true]) {
      const { gate, run } = setup(input, { isDryRun });
      expect((await run())?.message).toMatch(message);
      expectNoGateCalls(gate);
    }
  });

  describe('dry run', () => {
    it('never requests a plan; checks the target as the user and outputs only the status', async () => {
      const { gate, run, outputs, credentials, action } = setup(
        {},
        { isDryRun: true },
      );
      expect(action.supportsDryRun).toBe(true);

      expect(await run()).toBeUndefined();

      expect(gate.requestPlan).not.toHaveBeenCalled();
      expect(gate.apply).not.toHaveBeenCalled();
      expect(gate.listTargets).toHaveBeenCalledWith(ENTITY, { credentials });
      expect(outputs()).toEqual({ status: 'dry-run' });
    });

    it('fails when the target is not deployable, with the reason', async () => {
      const { gate, run } = setup({}, { isDryRun: true });
      gate.listTargets.mockResolvedValue([
        aTarget({ environment: 'prod' }),
        aTarget({
          deployable: false,
          reason: 'repository is not on the allowlist',
        }),
      ]);
      expect((await run())?.message).toBe(
        `${ENTITY} is not deployable to dev: repository is not on the allowlist`,
      );
      expect(gate.requestPlan).not.toHaveBeenCalled();
    });

    it('tolerates an entity the catalog does not know yet (registered by an earlier step)', async () => {
      const { gate, run, outputs } = setup({}, { isDryRun: true });
      gate.listTargets.mockRejectedValue(
        await gateRefusal(404, 'NotFoundError', `entity ${ENTITY} not found`),
      );
      expect(await run()).toBeUndefined();
      expect(outputs()).toEqual({ status: 'dry-run' });
    });

    it("fails with the gate's reason on other refusals", async () => {
      const { gate, run } = setup({}, { isDryRun: true });
      gate.listTargets.mockRejectedValue(
        await gateRefusal(
          403,
          'NotAllowedError',
          'not allowed to read targets',
        ),
      );
      expect((await run())?.message).toBe(
        'the gate refused the plan: not allowed to read targets',
      );
    });
  });

  describe('when the scaffolder retries the step', () => {
    it('follows the plan it already requested instead of requesting another', async () => {
      const checkpoints = new CheckpointStore();
      const gate = fakeGate();
      gate.getLogs.mockResolvedValue({ lines: [], next: 0, complete: false });
      gate.getRun.mockResolvedValue(aRun({ status: 'running' }));
      expect(
        (await setup({ timeoutSeconds: 10 }, { gate, checkpoints }).run())
          ?.message,
      ).toMatch(/still running/);

      gate.getLogs.mockResolvedValue({ lines: [], next: 0, complete: true });
      gate.getRun.mockResolvedValue(aRun({ status: 'succeeded' }));
      const retry = setup({ timeoutSeconds: 10 }, { gate, checkpoints });
      expect(await retry.run()).toBeUndefined();

      expect(gate.requestPlan).toHaveBeenCalledTimes(1);
      expect(gate.getRun).toHaveBeenLastCalledWith(
        PLAN_RUN_ID,
        expect.anything(),
      );
      expect(retry.outputs()).toMatchObject({
        runId: PLAN_RUN_ID,
        status: 'succeeded',
      });
    });

    it('requests a new plan for another ref', async () => {
      const checkpoints = new CheckpointStore();
      const gate = fakeGate();
      await setup({}, { gate, checkpoints }).run();
      await setup({ ref: 'new-service/other' }, { gate, checkpoints }).run();
      expect(gate.requestPlan).toHaveBeenCalledTimes(2);
    });
  });
});

describe('sealed-runner:apply', () => {
  function setup(
    input: Record<string, unknown> = {},
    options: {
      isDryRun?: boolean;
      checkpoints?: CheckpointStore;
      gate?: FakeGate;
    } = {},
  ) {
    const gate = options.gate ?? fakeGate();
    const action = createApplyAction({ gate, appBaseUrl: 'http://app' });
    const mock = mockActionContext(action, {
      input: { planRunId: PLAN_RUN_ID, ...input } as any,
      isDryRun: options.isDryRun,
      checkpoints: options.checkpoints,
    });
    return {
      ...mock,
      gate,
      action,
      run: () => finish(action.handler(mock.ctx)),
    };
  }

  it("applies the plan as the template's user, streams the apply log and outputs the apply run", async () => {
    const { gate, run, credentials, infoLines, outputs } = setup();
    const log = [
      'Applying...',
      'Apply complete! Resources: 1 added, 0 changed, 0 destroyed.',
    ];
    for (const page of logPages(
      { lines: log.slice(0, 1) },
      { lines: log.slice(1), complete: true },
    )) {
      gate.getLogs.mockResolvedValueOnce(page);
    }

    expect(await run()).toBeUndefined();

    expect(gate.apply).toHaveBeenCalledTimes(1);
    expect(gate.apply).toHaveBeenCalledWith(PLAN_RUN_ID, { credentials });
    expect(gate.getLogs.mock.calls.map(call => call.slice(0, 2))).toEqual([
      [APPLY_RUN_ID, 0],
      [APPLY_RUN_ID, 1],
    ]);
    expect(infoLines()).toEqual([
      `apply ${APPLY_RUN_ID}: ${runUrl(APPLY_RUN_ID)}`,
      ...log,
    ]);
    expect(outputs()).toEqual({
      runId: APPLY_RUN_ID,
      runUrl: runUrl(APPLY_RUN_ID),
      status: 'succeeded',
      commitSha: COMMIT,
    });
  });

  it("fails the step with the gate's reason when the gate refuses, without retrying", async () => {
    const { gate, run } = setup();
    gate.apply.mockRejectedValue(
      await gateRefusal(
        409,
        'ConflictError',
        'plan needs 1 approval(s), has 0',
      ),
    );
    expect((await run())?.message).toBe(
      'the gate refused the apply: plan needs 1 approval(s), has 0',
    );
    expect(gate.apply).toHaveBeenCalledTimes(1);
  });

  it('fails the step when the apply fails, with the run error', async () => {
    const { gate, run, outputs } = setup();
    gate.getRun.mockResolvedValue(
      aRun({
        id: APPLY_RUN_ID,
        operation: 'apply',
        status: 'failed',
        error: 'Error: creating S3 bucket',
      }),
    );
    expect((await run())?.message).toBe(
      `apply ${APPLY_RUN_ID} failed: Error: creating S3 bucket`,
    );
    expect(outputs().status).toBe('failed');
  });

  it('fails the step with a link to the run when it is still running at the timeout', async () => {
    const { gate, run } = setup({ timeoutSeconds: 10 });
    gate.getLogs.mockResolvedValue({ lines: [], next: 0, complete: false });
    gate.getRun.mockResolvedValue(aRun({ id: APPLY_RUN_ID, status: 'queued' }));
    expect((await run())?.message).toBe(
      `apply ${APPLY_RUN_ID} is still queued after 10 s; follow it at ${runUrl(
        APPLY_RUN_ID,
      )}`,
    );
  });

  describe('dry run', () => {
    it('never applies; reads the plan as the user and outputs only the status', async () => {
      const { gate, run, credentials, outputs, infoLines, action } = setup(
        {},
        { isDryRun: true },
      );
      expect(action.supportsDryRun).toBe(true);

      expect(await run()).toBeUndefined();

      expect(gate.apply).not.toHaveBeenCalled();
      expect(gate.requestPlan).not.toHaveBeenCalled();
      expect(gate.getRun).toHaveBeenCalledWith(PLAN_RUN_ID, { credentials });
      expect(infoLines()).toEqual([
        `Dry run: would apply plan ${PLAN_RUN_ID} (${ENTITY}, dev)`,
      ]);
      expect(outputs()).toEqual({ status: 'dry-run' });
    });

    it("fails with the gate's reason when the plan cannot be read", async () => {
      const { gate, run } = setup({}, { isDryRun: true });
      gate.getRun.mockRejectedValue(
        await gateRefusal(404, 'NotFoundError', `run ${PLAN_RUN_ID} not found`),
      );
      expect((await run())?.message).toBe(
        `the gate refused the apply: run ${PLAN_RUN_ID} not found`,
      );
      expect(gate.apply).not.toHaveBeenCalled();
    });
  });

  it('follows the apply it already started when the scaffolder retries the step', async () => {
    const checkpoints = new CheckpointStore();
    const gate = fakeGate();
    gate.getLogs.mockResolvedValue({ lines: [], next: 0, complete: false });
    gate.getRun.mockResolvedValue(
      aRun({ id: APPLY_RUN_ID, status: 'running' }),
    );
    expect(
      (await setup({ timeoutSeconds: 10 }, { gate, checkpoints }).run())
        ?.message,
    ).toMatch(/still running/);

    gate.getLogs.mockResolvedValue({ lines: [], next: 0, complete: true });
    gate.getRun.mockResolvedValue(
      aRun({ id: APPLY_RUN_ID, status: 'succeeded' }),
    );
    const retry = setup({ timeoutSeconds: 10 }, { gate, checkpoints });
    expect(await retry.run()).toBeUndefined();

    expect(gate.apply).toHaveBeenCalledTimes(1);
    expect(retry.outputs()).toMatchObject({
      runId: APPLY_RUN_ID,
      status: 'succeeded',
    });
  });
});
