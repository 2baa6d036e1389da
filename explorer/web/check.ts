/**
 * "Check a response", done by this browser: it fetches the record, the batch and the leaf with
 * its Merkle proof from the prover, recomputes the leaf hash (protocol/merkle, the operators'
 * own code), and checks the proof against the root it reads from the chain itself, over the RPC
 * endpoint shown (not through the explorer's server); the chain also gives the batch's state.
 * The steps are protocol/receipt.ts's, the same `vb receipt` runs.
 */
import { decodeFunctionResult, encodeFunctionData, isAddress, type Address, type Hex } from "viem";
import { batchManagerAbi } from "../../protocol/contracts/abis.ts";
import { batchStateName } from "../../protocol/contracts/states.ts";
import { checkReceipt, parseReceiptInput, ProverHttpError, type Receipt, type ReceiptIO } from "../../protocol/receipt.ts";
import type { Overview } from "./api.ts";
import { h, label } from "./dom.ts";

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(15_000) });
  if (!response.ok) throw new ProverHttpError(url, response.status);
  return response.json();
}

/** One JSON-RPC call, straight from this browser to the node. */
async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }), signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    throw new Error(`cannot reach the RPC endpoint ${url}: ${(error as Error).message}`);
  }
  const body = (await response.json().catch(() => ({}))) as { result?: unknown; error?: { message?: string } };
  if (!response.ok || body.error || body.result === undefined) throw new Error(`${method} at ${url} failed: ${body.error?.message ?? `HTTP ${response.status}`}`);
  return body.result;
}

async function chainIO(rpcUrl: string, batchManager: Address): Promise<ReceiptIO> {
  const chainId = Number(await rpc(rpcUrl, "eth_chainId", []));
  const call = async (functionName: "batchRoot" | "getBatch", batchId: bigint): Promise<unknown> => {
    const data = encodeFunctionData({ abi: batchManagerAbi, functionName, args: [batchId] } as never);
    const result = (await rpc(rpcUrl, "eth_call", [{ to: batchManager, data }, "latest"])) as Hex;
    return decodeFunctionResult({ abi: batchManagerAbi, functionName, data: result } as never);
  };
  return {
    chainId,
    batchManager: batchManager as Hex,
    getJson,
    async readBatch(batchId) {
      const [root, batch] = await Promise.all([call("batchRoot", batchId), call("getBatch", batchId)]);
      return { root: root as Hex, state: batchStateName((batch as { state: number }).state) };
    },
  };
}

const VERDICT: Record<Receipt["status"], string> = {
  valid: "VALID: in an attested batch",
  pending: "PENDING: not attested yet",
  disputed: "DISPUTED",
  slashed: "SLASHED: fraud upheld",
  expired: "EXPIRED: never attested",
  "not-included": "NOT INCLUDED",
};

function render(receipt: Receipt, rpcUrl: string): HTMLElement {
  return h(
    "div",
    { class: `receipt status-${receipt.status}`, "data-status": receipt.status },
    h("p", { class: "verdict" }, VERDICT[receipt.status]),
    h("p", { class: "reason" }, receipt.reason),
    h(
      "ol",
      { class: "steps" },
      ...receipt.steps.map((s) => h("li", { class: s.ok === true ? "ok" : s.ok === false ? "fail" : "wait", "data-check": s.check }, h("b", {}, `${s.ok === true ? "✓" : s.ok === false ? "✗" : "…"} ${s.check}`), " ", s.detail)),
    ),
    receipt.leafHash ? h("p", {}, "leaf hash ", h("code", {}, receipt.leafHash)) : null,
    h("p", { class: "note" }, `Chain read by this browser from ${rpcUrl}.`),
  );
}

/** The form; `preset` fills it (and runs it) from #/check?prover=..&record=.. */
export function checkView(overview: Overview, preset: URLSearchParams): HTMLElement {
  const provers = overview.provers.map((p) => p.url);
  const proverSelect = h(
    "select",
    { id: "check-prover" },
    ...overview.provers.map((p) => h("option", { value: p.url }, p.account ? `${label(p.account) ?? p.account} · ${p.url}` : p.url)),
    h("option", { value: "" }, "another prover…"),
  ) as HTMLSelectElement;
  const proverOther = h("input", { id: "check-prover-url", type: "url", placeholder: "http://host:port", hidden: provers.length > 0 }) as HTMLInputElement;
  const input = h("textarea", { id: "check-input", rows: 6, placeholder: "rec_… or the whole response JSON (with its proof field)", spellcheck: "false" }) as HTMLTextAreaElement;
  const rpc = h("input", { id: "check-rpc", type: "url", value: overview.rpcUrl }) as HTMLInputElement;
  const contract = h("input", { id: "check-contract", value: overview.contracts.batchManager, spellcheck: "false" }) as HTMLInputElement;
  const result = h("div", { id: "check-result", "aria-live": "polite" });
  const button = h("button", { id: "check-run", type: "submit" }, "Check") as HTMLButtonElement;
  proverSelect.addEventListener("change", () => (proverOther.hidden = proverSelect.value !== ""));
  const presetProver = preset.get("prover");
  if (presetProver) {
    if (provers.includes(presetProver)) proverSelect.value = presetProver;
    else {
      proverSelect.value = "";
      proverOther.hidden = false;
      proverOther.value = presetProver;
    }
  }
  input.value = preset.get("record") ?? "";

  const run = async (event?: Event) => {
    event?.preventDefault();
    result.replaceChildren(h("p", { class: "working" }, "checking…"));
    button.disabled = true;
    try {
      const proverUrl = proverSelect.value || proverOther.value;
      if (!isAddress(contract.value.trim())) throw new Error("the BatchManager address must be a 0x address");
      const io = await chainIO(rpc.value.trim(), contract.value.trim() as Address);
      const receipt = await checkReceipt({ proverUrl, response: parseReceiptInput(input.value) }, io);
      result.replaceChildren(render(receipt, rpc.value.trim()));
    } catch (error) {
      result.replaceChildren(h("div", { class: "receipt status-error", "data-status": "error" }, h("p", { class: "verdict" }, "CANNOT CHECK"), h("p", { class: "reason" }, (error as Error).message)));
    } finally {
      button.disabled = false;
    }
  };
  const form = h(
    "form",
    { id: "check-form", onsubmit: (e: Event) => void run(e) },
    h("label", {}, "Prover", proverSelect, proverOther),
    h("label", {}, "Record id or response JSON", input),
    h("details", {}, h("summary", {}, "Chain"), h("label", {}, "RPC endpoint (read from this browser)", rpc), h("label", {}, "BatchManager", contract)),
    button,
  );
  if (presetProver && input.value) queueMicrotask(() => void run());
  return h(
    "section",
    {},
    h("h2", {}, "Check a response"),
    h("p", { class: "lead" }, "Paste a proof record id (the x-proof-record header) or the whole response. This page fetches the leaf and its Merkle proof from the prover, recomputes the leaf hash, and checks the proof against the root it reads from the chain itself."),
    form,
    result,
  );
}
