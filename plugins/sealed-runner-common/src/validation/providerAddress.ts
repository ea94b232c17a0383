import { accept, Checked, checkPlainString, quote, refuse } from './checked';

/**
 * The registry Terraform assumes when a provider source names no host.
 *
 * @public
 */
export const DEFAULT_PROVIDER_HOST = 'registry.terraform.io';

/**
 * The provider built into Terraform itself (`terraform_data`,
 * `terraform_remote_state`). It runs no plugin, so every plan policy allows it.
 *
 * @public
 */
export const BUILTIN_TERRAFORM_PROVIDER = 'terraform.io/builtin/terraform';

// Namespace and type, after lower-casing: what Terraform's own parser
// accepts, minus anything it would have to normalise further.
const PART = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST = new RegExp(`^${LABEL}(?:\\.${LABEL})*(?::[0-9]{1,5})?$`);

/**
 * Normalises a provider source address as Terraform reads it from
 * `required_providers`: case-insensitive, `aws` and `hashicorp/aws` both mean
 * `registry.terraform.io/hashicorp/aws`, port 443 is the default. Anything
 * outside ASCII is refused rather than IDNA-mapped: a look-alike host that
 * Terraform would fold into an allowlisted one must not be compared by a
 * different rule here.
 *
 * @public
 */
export function normaliseProviderSource(value: unknown): Checked<string> {
  const plain = checkPlainString('provider source', value, 300);
  if (!plain.ok) {
    return plain;
  }
  const source = plain.value;
  const bad = (why: string) =>
    refuse<string>(`provider source ${quote(source)} ${why}`);
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(source)) {
    return bad('must be plain ASCII');
  }
  const parts = source.toLowerCase().split('/');
  if (parts.length > 3) {
    return bad('has more than three parts (host/namespace/type)');
  }
  const [type, namespace = 'hashicorp', rawHost = DEFAULT_PROVIDER_HOST] =
    parts.reverse();
  const host = rawHost.endsWith(':443') ? rawHost.slice(0, -4) : rawHost;
  if (!HOST.test(host)) {
    return bad('has an invalid host');
  }
  if (!PART.test(namespace) || !PART.test(type)) {
    return bad("must be [host/]namespace/type of letters, digits and '-'");
  }
  return accept(`${host}/${namespace}/${type}`);
}

/**
 * Checks a provider address in configuration (a plan policy's allowlist):
 * it must already be in the full, normalised form the runner compares, so an
 * allowlist entry reads exactly like the address it admits.
 *
 * @public
 */
export function checkProviderAddress(value: unknown): Checked<string> {
  const normalised = normaliseProviderSource(value);
  if (!normalised.ok) {
    return normalised;
  }
  if (normalised.value !== value) {
    return refuse(
      `provider address ${quote(
        String(value),
      )} must be written in full and in lower case: ${normalised.value}`,
    );
  }
  return normalised;
}
