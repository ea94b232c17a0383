import {
  createMockDirectory,
  mockCredentials,
} from '@backstage/backend-test-utils';
import { Entity } from '@backstage/catalog-model';
import { catalogServiceMock } from '@backstage/plugin-catalog-node/testUtils';
import { JsonValue } from '@backstage/types';
import {
  ANNOTATION_MODULE_SOURCE,
  ANNOTATION_MODULE_VERSIONS,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mockActionContext } from '../__testUtils__/actionContext';
import { listFiles } from '../__testUtils__/files';
import { createRenderModuleAction } from './renderModule';

const MODULE_REF = 'component:default/web-service-module';
const MODULE_SOURCE =
  'git::https://git.example.com/platform/modules.git//web-service';
const PLATFORM = 'group:default/platform';

function moduleEntity(
  changes: {
    name?: string;
    type?: string;
    owner?: string;
    annotations?: Record<string, string>;
  } = {},
): Entity {
  const owner = changes.owner ?? PLATFORM;
  return {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: {
      name: changes.name ?? 'web-service-module',
      namespace: 'default',
      annotations: changes.annotations ?? {
        [ANNOTATION_MODULE_SOURCE]: MODULE_SOURCE,
        [ANNOTATION_MODULE_VERSIONS]: 'v1.0.0, v1.1.0',
      },
    },
    spec: {
      type: changes.type ?? 'terraform-module',
      lifecycle: 'production',
      owner,
    },
    relations: [{ type: 'ownedBy', targetRef: owner }],
  };
}

const validInput = {
  module: MODULE_REF,
  version: 'v1.1.0',
  path: 'live/dev/payments',
  name: 'payments',
  inputs: { name: 'payments', environment: 'dev', replicas: 2 } as Record<
    string,
    JsonValue
  >,
};

describe('sealed-runner:module:render', () => {
  const workspace = createMockDirectory();

  beforeEach(() => workspace.clear());

  function setup(
    options: {
      entities?: Entity[];
      moduleOwners?: string[];
      input?: Partial<typeof validInput> & Record<string, unknown>;
      isDryRun?: boolean;
    } = {},
  ) {
    const catalog = catalogServiceMock({
      entities: options.entities ?? [moduleEntity()],
    });
    const getEntityByRef = jest.spyOn(catalog, 'getEntityByRef');
    const action = createRenderModuleAction({
      catalog,
      vetting: { owners: options.moduleOwners },
    });
    const mock = mockActionContext(action, {
      input: { ...validInput, ...options.input } as typeof validInput,
      workspacePath: workspace.path,
      isDryRun: options.isDryRun,
    });
    return {
      ...mock,
      action,
      getEntityByRef,
      run: () => action.handler(mock.ctx),
    };
  }

  async function rendered(path = 'live/dev/payments'): Promise<any> {
    return JSON.parse(
      await readFile(workspace.resolve(path, 'main.tf.json'), 'utf8'),
    );
  }

  /** Every file the step left in the workspace. */
  const written = () => listFiles(workspace.path);

  it('writes <path>/main.tf.json calling the module at the vetted version with the inputs', async () => {
    const { run, outputs } = setup();
    await run();

    expect(await rendered()).toEqual({
      module: {
        payments: {
          source: `${MODULE_SOURCE}?ref=v1.1.0`,
          name: 'payments',
          environment: 'dev',
          replicas: 2,
        },
      },
    });
    expect(outputs()).toEqual({
      source: `${MODULE_SOURCE}?ref=v1.1.0`,
      path: 'live/dev/payments',
      file: 'live/dev/payments/main.tf.json',
    });
  });

  it('reads a module ref without a kind as a Component', async () => {
    const { run, getEntityByRef } = setup({
      input: { module: 'web-service-module' },
    });
    await run();
    expect(getEntityByRef).toHaveBeenCalledWith(MODULE_REF, expect.anything());
    expect(await rendered()).toMatchObject({
      module: { payments: { source: `${MODULE_SOURCE}?ref=v1.1.0` } },
    });
  });

  it('writes a module without inputs', async () => {
    const { run } = setup({ input: { inputs: undefined } });
    await run();
    expect(await rendered()).toEqual({
      module: { payments: { source: `${MODULE_SOURCE}?ref=v1.1.0` } },
    });
  });

  it('writes the same file and outputs in a dry run, so later dry-run steps see it', async () => {
    const { run, outputs, action } = setup({ isDryRun: true });
    expect(action.supportsDryRun).toBe(true);
    await run();
    expect(await rendered()).toMatchObject({
      module: { payments: { source: `${MODULE_SOURCE}?ref=v1.1.0` } },
    });
    expect(outputs()).toEqual({
      source: `${MODULE_SOURCE}?ref=v1.1.0`,
      path: 'live/dev/payments',
      file: 'live/dev/payments/main.tf.json',
    });
  });

  it("looks the module up as the template's user, so users only render modules they can see", async () => {
    const { run, getEntityByRef, credentials } = setup();
    expect(credentials).toEqual(mockCredentials.user('user:default/erin'));
    await run();
    expect(getEntityByRef).toHaveBeenCalledTimes(1);
    expect(getEntityByRef).toHaveBeenCalledWith(MODULE_REF, { credentials });
  });

  it('renders a module owned by one of moduleOwners, whatever the case of the ref', async () => {
    const { run } = setup({ moduleOwners: ['Group:default/Platform'] });
    await run();
    expect(written()).toEqual(['live/dev/payments/main.tf.json']);
  });

  describe('refuses modules that are not vetted, writing nothing', () => {
    it('an unknown module (not found, or not visible to the user)', async () => {
      const { run } = setup({ entities: [] });
      await expect(run()).rejects.toMatchObject({
        name: 'NotFoundError',
        message: `module ${MODULE_REF} was not found in the catalog`,
      });
      expect(written()).toEqual([]);
    });

    it.each([
      [
        'a Component that is not a terraform-module',
        { entities: [moduleEntity({ type: 'service' })] },
        /is not a vetted service-catalog module/,
      ],
      [
        'a module without a module-source annotation',
        {
          entities: [
            moduleEntity({
              annotations: { [ANNOTATION_MODULE_VERSIONS]: 'v1.1.0' },
            }),
          ],
        },
        /is not a vetted service-catalog module/,
      ],
      [
        'a module not owned by the module owners',
        {
          entities: [moduleEntity({ owner: 'group:default/devs' })],
          moduleOwners: [PLATFORM],
        },
        /is not a vetted service-catalog module .*owned by group:default\/platform/,
      ],
      [
        'a module whose source is not a git:: source',
        {
          entities: [
            moduleEntity({
              annotations: {
                [ANNOTATION_MODULE_SOURCE]:
                  'https://git.example.com/platform/modules.git',
                [ANNOTATION_MODULE_VERSIONS]: 'v1.1.0',
              },
            }),
          ],
        },
        /is not a valid service-catalog module: .*is not a git:: source/,
      ],
      [
        'a module whose source pins a ref itself',
        {
          entities: [
            moduleEntity({
              annotations: {
                [ANNOTATION_MODULE_SOURCE]: `${MODULE_SOURCE}?ref=v1.1.0`,
                [ANNOTATION_MODULE_VERSIONS]: 'v1.1.0',
              },
            }),
          ],
        },
        /is not a valid service-catalog module: .*must not include \?ref=/,
      ],
      [
        'a module with a malformed version list',
        {
          entities: [
            moduleEntity({
              annotations: {
                [ANNOTATION_MODULE_SOURCE]: MODULE_SOURCE,
                [ANNOTATION_MODULE_VERSIONS]: 'v1.1.0, -x',
              },
            }),
          ],
        },
        /is not a valid service-catalog module: module versions: tag "-x"/,
      ],
    ])('%s', async (_, options, message) => {
      const { run } = setup(options);
      await expect(run()).rejects.toMatchObject({
        name: 'InputError',
        message: expect.stringMatching(message),
      });
      expect(written()).toEqual([]);
    });

    it('a version that is not vetted, listing the vetted ones', async () => {
      const { run } = setup({ input: { version: 'v9.9.9' } });
      await expect(run()).rejects.toMatchObject({
        name: 'InputError',
        message: `v9.9.9 is not a vetted version of ${MODULE_REF} (vetted: v1.0.0, v1.1.0)`,
      });
      expect(written()).toEqual([]);
    });
  });

  // Bad inputs are refused before the catalog is asked.
  describe('refuses bad inputs before looking anything up, writing nothing', () => {
    const big = 'x'.repeat(64 * 1024);
    it.each<[string, Record<string, unknown>, RegExp]>([
      [
        'a path that climbs out of the workspace',
        { path: '../x' },
        /^path: .*'\.\.' segments/,
      ],
      [
        'a path that climbs out from inside',
        { path: 'live/../../x' },
        /^path: .*'\.\.' segments/,
      ],
      ['an absolute path', { path: '/abs' }, /^path: .*must be relative/],
      ['a path with a backslash', { path: 'a\\b' }, /^path: .*backslashes/],
      [
        'a path with a newline',
        { path: 'live\n/x' },
        /^path: .*control characters/,
      ],
      [
        'a path with a NUL byte',
        { path: 'live\u0000x' },
        /^path: .*control characters/,
      ],
      [
        'a percent-encoded traversal',
        { path: '%2e%2e/x' },
        /^path: .*percent-encoded/,
      ],
      ['a version that reads as an option', { version: '-x' }, /^version: /],
      [
        'a name that is not an identifier',
        { name: '1payments' },
        /^name "1payments" is not a Terraform identifier/,
      ],
      ['a name with a space', { name: 'a b' }, /is not a Terraform identifier/],
      ['a name with a dot', { name: 'a.b' }, /is not a Terraform identifier/],
      ['a malformed module ref', { module: 'component:' }, /^module: /],
      [
        'the input "source"',
        { inputs: { source: 'git::https://evil.example.com/x.git' } },
        /"source" is a module argument/,
      ],
      [
        'the input "version"',
        { inputs: { version: '1.0.0' } },
        /"version" is a module argument/,
      ],
      [
        'the input "count"',
        { inputs: { count: 0 } },
        /"count" is a module argument/,
      ],
      [
        'the input "for_each"',
        { inputs: { for_each: {} } },
        /"for_each" is a module argument/,
      ],
      [
        'the input "providers"',
        { inputs: { providers: { aws: 'aws.evil' } } },
        /"providers" is a module argument/,
      ],
      [
        'the input "depends_on"',
        { inputs: { depends_on: [] } },
        /"depends_on" is a module argument/,
      ],
      [
        'the input "lifecycle"',
        { inputs: { lifecycle: {} } },
        /"lifecycle" is a module argument/,
      ],
      [
        'an input named __proto__',
        { inputs: JSON.parse('{"__proto__": {"x": 1}}') },
        /"__proto__" is not a Terraform identifier/,
      ],
      [
        'an input named constructor',
        { inputs: { constructor: 1 } },
        /"constructor" is not a Terraform identifier/,
      ],
      [
        'an input name with a dot',
        { inputs: { 'a.b': 1 } },
        /"a\.b" is not a Terraform identifier/,
      ],
      [
        'an input name with a template',
        { inputs: { '${x}': 1 } },
        /is not a Terraform identifier/,
      ],
      [
        'a nested __proto__ key',
        { inputs: { tags: JSON.parse('{"__proto__": 1}') } },
        /inputs\.tags has a forbidden key "__proto__"/,
      ],
      [
        'a nested key with a control character',
        { inputs: { tags: { 'a\u001bb': 1 } } },
        /inputs\.tags has a forbidden key/,
      ],
      [
        'inputs larger than 64 KiB',
        { inputs: { blob: big } },
        /inputs are larger than 65536 bytes/,
      ],
      [
        'an escape sequence in a value',
        { inputs: { name: 'x\u001b[2J' } },
        /inputs\.name contains control characters/,
      ],
      [
        'a carriage return in a value',
        { inputs: { name: 'x\ry' } },
        /inputs\.name contains control characters/,
      ],
      [
        'a control character in a nested object',
        { inputs: { tags: { team: 'a\u0007' } } },
        /inputs\.tags\.team contains control characters/,
      ],
      [
        'a control character in a nested array',
        { inputs: { hosts: ['ok', ['deep\u0000']] } },
        /inputs\.hosts\[1\]\[0\] contains control characters/,
      ],
    ])('%s', async (_, input, message) => {
      const { run, getEntityByRef } = setup({ input });
      await expect(run()).rejects.toThrow(message);
      expect(getEntityByRef).not.toHaveBeenCalled();
      expect(written()).toEqual([]);
    });

    it('accepts inputs of exactly 64 KiB', async () => {
      // {"blob":"…"} is 11 bytes of JSON around the value.
      const { run } = setup({
        input: { inputs: { blob: 'x'.repeat(64 * 1024 - 11) } },
      });
      await run();
      expect(written()).toEqual(['live/dev/payments/main.tf.json']);
    });
  });

  it('keeps newlines and tabs in values (multi-line strings)', async () => {
    const { run } = setup({
      input: { inputs: { script: 'line 1\n\tline 2\n' } },
    });
    await run();
    expect((await rendered()).module.payments.script).toBe(
      'line 1\n\tline 2\n',
    );
  });

  // Terraform reads strings in .tf.json as templates. Whatever a template
  // passes must arrive in the module as the same literal value.
  describe('writes every string as a literal, never a Terraform template', () => {
    const render = async (value: JsonValue) => {
      const { run } = setup({ input: { inputs: { value } } });
      await run();
      return (await rendered()).module.payments.value;
    };

    it.each<[string, JsonValue, JsonValue]>([
      ['a plain string', 'payments', 'payments'],
      ['a directive', '%{ if true }x%{ endif }', '%%{ if true }x%%{ endif }'],
      [
        'a directive in an array',
        ['a', '%{ for x in y }'],
        ['a', '%%{ for x in y }'],
      ],
      [
        'a directive in an object',
        { deep: { deeper: '%{x}' } },
        { deep: { deeper: '%%{x}' } },
      ],
      [
        'numbers, booleans and null',
        [1, 2.5, true, false, null],
        [1, 2.5, true, false, null],
      ],
      ['a lone $ and {', '$ and { and $x and %x', '$ and { and $x and %x'],
    ])('%s', async (_, value, expected) => {
      expect(await render(value)).toEqual(expected);
    });

    // In a replacement *pattern* `$$` means one `$`: escaping must not use one
    // (`${file("/etc/passwd")}` would read a file on the runner).
    it.each<[string, JsonValue, JsonValue]>([
      ['an interpolation', '${file("/etc/passwd")}', '$${file("/etc/passwd")}'],
      [
        'an interpolation inside text',
        'id-${var.secret}-x',
        'id-$${var.secret}-x',
      ],
      [
        'an interpolation in an array',
        ['ok', '${file("/etc/passwd")}'],
        ['ok', '$${file("/etc/passwd")}'],
      ],
      [
        'an interpolation in a nested object',
        { a: [{ b: '${path.root}' }] },
        { a: [{ b: '$${path.root}' }] },
      ],
      ['an already escaped sequence (kept literal too)', '$${x}', '$$${x}'],
    ])('%s', async (_, value, expected) => {
      expect(await render(value)).toEqual(expected);
    });

    // Terraform evaluates the property names of an object value as templates
    // too (HCL JSON spec, "Objects").
    it('an interpolation in a nested object key', async () => {
      expect(await render({ '${file("/etc/passwd")}': 1, '%{x}': 2 })).toEqual({
        '$${file("/etc/passwd")}': 1,
        '%%{x}': 2,
      });
    });

    // The same contract checked by Terraform itself: the written inputs,
    // evaluated as Terraform evaluates module arguments, are the values the
    // template passed.
    it('Terraform evaluates the written inputs to exactly the values passed', async () => {
      const inputs: Record<string, JsonValue> = {
        plain: 'payments',
        interpolation: '${file("/etc/passwd")}',
        directive: '%{ if true }yes%{ endif }',
        multiline: 'a\nb',
        list: ['${path.root}', '%{x}'],
        map: { '${upper("k")}': '${upper("v")}' },
        number: 3,
      };
      const { run } = setup({ input: { inputs } });
      await run();
      const { source: _source, ...arguments_ } = (await rendered()).module
        .payments;
      expect(await evaluateInTerraform(arguments_)).toEqual(inputs);
    });
  });
});

const execFileAsync = promisify(execFile);

/**
 * Evaluates attribute values as Terraform evaluates a module block's
 * arguments (full expression mode) and returns the result as JSON.
 */
async function evaluateInTerraform(
  values: Record<string, JsonValue>,
): Promise<JsonValue> {
  const dir = await mkdtemp(join(tmpdir(), 'sealed-runner-render-tf-'));
  try {
    await writeFile(
      join(dir, 'main.tf.json'),
      JSON.stringify({ locals: { values } }),
    );
    const child = execFileAsync('terraform', ['console'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        TF_CLI_CONFIG_FILE: '/dev/null',
        TF_IN_AUTOMATION: '1',
      },
      timeout: 60_000,
    });
    child.child.stdin?.end('jsonencode(local.values)\n');
    const { stdout } = await child;
    // terraform console prints the result as an HCL string literal.
    return JSON.parse(JSON.parse(stdout.trim()));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('evaluateInTerraform (test helper)', () => {
  // Shows the Terraform test above can fail for the escaping, not only for a
  // missing or misused terraform binary.
  it('reads back the values of escaped and plain strings', async () => {
    expect(
      await evaluateInTerraform({
        a: 'x',
        b: ['$${y}', '%%{z}'],
        c: { '$${k}': 1 },
      }),
    ).toEqual({
      a: 'x',
      b: ['${y}', '%{z}'],
      c: { '${k}': 1 },
    });
  });
});
