import { LoggerService } from '@backstage/backend-plugin-api';
import { AwsCredentialsManager } from '@backstage/integration-aws-node';
import { RunDispatcher } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { SealedRunnerConfig } from '../config';
import { JobSigner } from '../services/JobSigner/JobSigner';
import { EcsDispatcher } from './EcsDispatcher';
import { LocalDispatcher } from './LocalDispatcher';
import { localDispatcherConfig } from './localRunnerConfig';

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
    case 'local':
      return new LocalDispatcher({
        config: localDispatcherConfig(config, await signer.publicKeyPem()),
        logger,
      });
    case 'ecs': {
      const ecs = config.runner.ecs;
      if (!ecs) {
        throw new Error('sealedRunner.runner.ecs must be set for the ECS runner (sealedRunner.runner.type: ecs)');
      }
      const credentials = await options.awsCredentials.getCredentialProvider(
        ecs.cluster.startsWith('arn:') ? { arn: ecs.cluster } : undefined,
      );
      return new EcsDispatcher({ config: ecs, credentials: credentials.sdkCredentialProvider, logger });
    }
    default:
      return undefined;
  }
}
