import { KMSClient } from '@aws-sdk/client-kms';
import { LoggerService } from '@backstage/backend-plugin-api';
import { AwsCredentialsManager } from '@backstage/integration-aws-node';
import { SealedRunnerConfig } from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { Ed25519JobSigner, JobSigner } from './JobSigner';
import { KmsJobSigner } from './KmsJobSigner';

/** The signer `sealedRunner.jobSigning` names: a KMS key, or an Ed25519 key held by the backend. */
export async function createJobSigner(options: {
  config: SealedRunnerConfig['jobSigning'];
  awsCredentials: AwsCredentialsManager;
  logger: LoggerService;
}): Promise<JobSigner> {
  const { config, logger } = options;
  if (!config.kms) {
    return Ed25519JobSigner.fromConfig(config.privateKey, logger);
  }
  const { keyId, region, endpoint } = config.kms;
  const credentials = await options.awsCredentials.getCredentialProvider(
    keyId.startsWith('arn:') ? { arn: keyId } : undefined,
  );
  const signer = new KmsJobSigner(
    new KMSClient({
      region,
      credentials: credentials.sdkCredentialProvider,
      ...(endpoint ? { endpoint } : {}),
    }),
    keyId,
  );
  // Fail at startup, not at the first run, if the key is wrong or unreachable.
  await signer.publicKeyPem();
  return signer;
}
