import { Checked } from './checked';
import {
  checkProviderAddress,
  normaliseProviderSource,
} from './providerAddress';

function reasonOf(result: Checked<unknown>): string {
  if (result.ok) {
    throw new Error(`expected a refusal, got ${JSON.stringify(result.value)}`);
  }
  return result.reason;
}

describe('normaliseProviderSource', () => {
  // What Terraform itself resolves each spelling to (checked with
  // `terraform init` against a filesystem mirror).
  it.each([
    ['aws', 'registry.terraform.io/hashicorp/aws'],
    ['AWS', 'registry.terraform.io/hashicorp/aws'],
    ['hashicorp/aws', 'registry.terraform.io/hashicorp/aws'],
    ['HashiCorp/AWS', 'registry.terraform.io/hashicorp/aws'],
    [
      'Registry.Terraform.IO/HashiCorp/AWS',
      'registry.terraform.io/hashicorp/aws',
    ],
    [
      'registry.terraform.io:443/hashicorp/aws',
      'registry.terraform.io/hashicorp/aws',
    ],
    [
      'example.com:8443/acme/internal-thing',
      'example.com:8443/acme/internal-thing',
    ],
    ['terraform.io/builtin/terraform', 'terraform.io/builtin/terraform'],
  ])('reads %s as %s', (source, address) => {
    expect(normaliseProviderSource(source)).toEqual({
      ok: true,
      value: address,
    });
  });

  it.each<[string, unknown, RegExp]>([
    ['a non-string', 42, /must be a string/],
    ['an empty string', '', /must not be empty/],
    ['a template', '${var.source}', /must be \[host\/\]namespace\/type/],
    ['four parts', 'a.example/b/c/d', /more than three parts/],
    ['an empty namespace', 'registry.terraform.io//aws', /namespace\/type/],
    ['a wildcard', 'hashicorp/*', /namespace\/type/],
    [
      'a look-alike host outside ASCII',
      'registry.terraform.ｉo/hashicorp/aws',
      /must be plain ASCII/,
    ],
    ['a Cyrillic namespace', 'hаshicorp/aws', /must be plain ASCII/],
    [
      'a host with a path trick',
      'evil.example/../hashicorp/aws',
      /more than three parts/,
    ],
    ['a host with userinfo', 'user@evil.example/hashicorp/aws', /invalid host/],
    ['a control character', 'hashicorp/aws\n', /control characters/],
  ])('refuses %s', (_, source, reason) => {
    expect(reasonOf(normaliseProviderSource(source))).toMatch(reason);
  });
});

describe('checkProviderAddress', () => {
  it('accepts a full, lower-case address', () => {
    expect(checkProviderAddress('registry.terraform.io/hashicorp/aws')).toEqual(
      {
        ok: true,
        value: 'registry.terraform.io/hashicorp/aws',
      },
    );
  });

  it.each([
    'hashicorp/aws',
    'aws',
    'Registry.terraform.io/hashicorp/aws',
    'registry.terraform.io:443/hashicorp/aws',
  ])('refuses %s, naming the full form', address => {
    expect(reasonOf(checkProviderAddress(address))).toBe(
      `provider address ${JSON.stringify(
        address,
      )} must be written in full and in lower case: registry.terraform.io/hashicorp/aws`,
    );
  });
});
