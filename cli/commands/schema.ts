/** `vb schema`: print the JSON Schema an envelope is validated with. */
import { ENVELOPE_SCHEMA, ENVELOPE_V1_SCHEMA } from "../../protocol/envelope/schema.ts";
import { TRACE_LINE_SCHEMA } from "../../protocol/envelope/traces.ts";
import { INFERENCEBENCH_SCHEMA } from "../../protocol/envelope/validate.ts";
import { command, parse, UsageError } from "../common.ts";

const SCHEMAS: Record<string, unknown> = { vb: ENVELOPE_SCHEMA, "vb-v1": ENVELOPE_V1_SCHEMA, traces: TRACE_LINE_SCHEMA, inferencebench: INFERENCEBENCH_SCHEMA };

export async function schemaMain(args: string[]): Promise<number> {
  const cmd = command("schema", "print an envelope JSON Schema").option("--format <name>", `one of ${Object.keys(SCHEMAS).join(", ")}`, "vb");
  const { opts: v } = parse(cmd, args);
  const f = String(v.format);
  if (!(f in SCHEMAS)) throw new UsageError(`--format must be one of ${Object.keys(SCHEMAS).join(", ")}, got "${f}"`);
  console.log(JSON.stringify(SCHEMAS[f], null, 2));
  return 0;
}
