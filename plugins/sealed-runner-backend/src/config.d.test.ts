import { loadConfigSchema } from '@backstage/config-loader';
import { JsonObject } from '@backstage/types';
import { z } from 'zod';
import { sealedRunnerConfigSchema } from '@sealed-runner/backstage-plugin-sealed-runner-node';

/**
 * The settings a schema describes: each path (`environments.*.applyBranches[]`:
 * `*` any key of a record, `[]` the items of a list) with the kind of value
 * it takes, where a schema says (`any` where it does not).
 */
type Paths = Map<string, Kind>;
type Kind = 'string' | 'number' | 'boolean' | 'any';

function zodKind(def: any): Kind {
  switch (def.type) {
    case 'string':
    case 'enum':
    case 'template_literal':
      return 'string';
    case 'number':
    case 'int':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'literal':
      return typeof def.values[0] as Kind;
    default:
      return 'any';
  }
}

function jsonSchemaKind(schema: JsonObject): Kind {
  if (Array.isArray(schema.enum)) {
    return 'string';
  }
  switch (schema.type) {
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    default:
      return 'any';
  }
}

function add(out: Paths, path: string, kind: Kind) {
  const seen = out.get(path);
  out.set(path, seen === undefined || seen === kind ? kind : 'any');
  return out;
}

const join = (prefix: string, key: string) =>
  prefix ? `${prefix}.${key}` : key;

/** The paths a zod schema accepts, as its input (what config may say). */
function zodPaths(schema: z.ZodType, prefix = '', out: Paths = new Map()) {
  const def = (schema as z.ZodType & { _zod: { def: any } })._zod.def;
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
      return zodPaths(def.innerType, prefix, out);
    case 'pipe': {
      // A refinement in front of the real shape (nullPrototypeRecord):
      // describe the side that has one.
      const input = def.in._zod.def.type;
      const side = input === 'unknown' || input === 'any' ? def.out : def.in;
      return zodPaths(side, prefix, out);
    }
    case 'object':
      for (const [key, value] of Object.entries(def.shape)) {
        zodPaths(value as z.ZodType, join(prefix, key), out);
      }
      return out;
    case 'record':
      return zodPaths(def.valueType, join(prefix, '*'), out);
    case 'array':
      return zodPaths(def.element, `${prefix}[]`, out);
    case 'union':
      for (const option of def.options) {
        zodPaths(option, prefix, out);
      }
      return out;
    default:
      return add(out, prefix, zodKind(def));
  }
}

/** The paths a JSON schema (as config.d.ts compiles to) describes. */
function jsonSchemaPaths(
  schema: JsonObject,
  prefix = '',
  out: Paths = new Map(),
): Paths {
  const properties = schema.properties as
    | Record<string, JsonObject>
    | undefined;
  const additional = schema.additionalProperties;
  const alternatives = [
    ...((schema.anyOf as JsonObject[] | undefined) ?? []),
    ...((schema.oneOf as JsonObject[] | undefined) ?? []),
  ];
  if (alternatives.length > 0) {
    alternatives.forEach(option => jsonSchemaPaths(option, prefix, out));
    return out;
  }
  if (properties) {
    for (const [key, value] of Object.entries(properties)) {
      jsonSchemaPaths(value, join(prefix, key), out);
    }
    return out;
  }
  if (additional && typeof additional === 'object') {
    return jsonSchemaPaths(additional as JsonObject, join(prefix, '*'), out);
  }
  if (schema.type === 'array' && schema.items) {
    return jsonSchemaPaths(schema.items as JsonObject, `${prefix}[]`, out);
  }
  return add(out, prefix, jsonSchemaKind(schema));
}

const sorted = (paths: Paths) => [...paths.keys()].sort();

describe('config.d.ts', () => {
  it('describes exactly the sealedRunner settings the backend accepts', async () => {
    const loaded = await loadConfigSchema({
      dependencies: ['@sealed-runner/backstage-plugin-sealed-runner-backend'],
      excludePackageDependencies: true,
    });
    const { schemas } = loaded.serialize() as {
      schemas: { path: string; value: JsonObject }[];
    };
    const declared = schemas.find(s => s.path.endsWith('config.d.ts'))!;
    const sealedRunner = (
      declared.value.properties as Record<string, JsonObject>
    ).sealedRunner;

    const acceptedPaths = zodPaths(sealedRunnerConfigSchema);
    const describedPaths = jsonSchemaPaths(sealedRunner);
    const accepted = sorted(acceptedPaths);
    const described = sorted(describedPaths);
    const kindsDiffer = accepted.filter(path => {
      const [a, b] = [acceptedPaths.get(path), describedPaths.get(path)];
      return b !== undefined && a !== 'any' && b !== 'any' && a !== b;
    });
    expect({
      acceptedButNotInConfigDts: accepted.filter(p => !described.includes(p)),
      inConfigDtsButRefused: described.filter(p => !accepted.includes(p)),
      kindsDiffer: kindsDiffer.map(
        path =>
          `${path}: ${acceptedPaths.get(
            path,
          )} in config.ts, ${describedPaths.get(path)} in config.d.ts`,
      ),
    }).toEqual({
      acceptedButNotInConfigDts: [],
      inConfigDtsButRefused: [],
      kindsDiffer: [],
    });
    // The walk saw the whole schema, not an empty shell.
    expect(accepted.length).toBeGreaterThan(40);
  });
});
