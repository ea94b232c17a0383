import { BackstageCredentials } from '@backstage/backend-plugin-api';
import { mockCredentials, mockServices } from '@backstage/backend-test-utils';
import { createMockActionContext } from '@backstage/plugin-scaffolder-node-test-utils';
import { JsonObject, JsonValue } from '@backstage/types';

/** Anything `createTemplateAction` returns. */
type AnyAction = { handler: (ctx: any) => Promise<void> };

/** The context an action's handler takes, with its typed input. */
export type ContextOf<A extends AnyAction> = Parameters<A['handler']>[0];

/**
 * The scaffolder's checkpoint store: a key's function runs once; a later
 * attempt of the same task (a retry, a recovered task) gets the stored value
 * back instead of running the function again.
 */
export class CheckpointStore {
  readonly values = new Map<string, JsonValue | void>();

  readonly checkpoint = async <T extends JsonValue | void>(opts: {
    key: string;
    fn: () => Promise<T> | T;
  }): Promise<T> => {
    if (this.values.has(opts.key)) {
      return this.values.get(opts.key) as T;
    }
    const value = await opts.fn();
    this.values.set(opts.key, value);
    return value;
  };
}

export interface MockContextOptions<A extends AnyAction> {
  input: ContextOf<A>['input'];
  workspacePath?: string;
  isDryRun?: boolean;
  /** Whom the template runs as (default: user:default/erin). */
  credentials?: BackstageCredentials;
  user?: { ref?: string };
  signal?: AbortSignal;
  checkpoints?: CheckpointStore;
}

/**
 * A context for calling an action's handler directly, as the scaffolder
 * would. `createMockActionContext` of the installed test utils is built
 * against an older `@backstage/plugin-scaffolder-node` (0.13) and ignores
 * `isDryRun`, `signal`, `checkpoint` and `getInitiatorCredentials` options,
 * so those are set on the context it returns, and the context is cast to the
 * 1.0 `ActionContext` the handler takes.
 */
export function mockActionContext<A extends AnyAction>(
  _action: A,
  options: MockContextOptions<A>,
) {
  const logger = mockServices.logger.mock();
  const credentials =
    options.credentials ?? mockCredentials.user('user:default/erin');
  const base = createMockActionContext({
    input: options.input as JsonObject,
    logger,
    ...(options.workspacePath ? { workspacePath: options.workspacePath } : {}),
    ...(options.user ? { user: options.user } : {}),
  });
  const ctx = Object.assign(base, {
    isDryRun: options.isDryRun,
    signal: options.signal,
    getInitiatorCredentials: jest.fn(async () => credentials),
    ...(options.checkpoints
      ? { checkpoint: options.checkpoints.checkpoint }
      : {}),
  }) as unknown as ContextOf<A>;
  const output = base.output as jest.Mock;
  return {
    ctx,
    logger,
    credentials,
    /** The outputs the step set so far, by name. */
    outputs: (): Record<string, unknown> =>
      Object.fromEntries(output.mock.calls),
    /** Every line the step logged at info level, in order. */
    infoLines: (): string[] =>
      logger.info.mock.calls.map(call => String(call[0])),
  };
}
