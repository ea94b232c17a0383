import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { getEventListeners } from 'node:events';
import {
  aRun,
  fakeGate,
  logPages,
  PLAN_RUN_ID,
} from '../__testUtils__/fakeGate';
import { followRun } from './followRun';

describe('followRun', () => {
  const credentials = mockCredentials.user('user:default/erin');

  function setup() {
    const gate = fakeGate();
    const logger = mockServices.logger.mock();
    const follow = (
      options: {
        deadline?: number;
        signal?: AbortSignal;
        pollMs?: number;
      } = {},
    ) =>
      followRun({
        gate,
        runId: PLAN_RUN_ID,
        credentials,
        logger,
        deadline: options.deadline ?? Date.now() + 60_000,
        signal: options.signal,
        pollMs: options.pollMs ?? 5,
      });
    const logged = () => logger.info.mock.calls.map(call => call[0]);
    const readFrom = () => gate.getLogs.mock.calls.map(call => call[1]);
    return { gate, follow, logged, readFrom };
  }

  it('copies every page of the log in order, reading on where the last page ended', async () => {
    const { gate, follow, logged, readFrom } = setup();
    for (const page of logPages(
      { lines: ['Initializing', 'Planning'] },
      { lines: [] },
      { lines: ['Plan: 1 to add'], complete: true },
    )) {
      gate.getLogs.mockResolvedValueOnce(page);
    }

    const run = await follow();

    expect(logged()).toEqual(['Initializing', 'Planning', 'Plan: 1 to add']);
    expect(readFrom()).toEqual([0, 2, 2]);
    expect(run).toMatchObject({ id: PLAN_RUN_ID, status: 'succeeded' });
  });

  it("reads the run and its log as the template's user", async () => {
    const { gate, follow } = setup();
    await follow();
    expect(gate.getLogs).toHaveBeenCalledWith(PLAN_RUN_ID, 0, { credentials });
    expect(gate.getRun).toHaveBeenCalledWith(PLAN_RUN_ID, { credentials });
  });

  // At the deadline (or on cancel) the log was read incomplete, then the run
  // read as ended: the lines written in between must not be lost.
  it.each([
    ['at the deadline', () => ({ deadline: Date.now() - 1 })],
    ['when the task is cancelled', () => ({ signal: AbortSignal.abort() })],
  ])(
    'picks up the last lines when the run ends between the log read and the run read, %s',
    async (_, options) => {
      const { gate, follow, logged, readFrom } = setup();
      const [first, last] = logPages(
        { lines: ['Planning'] },
        { lines: ['Plan: 1 to add', 'done'], complete: true },
      );
      gate.getLogs.mockResolvedValueOnce(first).mockResolvedValueOnce(last);
      gate.getRun.mockResolvedValue(
        aRun({ status: 'failed', error: 'terraform exited with 1' }),
      );

      const run = await follow(options());

      expect(logged()).toEqual(['Planning', 'Plan: 1 to add', 'done']);
      expect(readFrom()).toEqual([0, 1]);
      expect(run).toMatchObject({
        status: 'failed',
        error: 'terraform exited with 1',
      });
    },
  );

  it('stops at the deadline and returns the run as it stands', async () => {
    const { gate, follow, logged } = setup();
    gate.getLogs.mockImplementation(async (_id, after) => ({
      lines: [`line ${after}`],
      next: after + 1,
      complete: false,
    }));
    gate.getRun.mockResolvedValue(aRun({ status: 'running' }));

    const started = Date.now();
    const run = await follow({ deadline: started + 100, pollMs: 10 });

    expect(run.status).toBe('running');
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(logged().slice(0, 3)).toEqual(['line 0', 'line 1', 'line 2']);
  });

  it('stops as soon as the task is cancelled, even while waiting to poll', async () => {
    const { gate, follow } = setup();
    gate.getLogs.mockResolvedValue({ lines: [], next: 0, complete: false });
    gate.getRun.mockResolvedValue(aRun({ status: 'running' }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);

    const started = Date.now();
    // A poll interval far longer than the test's timeout: only the abort ends the wait.
    const run = await follow({ signal: controller.signal, pollMs: 60_000 });

    expect(run.status).toBe('running');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(gate.getLogs).toHaveBeenCalledTimes(2);
  });

  // Regression: every poll used to leave an 'abort' listener on the task's
  // signal (MaxListenersExceededWarning after ten polls).
  it('leaves no listeners on the task signal once it returns', async () => {
    const { gate, follow } = setup();
    const pages = logPages(
      ...Array.from({ length: 15 }, (_, i) => ({
        lines: [`line ${i}`],
        complete: i === 14,
      })),
    );
    for (const page of pages) {
      gate.getLogs.mockResolvedValueOnce(page);
    }
    const controller = new AbortController();

    await follow({ signal: controller.signal, pollMs: 1 });

    expect(gate.getLogs).toHaveBeenCalledTimes(15);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
