/**
 * What one fuzzed interface is judged on, and the helpers that count it. Targets: at least
 * MIN_INPUTS inputs, and 0 crashes, hangs, 5xx answers and untyped errors.
 *   crash   an exception escaping the interface, the server process failing, an unhandled rejection
 *   hang    no complete answer within the hang bound
 *   5xx     an HTTP answer (or admission status) of 500..599
 *   untyped an error that is not one of the project's typed errors (a FieldError), or an HTTP
 *           error body that is not the interface's error shape
 */
import { FieldError } from "../../protocol/errors.ts";

export const MIN_INPUTS = 10_000;

export interface Figures {
  name: string;
  inputs: number;
  crashes: number;
  hangs: number;
  http5xx: number;
  untyped: number;
  seconds: number;
  /** Outcome counts (status codes, error classes, "ok"), to show what the inputs exercised. */
  outcomes: Map<string, number>;
  /** A few offending inputs, for the report. */
  examples: string[];
}

export function newFigures(name: string): Figures {
  return { name, inputs: 0, crashes: 0, hangs: 0, http5xx: 0, untyped: 0, seconds: 0, outcomes: new Map(), examples: [] };
}

export function count(figures: Figures, outcome: string): void {
  figures.outcomes.set(outcome, (figures.outcomes.get(outcome) ?? 0) + 1);
}

export function problem(figures: Figures, kind: "crashes" | "hangs" | "http5xx" | "untyped", input: unknown, detail: string): void {
  figures[kind] += 1;
  if (figures.examples.length < 5) {
    let shown: string;
    try {
      shown = typeof input === "string" ? input : input instanceof Uint8Array ? Buffer.from(input).toString("hex") : JSON.stringify(input, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
    } catch {
      shown = String(input);
    }
    figures.examples.push(`${kind}: ${detail} <- ${String(shown).slice(0, 300)}`);
  }
}

/** A typed error of the project: a FieldError (or a subclass). */
export function isTyped(error: unknown): boolean {
  return error instanceof FieldError;
}

/** Whether all figures meet the targets; `minInputs` lowers the input target for small runs. */
export function met(figures: Figures, minInputs = MIN_INPUTS): boolean {
  return figures.inputs >= minInputs && figures.crashes === 0 && figures.hangs === 0 && figures.http5xx === 0 && figures.untyped === 0;
}

/** Runs `fn` with a bound: resolves "hang" when it takes longer than `ms`. */
export async function bounded<T>(ms: number, fn: () => Promise<T>): Promise<T | "hang"> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([fn(), new Promise<"hang">((resolve) => (timer = setTimeout(() => resolve("hang"), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
