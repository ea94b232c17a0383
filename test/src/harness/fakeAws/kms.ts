import {
  generateKeyPairSync,
  KeyObject,
  randomUUID,
  sign,
  verify,
} from 'node:crypto';
import { AwsError, JsonOperations, WireInput } from './protocol';

/** KMS refuses a RAW message over 4096 bytes (larger ones must be signed as a digest). */
const MAX_RAW_MESSAGE_BYTES = 4096;

const ED25519_ALGORITHMS = ['ED25519_SHA_512', 'ED25519_PH_SHA_512'];

interface KmsKey {
  keyId: string;
  keyArn: string;
  usage: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT';
  privateKey?: KeyObject;
  publicKey?: KeyObject;
}

function validation(message: string): AwsError {
  return new AwsError(400, 'ValidationException', message);
}

/**
 * KMS: Ed25519 signing keys (Sign, Verify, GetPublicKey) and symmetric keys
 * that exist only so S3 can check an SSE-KMS key id.
 */
export class FakeKms {
  private readonly keys = new Map<string, KmsKey>();
  private readonly aliases = new Map<string, string>();

  constructor(
    private readonly region: string,
    private readonly accountId: string,
  ) {}

  createSigningKey(alias?: string): {
    keyId: string;
    keyArn: string;
    publicKeyPem: string;
  } {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const key = this.addKey('SIGN_VERIFY', alias, { privateKey, publicKey });
    return {
      keyId: key.keyId,
      keyArn: key.keyArn,
      publicKeyPem: publicKey
        .export({ type: 'spki', format: 'pem' })
        .toString(),
    };
  }

  createEncryptionKey(alias?: string): { keyId: string; keyArn: string } {
    const key = this.addKey('ENCRYPT_DECRYPT', alias, {});
    return { keyId: key.keyId, keyArn: key.keyArn };
  }

  /**
   * Finds a key by id, key ARN, `alias/<name>` or alias ARN, as every KMS
   * operation's KeyId accepts; throws KMS's NotFoundException otherwise.
   */
  resolve(keyId: string): KmsKey {
    const aliasName =
      /^arn:[^:]+:kms:[^:]*:[^:]*:(alias\/.+)$/.exec(keyId)?.[1] ??
      (keyId.startsWith('alias/') ? keyId : undefined);
    if (aliasName) {
      const target = this.aliases.get(aliasName);
      if (!target) {
        throw new AwsError(
          400,
          'NotFoundException',
          `Alias ${this.arn(aliasName)} is not found.`,
        );
      }
      return this.keys.get(target)!;
    }
    const id =
      /^arn:[^:]+:kms:[^:]*:[^:]*:key\/(.+)$/.exec(keyId)?.[1] ?? keyId;
    const key = this.keys.get(id);
    if (!key || (keyId.startsWith('arn:') && keyId !== key.keyArn)) {
      throw new AwsError(
        400,
        'NotFoundException',
        `Key '${this.arn(`key/${id}`)}' does not exist`,
      );
    }
    return key;
  }

  readonly operations: JsonOperations = {
    Sign: input => this.sign(input),
    Verify: input => this.verify(input),
    GetPublicKey: input => {
      const key = this.signingKey(input.requiredString('KeyId'));
      return {
        KeyId: key.keyArn,
        PublicKey: key
          .publicKey!.export({ type: 'spki', format: 'der' })
          .toString('base64'),
        KeySpec: 'ECC_NIST_EDWARDS25519',
        CustomerMasterKeySpec: 'ECC_NIST_EDWARDS25519',
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: ED25519_ALGORITHMS,
      };
    },
  };

  private sign(input: WireInput) {
    const key = this.signingKey(input.requiredString('KeyId'));
    const message = this.message(input, key);
    return {
      KeyId: key.keyArn,
      Signature: sign(null, message, key.privateKey!).toString('base64'),
      SigningAlgorithm: 'ED25519_SHA_512',
    };
  }

  private verify(input: WireInput) {
    const key = this.signingKey(input.requiredString('KeyId'));
    const message = this.message(input, key);
    const signature = Buffer.from(input.requiredString('Signature'), 'base64');
    if (!verify(null, message, key.publicKey!, signature)) {
      throw new AwsError(
        400,
        'KMSInvalidSignatureException',
        'The signature is not valid.',
      );
    }
    return {
      KeyId: key.keyArn,
      SignatureValid: true,
      SigningAlgorithm: 'ED25519_SHA_512',
    };
  }

  /** The message to sign or verify, checked as KMS checks it for an Ed25519 key. */
  private message(input: WireInput, key: KmsKey): Buffer {
    const algorithm = input.requiredString('SigningAlgorithm');
    if (!ED25519_ALGORITHMS.includes(algorithm)) {
      throw new AwsError(
        400,
        'InvalidKeyUsageException',
        `You cannot use the signing algorithm ${algorithm} with the key ${
          key.keyArn
        }. Its key spec ECC_NIST_EDWARDS25519 supports ${ED25519_ALGORITHMS.join(
          ', ',
        )}.`,
      );
    }
    if (algorithm === 'ED25519_PH_SHA_512') {
      // node:crypto has no Ed25519ph; the runner does not use it.
      throw validation(
        'The fake KMS implements ED25519_SHA_512 only (not ED25519_PH_SHA_512).',
      );
    }
    const messageType = input.string('MessageType') ?? 'RAW';
    if (messageType !== 'RAW') {
      throw validation(
        `The ED25519_SHA_512 signing algorithm requires MessageType RAW, not ${messageType}.`,
      );
    }
    const message = Buffer.from(input.requiredString('Message'), 'base64');
    if (message.length > MAX_RAW_MESSAGE_BYTES) {
      throw validation(
        `1 validation error detected: Value at 'message' failed to satisfy constraint: Member must have length less than or equal to ${MAX_RAW_MESSAGE_BYTES}`,
      );
    }
    return message;
  }

  private signingKey(keyId: string): KmsKey {
    const key = this.resolve(keyId);
    if (key.usage !== 'SIGN_VERIFY') {
      throw new AwsError(
        400,
        'InvalidKeyUsageException',
        `${key.keyArn} key usage is ENCRYPT_DECRYPT which is not valid for this operation.`,
      );
    }
    return key;
  }

  private addKey(
    usage: KmsKey['usage'],
    alias: string | undefined,
    material: Pick<KmsKey, 'privateKey' | 'publicKey'>,
  ): KmsKey {
    const aliasName =
      alias && (alias.startsWith('alias/') ? alias : `alias/${alias}`);
    if (aliasName && this.aliases.has(aliasName)) {
      throw new Error(`FakeAws: KMS alias ${aliasName} already exists`);
    }
    const keyId = randomUUID();
    const key: KmsKey = {
      keyId,
      keyArn: this.arn(`key/${keyId}`),
      usage,
      ...material,
    };
    this.keys.set(keyId, key);
    if (aliasName) this.aliases.set(aliasName, keyId);
    return key;
  }

  private arn(resource: string): string {
    return `arn:aws:kms:${this.region}:${this.accountId}:${resource}`;
  }
}
