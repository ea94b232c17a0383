import { createHash, createPublicKey, KeyObject } from 'node:crypto';

/**
 * The bytes the gate signs for a job payload: a domain-separated SHA-256 of
 * it. Signing a digest rather than the payload lets an AWS KMS key sign too
 * (KMS signs at most 4 KiB of raw message; a job may be 256 KiB), and the
 * prefix keeps a job signature from being valid for anything else.
 *
 * @public
 */
export function jobSigningMessage(payload: string): Buffer {
  const digest = createHash('sha256').update(payload, 'utf8').digest('hex');
  return Buffer.from(`sealed-runner-job-v1:${digest}`, 'utf8');
}

/**
 * Reads an Ed25519 public key (PEM); throws for anything else.
 *
 * @public
 */
export function readJobPublicKey(pem: string): KeyObject {
  // createPublicKey derives a public key from a private one: refuse that,
  // the signing key never belongs on the runner.
  if (/PRIVATE KEY/.test(pem)) {
    throw new Error('must be a public key, not a private key');
  }
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `must be an Ed25519 public key, not ${key.asymmetricKeyType}`,
    );
  }
  return key;
}
