import fc from "fast-check";

/** Just enough of JSON Schema (as /openapi.json writes it) to generate values from. */
export type Schema = {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: Schema | boolean;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  format?: string;
  default?: unknown;
};

export type Components = { schemas?: Record<string, Schema> };

const SAMPLE_EMAILS = ["ada@example.com", "grace.hopper@example.org", "a+b@sub.example.co"];

/** Strings a field accepts: short ones mostly, and one of the longest it allows. */
function stringArb(schema: Schema): fc.Arbitrary<string> {
  if (schema.format === "date-time") {
    return fc
      .date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2035-01-01T00:00:00Z"), noInvalidDate: true })
      .map((d) => d.toISOString());
  }
  if (schema.format === "email") return fc.constantFrom(...SAMPLE_EMAILS);
  const min = schema.minLength ?? 0;
  const max = schema.maxLength ?? 40;
  const plain = fc.string({ minLength: min, maxLength: Math.min(max, Math.max(min, 24)) });
  const pattern = schema.pattern ? new RegExp(schema.pattern, "u") : null;
  const longest = fc.string({ minLength: max, maxLength: max, unit: "grapheme-ascii" });
  const candidates = max > 24 ? fc.oneof({ weight: 4, arbitrary: plain }, { weight: 1, arbitrary: longest }) : plain;
  return pattern ? candidates.filter((s) => pattern.test(s)) : candidates;
}

/** Values valid against `schema`, as far as this generator knows how (the server is the judge). */
export function valueArb(schema: Schema, components: Components, depth = 0): fc.Arbitrary<unknown> {
  if (schema.$ref) {
    const name = schema.$ref.replace("#/components/schemas/", "");
    return valueArb(components.schemas?.[name] ?? {}, components, depth);
  }
  const options = schema.oneOf ?? schema.anyOf;
  if (options) return fc.oneof(...options.map((option) => valueArb(option, components, depth + 1)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.const !== undefined) return fc.constant(schema.const);
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  if (types.length > 1) return fc.oneof(...types.map((type) => valueArb({ ...schema, type }, components, depth)));
  switch (types[0]) {
    case "string":
      return stringArb(schema);
    case "integer":
      return fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 1_000_000 });
    case "number":
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array": {
      const minLength = schema.minItems ?? 0;
      const maxLength = Math.min(schema.maxItems ?? 3, Math.max(minLength, 3));
      return fc.array(valueArb(schema.items ?? {}, components, depth + 1), { minLength, maxLength });
    }
    case "object":
      return objectArb(schema, components, depth);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function objectArb(schema: Schema, components: Components, depth: number): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  const model = Object.fromEntries(
    Object.entries(properties).map(([key, value]) => [key, valueArb(value, components, depth + 1)]),
  );
  const known = fc.record(model, { requiredKeys: (schema.required ?? []).filter((k) => k in properties) });
  const extra = schema.additionalProperties;
  if (Object.keys(properties).length > 0 || !extra || depth > 3) return known;
  const values = extra === true ? fc.jsonValue({ maxDepth: 1 }) : valueArb(extra, components, depth + 1);
  return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), values, { maxKeys: 3 });
}

/** Values the schema likely refuses: junk JSON, a field dropped, a field of the wrong type. */
export function invalidArb(schema: Schema, components: Components): fc.Arbitrary<unknown> {
  const valid = valueArb(schema, components);
  return fc.oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.tuple(valid, fc.nat(), fc.jsonValue({ maxDepth: 1 }), fc.boolean()).map(([value, index, junk, drop]) => {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return junk;
      const keys = Object.keys(value);
      if (keys.length === 0) return { unexpected: junk };
      const key = keys[index % keys.length]!;
      const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      if (drop) delete copy[key];
      else copy[key] = junk;
      return copy;
    }),
  );
}
