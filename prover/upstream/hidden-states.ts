import { MalformedHiddenStatesError } from "./errors.ts";

/**
 * SGLang's `meta_info.hidden_states` for one request, as its scheduler collects them: element 0
 * holds the prefill's rows (one per prompt token), then each decode step appends the row of the
 * token it fed, so a reply of n tokens has n - 1 decode rows (its last token is never fed back).
 * Every row is the input of the LM head (the final norm's output), hiddenSize floats: the tensor
 * TOPLOC proves. This reads them into the layout the engine's proofs use: the prefill rows as one
 * block, then one row per decode step, keeping only the rows the kept output needs.
 */
export interface HiddenStateRows {
  prefill: Float32Array;
  decode: Float32Array[];
}

function row(value: unknown, hiddenSize: number, where: string): Float32Array {
  if (!Array.isArray(value)) throw new MalformedHiddenStatesError(`${where} is not an array of ${hiddenSize} numbers`, where);
  if (value.length !== hiddenSize) throw new MalformedHiddenStatesError(`${where} has ${value.length} values; the model's hidden size is ${hiddenSize}`, where);
  const out = new Float32Array(hiddenSize);
  for (let i = 0; i < hiddenSize; i++) {
    const v = value[i];
    if (typeof v !== "number" || !Number.isFinite(v)) throw new MalformedHiddenStatesError(`${where}[${i}] is ${JSON.stringify(v)}, not a finite number`, `${where}[${i}]`);
    out[i] = v;
  }
  return out;
}

/**
 * Checks and converts the hidden states of a reply whose kept output has `outputLength` tokens
 * (possibly fewer than generated: a stop string cut it), for a prompt of `promptLength` tokens.
 */
export function readHiddenStates(value: unknown, promptLength: number, outputLength: number, hiddenSize: number): HiddenStateRows {
  const field = "meta_info.hidden_states";
  if (value === undefined || value === null) {
    throw new MalformedHiddenStatesError(`${field} is missing: start SGLang with --enable-return-hidden-states`, field);
  }
  if (!Array.isArray(value) || value.length === 0) throw new MalformedHiddenStatesError(`${field} must be a non-empty array`, field);
  const prefillRows = value[0];
  if (!Array.isArray(prefillRows) || prefillRows.length !== promptLength) {
    throw new MalformedHiddenStatesError(
      `${field}[0] must hold one row per prompt token (${promptLength}), got ${Array.isArray(prefillRows) ? prefillRows.length : typeof prefillRows}`,
      `${field}[0]`,
    );
  }
  const prefill = new Float32Array(promptLength * hiddenSize);
  prefillRows.forEach((r, i) => prefill.set(row(r, hiddenSize, `${field}[0][${i}]`), i * hiddenSize));
  const needed = Math.max(0, outputLength - 1);
  if (value.length - 1 < needed) {
    throw new MalformedHiddenStatesError(`${field} has ${value.length - 1} decode rows; ${outputLength} output tokens need ${needed}`, field);
  }
  const decode: Float32Array[] = [];
  for (let t = 1; t <= needed; t++) decode.push(row(value[t], hiddenSize, `${field}[${t}]`));
  return { prefill, decode };
}
