import { LoggerService } from '@backstage/backend-plugin-api';
import {
  SealedRunnerJob,
  SignedJobDocument,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { jobSigningMessage } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  KeyObject,
  sign,
} from 'node:crypto';

/**
 * Signs every job document the gate hands to a runner. The runner checks
 * the signature with the public key in its own config, so a job that did
 * not come from the gate — forged, altered, replayed from elsewhere —
 * never runs.
 */
export interface JobSigner {
  /** The public key runners verify with (PEM). */
  publicKeyPem(): Promise<string>;
  /** The document a runner reads: the job's exact bytes and their signature. */
  sign(job: SealedRunnerJob): Promise<string>;
}

/** Wraps a payload and its signature as the runner reads them. */
export function signedJobDocument(payload: string, signature: Buffer): string {
  const document: SignedJobDocument = {
    payload,
    signature: signature.toString('base64'),
  };
  return JSON.stringify(document);
}

/** An Ed25519 key held by the backend: the embedded default. */
export class Ed25519JobSigner implements JobSigner {
  /**
   * The key from `sealedRunner.jobSigning.privateKey` (PEM), or, for the
   * embedded local runner, a key generated at startup: the backend starts
   * that runner and hands it the public key, so nothing needs sharing.
   */
  static fromConfig(
    privateKeyPem: string | undefined,
    logger: LoggerService,
  ): Ed25519JobSigner {
    if (privateKeyPem) {
      const key = createPrivateKey(privateKeyPem);
      if (key.asymmetricKeyType !== 'ed25519') {
        throw new Error(
          `sealedRunner.jobSigning.privateKey must be an Ed25519 private key, not ${key.asymmetricKeyType}`,
        );
      }
      return new Ed25519JobSigner(key);
    }
    logger.info(
      'sealedRunner.jobSigning.privateKey is not set: signing jobs with a key generated for this process',
    );
    return new Ed25519JobSigner(generateKeyPairSync('ed25519').privateKey);
  }

  private constructor(private readonly privateKey: KeyObject) {}

  async publicKeyPem(): Promise<string> {
    return createPublicKey(this.privateKey)
      .export({ type: 'spki', format: 'pem' })
      .toString();
  }

  async sign(job: SealedRunnerJob): Promise<string> {
    const payload = JSON.stringify(job);
    return signedJobDocument(
      payload,
      sign(null, jobSigningMessage(payload), this.privateKey),
    );
  }
}
