import { LoggerService } from '@backstage/backend-plugin-api';
import {
  SealedRunnerJob,
  SignedJobDocument,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  KeyObject,
  sign,
} from 'node:crypto';

/**
 * Signs every job document the gate hands to a runner (Ed25519). The
 * runner checks the signature with the public key in its own config, so a
 * job that did not come from the gate — forged, altered, replayed from
 * elsewhere — never runs.
 */
export class JobSigner {
  /**
   * The key from `sealedRunner.jobSigning.privateKey` (PEM), or, for the
   * embedded local runner, a key generated at startup: the backend starts
   * that runner and hands it the public key, so nothing needs sharing.
   */
  static fromConfig(privateKeyPem: string | undefined, logger: LoggerService): JobSigner {
    if (privateKeyPem) {
      const key = createPrivateKey(privateKeyPem);
      if (key.asymmetricKeyType !== 'ed25519') {
        throw new Error(
          `sealedRunner.jobSigning.privateKey must be an Ed25519 private key, not ${key.asymmetricKeyType}`,
        );
      }
      return new JobSigner(key);
    }
    logger.info(
      'sealedRunner.jobSigning.privateKey is not set: signing jobs with a key generated for this process',
    );
    return new JobSigner(generateKeyPairSync('ed25519').privateKey);
  }

  private constructor(private readonly privateKey: KeyObject) {}

  /** The public key runners verify with (PEM). */
  get publicKeyPem(): string {
    return createPublicKey(this.privateKey).export({ type: 'spki', format: 'pem' }).toString();
  }

  /** The document a runner reads on stdin: the job's exact bytes and their signature. */
  sign(job: SealedRunnerJob): string {
    const payload = JSON.stringify(job);
    const document: SignedJobDocument = {
      payload,
      signature: sign(null, Buffer.from(payload), this.privateKey).toString('base64'),
    };
    return JSON.stringify(document);
  }
}
