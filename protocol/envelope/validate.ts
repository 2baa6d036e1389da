/**
 * Runtime schema validation with ajv, compiled from the same schema objects that `vb schema`
 * prints: ENVELOPE_SCHEMA (vb.envelope/2), ENVELOPE_V1_SCHEMA (vb.envelope/1, frozen) and
 * InferenceBench's own envelope.v1 schema.
 */
import { readFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { SchemaValidationError } from "./errors.ts";
import { ENVELOPE_SCHEMA, ENVELOPE_V1_SCHEMA, ENVELOPE_V1_VERSION, ENVELOPE_VERSION, type VbEnvelope, type VbEnvelopeV1 } from "./schema.ts";

export const INFERENCEBENCH_SCHEMA: Record<string, unknown> = JSON.parse(
  readFileSync(new URL("./inferencebench-v1.schema.json", import.meta.url), "utf8"),
);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// RFC 3339 date-time (JSON Schema "date-time"): date, "T", time with optional fraction, zone.
const DATE_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/**
 * The published v1 schema says metric values are numbers or null, but InferenceBench itself writes
 * string labels there (slo_hardware_class, slo_template_resolved, cost_source, ...): 14 of the 63
 * signed fixtures carry them. Those envelopes are signed as they are, so rejecting them would
 * reject genuine output; the validator accepts strings as metric values and diff ignores them.
 */
function inferenceBenchAsWritten(): Record<string, unknown> {
  const schema = structuredClone(INFERENCEBENCH_SCHEMA) as { properties: { metrics: { additionalProperties: unknown } } };
  schema.properties.metrics.additionalProperties = { type: ["number", "null", "string"] };
  return schema;
}

let compiled: { vb: ValidateFunction; vb1: ValidateFunction; ib: ValidateFunction } | undefined;
function validators() {
  if (!compiled) {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    ajv.addFormat("uuid", UUID);
    ajv.addFormat("date-time", DATE_TIME);
    compiled = { vb: ajv.compile(ENVELOPE_SCHEMA), vb1: ajv.compile(ENVELOPE_V1_SCHEMA), ib: ajv.compile(inferenceBenchAsWritten()) };
  }
  return compiled;
}

export type EnvelopeFormat = "vb.envelope/2" | "vb.envelope/1" | "inferencebench/v1";

/** This tool's own formats (content hash over the whole document, signature block of signers). */
export function isVbFormat(format: EnvelopeFormat): format is "vb.envelope/2" | "vb.envelope/1" {
  return format === "vb.envelope/2" || format === "vb.envelope/1";
}

/** Which format a parsed document claims to be (by its version field), or null. */
export function detectFormat(doc: unknown): EnvelopeFormat | null {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return null;
  const v = (doc as Record<string, unknown>).envelope_version;
  if (v === ENVELOPE_VERSION) return "vb.envelope/2";
  if (v === ENVELOPE_V1_VERSION) return "vb.envelope/1";
  if (v === "v1") return "inferencebench/v1";
  return null;
}

function check(validate: ValidateFunction, doc: unknown, label: string): void {
  if (validate(doc)) return;
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}${e.params && "allowedValues" in e.params ? ` ${JSON.stringify(e.params.allowedValues)}` : ""}`);
  const first = validate.errors?.[0]?.instancePath || "/";
  throw new SchemaValidationError(`${label} does not match its schema: ${errors.slice(0, 5).join("; ")}${errors.length > 5 ? ` (+${errors.length - 5} more)` : ""}`, first, errors);
}

/** Validates a plain (JSON.parse-like) document as vb.envelope/2 (what this version writes). */
export function validateVbEnvelope(doc: unknown): asserts doc is VbEnvelope {
  check(validators().vb, doc, ENVELOPE_VERSION + " envelope");
}

/** Validates a plain document as vb.envelope/1 (written by earlier versions). */
export function validateVbEnvelopeV1(doc: unknown): asserts doc is VbEnvelopeV1 {
  check(validators().vb1, doc, ENVELOPE_V1_VERSION + " envelope");
}

export function validateInferenceBench(doc: unknown): void {
  check(validators().ib, doc, "InferenceBench v1 envelope");
}

/** Validates either format, chosen by envelope_version. */
export function validateAnyEnvelope(doc: unknown): EnvelopeFormat {
  const format = detectFormat(doc);
  if (format === "vb.envelope/2") validateVbEnvelope(doc);
  else if (format === "vb.envelope/1") validateVbEnvelopeV1(doc);
  else if (format === "inferencebench/v1") validateInferenceBench(doc);
  else {
    const v = doc !== null && typeof doc === "object" ? (doc as Record<string, unknown>).envelope_version : undefined;
    throw new SchemaValidationError(`unknown envelope_version ${JSON.stringify(v)} (expected "${ENVELOPE_VERSION}", "${ENVELOPE_V1_VERSION}" or "v1")`, "/envelope_version", []);
  }
  return format;
}
