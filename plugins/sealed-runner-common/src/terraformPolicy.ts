/**
 * What Terraform code may reach outside Terraform's own evaluation, by
 * name. Everything the runner's inspection allows is listed here; anything
 * not listed — a backend type, a configuration key, a provider argument, a
 * function — is refused. The lists are allowlists on purpose: a key that
 * names a file, a command, a profile, a kubeconfig, a credentials endpoint
 * or another API endpoint is simply not on them.
 */

/**
 * Which keys a configuration block may set. `true`: the key may hold any
 * value (its expression is still inspected); a nested tree: the key is a
 * block or object whose own keys are checked against it.
 *
 * @public
 */
export interface ArgumentTree {
  readonly [key: string]: ArgumentTree | true;
}

/**
 * Builds an {@link ArgumentTree} from dotted paths: `assume_role.role_arn`
 * allows an `assume_role` block holding only `role_arn`; `features` alone
 * allows a `features` block with anything in it.
 *
 * @public
 */
export function argumentTree(paths: readonly string[]): ArgumentTree {
  return mergeArgumentTrees(
    ...paths.map(
      path =>
        path
          .split('.')
          .reduceRight<ArgumentTree | true>(
            (inner, key) =>
              Object.assign(Object.create(null), { [key]: inner }),
            true,
          ) as ArgumentTree,
    ),
  );
}

function mergeTrees(a: ArgumentTree, b: ArgumentTree): ArgumentTree {
  const merged: Record<string, ArgumentTree | true> = Object.assign(
    Object.create(null),
    a,
  );
  for (const [key, value] of Object.entries(b)) {
    const existing = merged[key];
    if (existing === true || value === true) {
      merged[key] = true;
    } else {
      merged[key] = existing ? mergeTrees(existing, value) : value;
    }
  }
  return merged;
}

/**
 * Merges argument trees; a key allowed whole in one stays whole.
 *
 * @public
 */
export function mergeArgumentTrees(...trees: ArgumentTree[]): ArgumentTree {
  return trees.reduce<ArgumentTree>(
    (a, b) => mergeTrees(a, b),
    Object.create(null),
  );
}

/**
 * State backend types an environment's `planPolicy.backends` may list.
 * `local` (a path of the code's choosing), `remote` and `cloud` (HCP
 * Terraform runs the plan elsewhere) can never be listed.
 *
 * @public
 */
export const STATE_BACKEND_TYPES = [
  's3',
  'gcs',
  'azurerm',
  'http',
  'consul',
  'pg',
  'kubernetes',
  'oss',
  'cos',
] as const;

/** @public */
export type StateBackendType = (typeof STATE_BACKEND_TYPES)[number];

/**
 * An AWS `assume_role` block names a role, never a file or a command: the
 * same for the s3 backend and the AWS provider.
 */
const AWS_ASSUME_ROLE = [
  'assume_role.role_arn',
  'assume_role.session_name',
  'assume_role.external_id',
  'assume_role.duration',
  'assume_role.policy',
  'assume_role.policy_arns',
  'assume_role.tags',
  'assume_role.transitive_tag_keys',
  'assume_role.source_identity',
];

/**
 * The configuration keys a `backend` block — and a `terraform_remote_state`
 * data source's `config` — may set, per backend type. Where state lives and
 * how it is locked, never where credentials come from: no
 * `shared_config_files`, `profile`, `credentials`, `config_path`, `exec`,
 * `*_file`, custom endpoints or proxies. Credentials come from the runner's
 * own identity (the ECS task role).
 *
 * @public
 */
export const STATE_BACKEND_CONFIG: Readonly<
  Record<StateBackendType, ArgumentTree>
> = {
  s3: argumentTree([
    'bucket',
    'key',
    'region',
    'encrypt',
    'kms_key_id',
    'acl',
    'dynamodb_table',
    'use_lockfile',
    'workspace_key_prefix',
    'allowed_account_ids',
    'forbidden_account_ids',
    'use_path_style',
    'max_retries',
    'retry_mode',
    ...AWS_ASSUME_ROLE,
  ]),
  gcs: argumentTree([
    'bucket',
    'prefix',
    'kms_encryption_key',
    'impersonate_service_account',
    'impersonate_service_account_delegates',
  ]),
  azurerm: argumentTree([
    'storage_account_name',
    'container_name',
    'key',
    'resource_group_name',
    'subscription_id',
    'tenant_id',
    'client_id',
    'environment',
    'use_azuread_auth',
    'use_msi',
    'snapshot',
  ]),
  http: argumentTree([
    'address',
    'update_method',
    'lock_address',
    'lock_method',
    'unlock_address',
    'unlock_method',
    'username',
    'password',
    'retry_max',
    'retry_wait_min',
    'retry_wait_max',
    'client_ca_certificate_pem',
    'client_certificate_pem',
    'client_private_key_pem',
  ]),
  consul: argumentTree([
    'address',
    'scheme',
    'path',
    'datacenter',
    'gzip',
    'lock',
    'access_token',
    'http_auth',
  ]),
  pg: argumentTree([
    'conn_str',
    'schema_name',
    'skip_schema_creation',
    'skip_table_creation',
    'skip_index_creation',
  ]),
  kubernetes: argumentTree([
    'secret_suffix',
    'labels',
    'namespace',
    'in_cluster_config',
    'host',
    'cluster_ca_certificate',
    'token',
    'client_certificate',
    'client_key',
  ]),
  oss: argumentTree([
    'bucket',
    'prefix',
    'key',
    'region',
    'acl',
    'encrypt',
    'tablestore_table',
    'assume_role.role_arn',
    'assume_role.session_name',
    'assume_role.policy',
    'assume_role.session_expiration',
  ]),
  cos: argumentTree([
    'bucket',
    'prefix',
    'key',
    'region',
    'acl',
    'encrypt',
    'assume_role.role_arn',
    'assume_role.session_name',
    'assume_role.session_duration',
    'assume_role.policy',
  ]),
};

/**
 * `pg`'s `conn_str` is a libpq connection string, which can itself name
 * files (`sslrootcert`, `sslkey`, `passfile`) or a service file
 * (`service`): only these parameters may appear in it.
 *
 * @public
 */
export const PG_CONN_STR_PARAMETERS: readonly string[] = [
  'host',
  'hostaddr',
  'port',
  'dbname',
  'user',
  'password',
  'sslmode',
  'connect_timeout',
  'application_name',
  'target_session_attrs',
];

/**
 * Arguments every provider configuration block may set.
 *
 * @public
 */
export const PROVIDER_META_ARGUMENTS: readonly string[] = ['alias', 'version'];

const KUBERNETES_CLUSTER = [
  'host',
  'cluster_ca_certificate',
  'token',
  'client_certificate',
  'client_key',
  'tls_server_name',
];

/**
 * The configuration arguments of well-known providers that stay inside the
 * provider's own API: region, project, tags, assumed roles. Anything else
 * (`shared_config_files`, `shared_credentials_files`, `profile`,
 * `assume_role_with_web_identity`, `custom_ca_bundle`, `endpoints`,
 * `credentials`, `config_path`, `exec`, proxies) is refused unless an
 * environment adds it in `planPolicy.providerArguments`. A provider not
 * listed here may set only {@link PROVIDER_META_ARGUMENTS}.
 *
 * @public
 */
export const PROVIDER_ARGUMENTS: Readonly<Record<string, ArgumentTree>> = {
  'registry.terraform.io/hashicorp/aws': argumentTree([
    'region',
    'allowed_account_ids',
    'forbidden_account_ids',
    'default_tags.tags',
    'ignore_tags.keys',
    'ignore_tags.key_prefixes',
    ...AWS_ASSUME_ROLE,
    'max_retries',
    'retry_mode',
    's3_use_path_style',
    's3_us_east_1_regional_endpoint',
    'use_fips_endpoint',
    'use_dualstack_endpoint',
  ]),
  'registry.terraform.io/hashicorp/google': argumentTree([
    'project',
    'region',
    'zone',
    'default_labels',
    'add_terraform_attribution_label',
    'terraform_attribution_label_addition_strategy',
    'impersonate_service_account',
    'impersonate_service_account_delegates',
    'request_timeout',
    'request_reason',
    'user_project_override',
    'billing_project',
    'scopes',
  ]),
  'registry.terraform.io/hashicorp/azurerm': argumentTree([
    'features',
    'subscription_id',
    'tenant_id',
    'client_id',
    'environment',
    'use_msi',
    'storage_use_azuread',
    'resource_provider_registrations',
    'resource_providers_to_register',
    'skip_provider_registration',
    'partner_id',
    'disable_terraform_partner_id',
  ]),
  'registry.terraform.io/hashicorp/kubernetes': argumentTree([
    ...KUBERNETES_CLUSTER,
    'ignore_annotations',
    'ignore_labels',
  ]),
  'registry.terraform.io/hashicorp/helm': argumentTree([
    ...KUBERNETES_CLUSTER.map(key => `kubernetes.${key}`),
    'burst_limit',
  ]),
};

/**
 * Terraform's built-in functions that compute on their arguments only
 * (`terraform metadata functions -json`, Terraform 1.11). The file
 * functions are separate ({@link FILE_FUNCTIONS}); `templatestring` is on
 * neither list: it evaluates a template held in a value, so the calls in it
 * cannot be inspected before they run.
 *
 * @public
 */
export const PURE_FUNCTIONS: ReadonlySet<string> = new Set([
  'abs',
  'abspath',
  'alltrue',
  'anytrue',
  'base64decode',
  'base64encode',
  'base64gzip',
  'base64sha256',
  'base64sha512',
  'basename',
  'bcrypt',
  'can',
  'ceil',
  'chomp',
  'chunklist',
  'cidrhost',
  'cidrnetmask',
  'cidrsubnet',
  'cidrsubnets',
  'coalesce',
  'coalescelist',
  'compact',
  'concat',
  'contains',
  'csvdecode',
  'dirname',
  'distinct',
  'element',
  'endswith',
  'ephemeralasnull',
  'flatten',
  'floor',
  'format',
  'formatdate',
  'formatlist',
  'indent',
  'index',
  'issensitive',
  'join',
  'jsondecode',
  'jsonencode',
  'keys',
  'length',
  'log',
  'lookup',
  'lower',
  'matchkeys',
  'max',
  'md5',
  'merge',
  'min',
  'nonsensitive',
  'one',
  'parseint',
  'pathexpand',
  'plantimestamp',
  'pow',
  'range',
  'regex',
  'regexall',
  'replace',
  'reverse',
  'rsadecrypt',
  'sensitive',
  'setintersection',
  'setproduct',
  'setsubtract',
  'setunion',
  'sha1',
  'sha256',
  'sha512',
  'signum',
  'slice',
  'sort',
  'split',
  'startswith',
  'strcontains',
  'strrev',
  'substr',
  'sum',
  'textdecodebase64',
  'textencodebase64',
  'timeadd',
  'timecmp',
  'timestamp',
  'title',
  'tobool',
  'tolist',
  'tomap',
  'tonumber',
  'toset',
  'tostring',
  'transpose',
  'trim',
  'trimprefix',
  'trimspace',
  'trimsuffix',
  'try',
  'upper',
  'urlencode',
  'uuid',
  'uuidv5',
  'values',
  'yamldecode',
  'yamlencode',
  'zipmap',
]);

/**
 * The functions that read the file system, and which of their arguments
 * name what they read. They are allowed only with a literal path inside the
 * calling module's own folder (`"${path.module}/files/x.json"`).
 *
 * @public
 */
export const FILE_FUNCTIONS: Readonly<
  Record<string, { reads: 'file' | 'folder'; pattern?: number }>
> = {
  file: { reads: 'file' },
  fileexists: { reads: 'file' },
  filebase64: { reads: 'file' },
  filebase64sha256: { reads: 'file' },
  filebase64sha512: { reads: 'file' },
  filemd5: { reads: 'file' },
  filesha1: { reads: 'file' },
  filesha256: { reads: 'file' },
  filesha512: { reads: 'file' },
  templatefile: { reads: 'file' },
  fileset: { reads: 'folder', pattern: 1 },
};

/**
 * The built-in terraform provider's own functions (`provider::terraform::…`).
 *
 * @public
 */
export const BUILTIN_PROVIDER_FUNCTIONS: ReadonlySet<string> = new Set([
  'encode_tfvars',
  'decode_tfvars',
  'encode_expr',
]);
