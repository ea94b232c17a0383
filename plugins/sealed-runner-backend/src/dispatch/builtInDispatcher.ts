import { LoggerService } from '@backstage/backend-plugin-api';
import { AwsCredentialsManager } from '@backstage/integration-aws-node';
import { RunDispatcher } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { securePrivateDirectory } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { SealedRunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { JobSigner } from '../services/JobSigner/JobSigner';
import { EcsDispatcher } from './EcsDispatcher';
import { LocalDispatcher, probeLocalSandbox } from './LocalDispatcher';
import { localDispatcherConfig, localRunnerConfig } from './localRunnerConfig';

/** The runner types the gate ships. */
export const BUILT_IN_RUNNER_TYPES: readonly string[] = ['local', 'ecs'];

/**
 * The runner types the gate ships: `local` (embedded default) and `ecs`.
 * Undefined for any other type, which a module must provide.
 */
export async function builtInDispatcher(options: {
  config: SealedRunnerConfig;
  signer: JobSigner;
  awsCredentials: AwsCredentialsManager;
  logger: LoggerService;
}): Promise<RunDispatcher | undefined> {
  const { config, signer, logger } = options;
  switch (config.runner.type) {
    case 'local': {
      const local = localDispatcherConfig(config, await signer.publicKeyPem());
      const sandbox = localRunnerConfig(local).sandbox;
      // Jobs, logs, saved plans and state live here: this user's alone,
      // traversable (not listable) by the sandbox user it mounts runs as.
      const warning = await securePrivateDirectory(local.directory, {
        mode: sandbox === false ? 0o700 : 0o711,
        what: "the local runner's directory (sealedRunner.runner.local.directory)",
      });
      if (warning) {
        logger.warn(warning);
      }
      if (sandbox === false) {
        logger.warn(
          "SECURITY: sealedRunner.runner.local.sandbox is false — git and Terraform run UNSANDBOXED, as the backend's user: code in a target can read and change everything this backend can (its database, keys, config, every target's state and saved plan). Never use this on a shared or production machine; every run and target says so.",
        );
      } else {
        // Before anything runs: the directories the sandbox mounts must be
        // reachable for its user, and bubblewrap must work here.
        const problem = await probeLocalSandbox(local);
        if (problem) {
          throw new Error(
            `The local runner's sandbox cannot start: ${problem}. Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap), or — only on a machine of your own, such as a macOS laptop — set sealedRunner.runner.local.sandbox: false to run git and Terraform unsandboxed.`,
          );
        }
      }
      return new LocalDispatcher({
        config: local,
        logger,
        sandboxed: sandbox !== false,
      });
    }
    case 'ecs': {
      const ecs = config.runner.ecs;
      if (!ecs) {
        throw new Error(
          'sealedRunner.runner.ecs must be set for the ECS runner (sealedRunner.runner.type: ecs)',
        );
      }
      const credentials = await options.awsCredentials.getCredentialProvider(
        ecs.cluster.startsWith('arn:') ? { arn: ecs.cluster } : undefined,
      );
      return new EcsDispatcher({
        config: ecs,
        credentials: credentials.sdkCredentialProvider,
        logger,
      });
    }
    default:
      return undefined;
  }
}
