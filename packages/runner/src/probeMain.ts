import { isAbsolute } from 'node:path';
import {
  parseRunnerConfig,
  RUNNER_CONFIG_ENV,
} from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { probeSandbox } from './sandbox';

/**
 * The sandbox probe program (`bin/sealed-runner-probe`): whether the
 * runner, started with the same configuration, could start its sandbox
 * here. The backend runs it at startup, so a machine without bubblewrap
 * (or without unprivileged user namespaces) refuses to start instead of
 * failing its first run. Arguments: the absolute folders the sandbox will
 * mount from. Exits 0 when the sandbox starts, and 1 with the reason on
 * stdout when it cannot.
 *
 * @public
 */
export async function probeMain(
  args: readonly string[] = process.argv.slice(2),
): Promise<number> {
  const relative = args.find(arg => !isAbsolute(arg));
  if (relative !== undefined) {
    process.stdout.write(
      `the probe takes absolute folders, not ${JSON.stringify(
        relative.slice(0, 200),
      )}\n`,
    );
    return 2;
  }
  let problem: string | undefined;
  try {
    const config = parseRunnerConfig(process.env[RUNNER_CONFIG_ENV]);
    problem = await probeSandbox(config.sandbox, args);
  } catch (error) {
    problem = (error as Error).message;
  }
  if (problem) {
    process.stdout.write(`${problem}\n`);
    return 1;
  }
  return 0;
}
