import { resolveSafeChildPath } from '@backstage/backend-plugin-api';
import { parseEntityRef, stringifyEntityRef } from '@backstage/catalog-model';
import { InputError, NotFoundError } from '@backstage/errors';
import { CatalogService } from '@backstage/plugin-catalog-node';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import { JsonValue } from '@backstage/types';
import {
  checkRelativePath,
  checkTagName,
  hasControlCharacters,
  MODULE_ENTITY_SPEC_TYPE,
} from '@sealed-runner/backstage-plugin-sealed-runner-common';
import {
  ModuleVetting,
  readVettedModuleEntities,
} from '@sealed-runner/backstage-plugin-sealed-runner-node';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Terraform identifiers, as module block names and input names. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
/**
 * Module block arguments that are not inputs: a template must not pick the
 * source, version, providers or meta-arguments of the module it calls.
 */
const RESERVED_ARGUMENTS = new Set([
  'source',
  'version',
  'providers',
  'count',
  'for_each',
  'depends_on',
  'lifecycle',
]);
const MAX_INPUTS_BYTES = 64 * 1024;
/** The file the action writes in the deployment folder. */
export const RENDERED_FILE = 'main.tf.json';

/**
 * Terraform reads strings in `.tf.json` as templates: `${…}` and `%{…}`
 * would run expressions (`file("/…")`, references to other resources).
 * Template inputs are values, so every string is escaped to its literal.
 */
export function literalValue(value: JsonValue): JsonValue {
  if (typeof value === 'string') {
    // Replacement functions: in a replacement string, '$$' means one '$'.
    return value.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
  }
  if (Array.isArray(value)) {
    return value.map(literalValue);
  }
  if (value !== null && typeof value === 'object') {
    // Terraform reads object keys as templates too.
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        literalValue(k) as string,
        literalValue(v as JsonValue),
      ]),
    );
  }
  return value;
}

/** Keys that mean something to JavaScript objects, refused anywhere in inputs. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Values may hold newlines and tabs (multi-line strings), no other control characters. */
function checkValue(value: unknown, where: string): void {
  if (typeof value === 'string') {
    if (hasControlCharacters(value.replace(/[\n\t]/g, ''))) {
      throw new InputError(`${where} contains control characters`);
    }
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => checkValue(v, `${where}[${i}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (PROTOTYPE_KEYS.has(key) || hasControlCharacters(key)) {
        throw new InputError(
          `${where} has a forbidden key ${JSON.stringify(key)}`,
        );
      }
      checkValue(v, `${where}.${key}`);
    }
  } else if (!['number', 'boolean'].includes(typeof value) && value !== null) {
    throw new InputError(`${where} is not a JSON value`);
  }
}

function checkInputs(inputs: Record<string, JsonValue>): void {
  for (const key of Object.keys(inputs)) {
    if (!IDENTIFIER.test(key) || PROTOTYPE_KEYS.has(key)) {
      throw new InputError(
        `input name ${JSON.stringify(key)} is not a Terraform identifier`,
      );
    }
    if (RESERVED_ARGUMENTS.has(key)) {
      throw new InputError(
        `input name "${key}" is a module argument a template may not set`,
      );
    }
  }
  if (Buffer.byteLength(JSON.stringify(inputs)) > MAX_INPUTS_BYTES) {
    throw new InputError(`inputs are larger than ${MAX_INPUTS_BYTES} bytes`);
  }
  checkValue(inputs, 'inputs');
}

/**
 * `sealed-runner:module:render`: writes a deployment folder that calls one
 * vetted catalog module at one vetted version, so templates provision only
 * what the platform team's catalog allows.
 */
export function createRenderModuleAction(options: {
  catalog: CatalogService;
  /** `sealedRunner.modules`: who may vet a module. */
  vetting?: ModuleVetting;
}) {
  const { catalog, vetting } = options;
  return createTemplateAction({
    id: 'sealed-runner:module:render',
    description:
      'Writes a Terraform deployment folder (main.tf.json) into the workspace that calls one vetted ' +
      'service-catalog module at one of its vetted versions, with the given inputs. Refuses modules ' +
      'that are not vetted terraform-module entities and versions that are not vetted.',
    supportsDryRun: true,
    examples: [
      {
        description: 'Render a dev deployment of the web-service module',
        example: [
          'steps:',
          '  - id: render',
          '    action: sealed-runner:module:render',
          '    input:',
          '      module: component:default/web-service-module',
          '      version: v1.1.0',
          '      path: live/dev/${{ parameters.name }}',
          '      name: ${{ parameters.name }}',
          '      inputs:',
          '        name: ${{ parameters.name }}',
          '        environment: dev',
        ].join('\n'),
      },
    ],
    schema: {
      input: {
        module: z =>
          z
            .string()
            .min(1)
            .max(255)
            .describe(
              'Entity ref of a terraform-module Component, e.g. component:default/web-service-module',
            ),
        version: z =>
          z
            .string()
            .min(1)
            .max(128)
            .describe('One of the vetted versions (git tags) of the module'),
        path: z =>
          z
            .string()
            .min(1)
            .max(1024)
            .describe(
              'Folder in the workspace to write, e.g. live/dev/my-service',
            ),
        name: z =>
          z
            .string()
            .min(1)
            .max(64)
            .describe('Name of the module block (a Terraform identifier)'),
        inputs: z =>
          z
            .record(z.string(), z.any())
            .optional()
            .describe(
              'Module inputs; strings are written literally (no Terraform interpolation)',
            ),
      },
      output: {
        source: z =>
          z.string().describe('The module source written, with ?ref='),
        path: z =>
          z.string().describe('The folder written, relative to the workspace'),
        file: z =>
          z.string().describe('The file written, relative to the workspace'),
      },
    },
    async handler(ctx) {
      const { version, name } = ctx.input;
      const inputs = (ctx.input.inputs ?? {}) as Record<string, JsonValue>;
      const path = checkRelativePath(ctx.input.path);
      if (!path.ok) {
        throw new InputError(`path: ${path.reason}`);
      }
      const tag = checkTagName(version);
      if (!tag.ok) {
        throw new InputError(`version: ${tag.reason}`);
      }
      if (!IDENTIFIER.test(name)) {
        throw new InputError(
          `name ${JSON.stringify(name)} is not a Terraform identifier`,
        );
      }
      checkInputs(inputs);
      let moduleRef: string;
      try {
        moduleRef = stringifyEntityRef(
          parseEntityRef(ctx.input.module, { defaultKind: 'component' }),
        );
      } catch (error) {
        throw new InputError(`module: ${(error as Error).message}`);
      }

      // The user must be able to see the module; vetting is the platform team's.
      const entity = await catalog.getEntityByRef(moduleRef, {
        credentials: await ctx.getInitiatorCredentials(),
      });
      if (!entity) {
        throw new NotFoundError(
          `module ${moduleRef} was not found in the catalog`,
        );
      }
      const [vetted] = readVettedModuleEntities(
        [entity],
        vetting,
        (_ref, reason) => {
          throw new InputError(
            `module ${moduleRef} is not a valid service-catalog module: ${reason}`,
          );
        },
      );
      if (!vetted) {
        throw new InputError(
          `${moduleRef} is not a vetted service-catalog module (a Component with spec.type ` +
            `${MODULE_ENTITY_SPEC_TYPE} and module annotations${
              vetting?.owners ? `, owned by ${vetting.owners.join(', ')}` : ''
            })`,
        );
      }
      if (!vetted.module.versions.includes(tag.value)) {
        throw new InputError(
          `${
            tag.value
          } is not a vetted version of ${moduleRef} (vetted: ${vetted.module.versions.join(
            ', ',
          )})`,
        );
      }

      const source = `${vetted.module.source}?ref=${tag.value}`;
      const file = `${path.value}/${RENDERED_FILE}`;
      const target = resolveSafeChildPath(ctx.workspacePath, file);
      const document = {
        module: {
          [name]: {
            source,
            ...(literalValue(inputs) as Record<string, JsonValue>),
          },
        },
      };
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, `${JSON.stringify(document, null, 2)}\n`);
      ctx.logger.info(`Wrote ${file}: module "${name}" from ${source}`);
      ctx.output('source', source);
      ctx.output('path', path.value);
      ctx.output('file', file);
    },
  });
}
