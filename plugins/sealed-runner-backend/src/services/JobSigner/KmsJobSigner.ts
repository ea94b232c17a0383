import { createPublicKey } from 'node:crypto';
import {
  GetPublicKeyCommand,
  KMSClient,
  SignCommand,
} from '@aws-sdk/client-kms';
import { SealedRunnerJob } from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { jobSigningMessage } from '@sealed-runner/backstage-plugin-sealed-runner-common/runner';
import { JobSigner, signedJobDocument } from './JobSigner';

/** KMS's name for Ed25519 over the raw message (RFC 8032 "pure" EdDSA). */
const SIGNING_ALGORITHM = 'ED25519_SHA_512';

/**
 * Signs jobs with an AWS KMS asymmetric key (`ECC_NIST_EDWARDS25519`,
 * `SIGN_VERIFY`): the private key never leaves KMS, so an attacker who
 * reads the backend's config or memory still cannot sign a job, and every
 * signature is in CloudTrail. Only the backend's role may `kms:Sign`.
 */
export class KmsJobSigner implements JobSigner {
  constructor(
    private readonly client: KMSClient,
    private readonly keyId: string,
  ) {}

  async publicKeyPem(): Promise<string> {
    const response = await this.client.send(
      new GetPublicKeyCommand({ KeyId: this.keyId }),
    );
    if (
      response.KeySpec !== 'ECC_NIST_EDWARDS25519' ||
      response.KeyUsage !== 'SIGN_VERIFY'
    ) {
      throw new Error(
        `sealedRunner.jobSigning.kms.keyId must be an ECC_NIST_EDWARDS25519 SIGN_VERIFY key, not ${response.KeySpec} ${response.KeyUsage}`,
      );
    }
    return createPublicKey({
      key: Buffer.from(response.PublicKey!),
      format: 'der',
      type: 'spki',
    })
      .export({ type: 'spki', format: 'pem' })
      .toString();
  }

  async sign(job: SealedRunnerJob): Promise<string> {
    const payload = JSON.stringify(job);
    const response = await this.client.send(
      new SignCommand({
        KeyId: this.keyId,
        Message: jobSigningMessage(payload),
        MessageType: 'RAW',
        SigningAlgorithm: SIGNING_ALGORITHM,
      }),
    );
    if (!response.Signature) {
      throw new Error('KMS returned no signature');
    }
    return signedJobDocument(payload, Buffer.from(response.Signature));
  }
}
