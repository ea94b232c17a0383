import {
  argumentTree,
  mergeArgumentTrees,
  PROVIDER_ARGUMENTS,
  PURE_FUNCTIONS,
  FILE_FUNCTIONS,
  STATE_BACKEND_CONFIG,
  STATE_BACKEND_TYPES,
} from './terraformPolicy';

describe('argumentTree', () => {
  it('builds nested allowlists from dotted paths', () => {
    expect(
      argumentTree([
        'region',
        'assume_role.role_arn',
        'assume_role.session_name',
      ]),
    ).toEqual({
      region: true,
      assume_role: { role_arn: true, session_name: true },
    });
  });

  it('keeps a key allowed whole when one path names it whole', () => {
    expect(argumentTree(['features.x', 'features'])).toEqual({
      features: true,
    });
    expect(
      mergeArgumentTrees(argumentTree(['a.b']), argumentTree(['a'])),
    ).toEqual({ a: true });
  });

  it('has no prototype: a key named like an Object method is not allowed', () => {
    const tree = argumentTree(['region']);
    expect('constructor' in tree).toBe(false);
    expect(Object.getPrototypeOf(tree)).toBeNull();
  });
});

// The allowlists are the seal. Each of these keys names a file, a command,
// a profile, a kubeconfig, credentials from elsewhere, a custom endpoint or
// a proxy: none may be on them (a regression guard, not the mechanism —
// anything not listed is refused anyway).
const REACHES_OUTSIDE = [
  'shared_config_files',
  'shared_credentials_files',
  'profile',
  'assume_role_with_web_identity',
  'web_identity_token_file',
  'custom_ca_bundle',
  'endpoints',
  'endpoint',
  'sts_endpoint',
  'ec2_metadata_service_endpoint',
  'http_proxy',
  'https_proxy',
  'access_key',
  'secret_key',
  'credentials',
  'config_path',
  'config_paths',
  'config_context',
  'exec',
  'client_certificate_path',
  'oidc_token_file_path',
  'msi_endpoint',
  'metadata_host',
  'ca_file',
  'cert_file',
  'key_file',
  'shared_credentials_file',
  'ecs_role_name',
  'insecure',
  'skip_credentials_validation',
];

function keys(tree: object, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([key, value]) =>
    value === true
      ? [`${prefix}${key}`]
      : [`${prefix}${key}`, ...keys(value, `${prefix}${key}.`)],
  );
}
const leaf = (key: string) => key.split('.').pop()!;

describe('the allowlists', () => {
  it.each(STATE_BACKEND_TYPES.map(type => [type]))(
    'backend %s names no file, command, profile or endpoint',
    type => {
      expect(
        keys(STATE_BACKEND_CONFIG[type]).filter(key =>
          REACHES_OUTSIDE.includes(leaf(key)),
        ),
      ).toEqual([]);
    },
  );

  it.each(Object.keys(PROVIDER_ARGUMENTS).map(address => [address]))(
    'provider %s names no file, command, profile or endpoint',
    address => {
      expect(
        keys(PROVIDER_ARGUMENTS[address]).filter(key =>
          REACHES_OUTSIDE.includes(leaf(key)),
        ),
      ).toEqual([]);
    },
  );

  it('never lists local, remote or cloud as a backend type', () => {
    expect(STATE_BACKEND_TYPES).not.toContain('local');
    expect(STATE_BACKEND_TYPES).not.toContain('remote');
    expect(STATE_BACKEND_TYPES).not.toContain('cloud');
  });

  it('keeps the file functions and templatestring off the pure list', () => {
    for (const name of [...Object.keys(FILE_FUNCTIONS), 'templatestring']) {
      expect(PURE_FUNCTIONS.has(name)).toBe(false);
    }
  });
});
