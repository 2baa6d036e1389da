/**
 * The per-request traces file an envelope signs (`traces.jsonl`, one JSON object a line). Its
 * sha256 and count are in the envelope; these schemas say what a line holds, so that diff,
 * report and the chain-link check can read a file from anyone without trusting its shape.
 *
 * vb.traces/1 is what vb.envelope/1 runs wrote; vb.traces/2 (vb.envelope/2) adds the request's
 * max_tokens and its `proof`: the proof-record id and leaf hash the endpoint returned with the
 * response (the project's prover: the x-proof-record header and the stream's proof extension),
 * and, once the run linked it, the on-chain batch and leaf index it went into.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { EnvelopeError } from "./errors.ts";

export const TRACES_FORMAT = "vb.traces/2";

const ms = { type: "number" } as const;
const msOrNull = { type: ["number", "null"] } as const;

export const TRACE_LINE_V1_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "vb.traces/1 line",
  type: "object",
  required: ["seq", "launch", "prompt_index", "ok", "status", "error", "scheduled_ms", "queue_ms", "ttft_ms", "e2e_ms", "tpot_ms", "itl_ms", "output_tokens", "prompt_tokens", "token_source", "slo_met"],
  properties: {
    seq: { type: "integer", minimum: 0 },
    launch: { type: "integer", minimum: 0 },
    prompt_index: { type: "integer", minimum: 0 },
    ok: { type: "boolean" },
    status: { type: "integer", minimum: 0 },
    error: { type: ["string", "null"] },
    scheduled_ms: ms,
    queue_ms: ms,
    ttft_ms: msOrNull,
    e2e_ms: ms,
    tpot_ms: msOrNull,
    itl_ms: { type: "array", items: ms },
    output_tokens: { type: "integer", minimum: 0 },
    prompt_tokens: { type: ["integer", "null"], minimum: 0 },
    token_source: { enum: ["server_usage", "stream_chunks"] },
    slo_met: { type: "boolean" },
  },
} as const;

export const TRACE_LINE_SCHEMA = {
  ...TRACE_LINE_V1_SCHEMA,
  title: "vb.traces/2 line",
  additionalProperties: false,
  required: [...TRACE_LINE_V1_SCHEMA.required, "max_tokens", "proof"],
  properties: {
    ...TRACE_LINE_V1_SCHEMA.properties,
    max_tokens: { type: "integer", minimum: 1 },
    proof: {
      type: ["object", "null"], additionalProperties: false, required: ["record_id", "leaf_hash", "batch_id", "leaf_index"],
      properties: {
        record_id: { type: "string", pattern: "^[A-Za-z0-9_-]{1,128}$" },
        leaf_hash: { type: ["string", "null"], pattern: "^0x[0-9a-f]{64}$" },
        batch_id: { type: ["string", "null"], pattern: "^(0|[1-9][0-9]{0,77})$" },
        leaf_index: { type: ["integer", "null"], minimum: 0 },
      },
    },
  },
} as const;

/** Where a traced response went: the record the endpoint named, and (once linked) its leaf. */
export interface TraceProof {
  record_id: string;
  leaf_hash: string | null;
  /** The on-chain batch id (decimal) and the leaf's index in it, when the run linked it. */
  batch_id: string | null;
  leaf_index: number | null;
}

export interface TraceLineV1 {
  seq: number;
  launch: number;
  prompt_index: number;
  ok: boolean;
  status: number;
  error: string | null;
  /** When the driver scheduled the request, from the start of the measured phase. */
  scheduled_ms: number;
  queue_ms: number;
  ttft_ms: number | null;
  e2e_ms: number;
  tpot_ms: number | null;
  itl_ms: number[];
  output_tokens: number;
  prompt_tokens: number | null;
  token_source: "server_usage" | "stream_chunks";
  slo_met: boolean;
}

export interface TraceLine extends TraceLineV1 {
  max_tokens: number;
  proof: TraceProof | null;
}

export class TraceFormatError extends EnvelopeError {
  override name = "TraceFormatError";
}

let compiled: { v1: ValidateFunction; v2: ValidateFunction } | undefined;
function validators() {
  compiled ??= (() => {
    const ajv = new Ajv2020({ allErrors: false, strict: false });
    return { v1: ajv.compile(TRACE_LINE_V1_SCHEMA), v2: ajv.compile(TRACE_LINE_SCHEMA) };
  })();
  return compiled;
}

/**
 * Parses a traces file. v1 lines are read as v2 lines without proof (max_tokens unknown: 0 is
 * never a valid value in v2, so readers can tell). Throws TraceFormatError naming the line.
 */
export function parseTraces(text: string, format: "vb.traces/1" | "vb.traces/2"): TraceLine[] {
  const validate = format === "vb.traces/2" ? validators().v2 : validators().v1;
  const out: TraceLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch (e) {
      throw new TraceFormatError(`traces line ${i + 1} is not JSON: ${(e as Error).message}`, `line ${i + 1}`);
    }
    if (!validate(doc)) {
      const err = validate.errors?.[0];
      throw new TraceFormatError(`traces line ${i + 1} is not a ${format} line: ${err?.instancePath || "/"} ${err?.message ?? "is invalid"}`, `line ${i + 1}${err?.instancePath ?? ""}`);
    }
    const t = doc as TraceLine;
    if (format === "vb.traces/1") {
      t.max_tokens = 0;
      t.proof = null;
    }
    out.push(t);
  }
  return out;
}
