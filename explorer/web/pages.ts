/** The explorer's pages, each drawn from the JSON API. */
import { api, type BatchDetail, type BatchSummary, type Dispute, type Member, type Overview, type Slash, type Stats } from "./api.ts";
import { statsCharts } from "./charts.ts";
import { ago, badge, dl, h, hash, percent, section, short, table, tokens, until, who } from "./dom.ts";

const batchLink = (id: string) => h("a", { href: `#/batch/${id}` }, `#${id}`);
const disputeLink = (id: string) => h("a", { href: `#/dispute/${id}` }, `dispute ${id}`);
const txCell = (tx: string) => h("code", { title: tx }, short(tx, 6));

function cards(o: Overview): HTMLElement {
  const card = (label: string, value: number, cls: string) => h("div", { class: `card ${cls}`, "data-count": label }, h("b", {}, String(value)), h("span", {}, label));
  return h(
    "div",
    { class: "cards" },
    card("batches", o.counts.batches, ""),
    card("attested", o.counts.attested, "state-attested"),
    card("finalized", o.counts.finalized, "state-finalized"),
    card("pending", o.counts.pending, "state-submitted"),
    card("disputed", o.counts.disputed, "state-disputed"),
    card("slashed", o.counts.slashed, "state-slashed"),
    card("expired", o.counts.expired, "state-expired"),
    card("operators", o.counts.operators, ""),
    card("provers", o.counts.provers, ""),
  );
}

export function batchRows(batches: BatchSummary[]): HTMLElement {
  return table(
    ["batch", "prover", "leaves", "state", "attesting stake", "disputes", "submitted"],
    batches.map((b) => [batchLink(b.id), who(b.prover), b.leafCount, badge(b.state), b.attestedWeight ? `${percent(b.attestedWeight, b.totalWeight)} (${b.signers} signers)` : "–", b.disputes || "–", ago(b.submittedAt)]),
    { id: "batches-table" },
  );
}

export async function homePage(o: Overview): Promise<HTMLElement> {
  const { data } = await api<{ data: BatchSummary[] }>("/batches?limit=100");
  return h(
    "div",
    {},
    cards(o),
    section(
      "Batches",
      h("p", { class: "lead" }, `A batch is Attested once operators holding ${o.config.attestThresholdBps / 100}% of the stake sign it, and Finalized when its ${o.config.challengeWindow} s challenge window passes without fraud upheld. An upheld dispute slashes the prover ${o.config.proverSlashBps / 100}% (and its attesters ${o.config.operatorSlashBps / 100}%).`),
      batchRows(data),
    ),
  );
}

const statsCache = new Map<string, Promise<HTMLElement>>();

function statsSection(batch: BatchDetail, o: Overview): Promise<HTMLElement> {
  const key = batch.id;
  let cached = statsCache.get(key);
  if (!cached) {
    cached = api<Stats>(`/batches/${batch.id}/stats`).then(
      (stats) => {
        const origin = new URL(batch.dataURI).origin;
        const leaves = table(
          ["leaf", "outcome", "chunks", "check"],
          stats.leaves.map((l) => [
            l.index,
            h("span", { class: `outcome-${l.outcome}`, title: l.reason }, l.outcome),
            l.chunks.length || "–",
            l.recordId ? h("a", { href: `#/check?prover=${encodeURIComponent(origin)}&record=${l.recordId}` }, "check this response") : l.reason,
          ]),
          { id: "stats-leaves" },
        );
        const profile = stats.profile.contentHash ? `${stats.profile.name} (${stats.profile.contentHash.slice(0, 10)}…, false-rejection budget ${stats.profile.falseRejectionBudget} per request)` : stats.profile.name;
        return section(
          "Verification statistics",
          h("p", { class: "lead", id: "stats-status", "data-status": stats.status }, stats.status === "ok" ? `The explorer recomputed ${stats.leaves.length} leaves with ${stats.model} and judged each whole request (every TOPLOC chunk, every token replayed through the sampler) against the thresholds of profile ${profile}.` : `No statistics: ${stats.reason}.`),
          stats.status === "ok" ? statsCharts(stats) : null,
          stats.leaves.length ? leaves : null,
        );
      },
      (error: Error) => {
        statsCache.delete(key);
        return section("Verification statistics", h("p", { class: "lead" }, `unavailable: ${error.message}`));
      },
    );
    if (o.statsLeaves === 0) cached = Promise.resolve(section("Verification statistics", h("p", { class: "lead" }, "off (the explorer was started with --stats-leaves 0)")));
    statsCache.set(key, cached);
  }
  return cached;
}

function deadline(b: BatchDetail): [string, string][] {
  if (b.state === "Submitted" || (b.state === "Disputed" && !b.attestation)) return [["response deadline", until(b.deadline)]];
  if (b.state === "Attested" || b.state === "Cleared" || b.state === "Disputed") return [["challenge deadline", until(b.deadline)]];
  return [];
}

export async function batchPage(o: Overview, id: string): Promise<HTMLElement> {
  const b = await api<BatchDetail>(`/batches/${id}`);
  const a = b.attestation;
  return h(
    "div",
    {},
    h("h1", {}, `Batch #${b.id} `, badge(b.state)),
    dl([
      ["prover", who(b.prover)],
      ["leaves", String(b.leafCount)],
      ["root", hash(b.root)],
      ["model id", hash(b.modelId)],
      ["manifest hash", hash(b.envelopeHash)],
      ["verification profile", hash(b.profileHash)],
      ["data", h("code", {}, b.dataURI)],
      ["stake counted at block", b.refBlock],
      // The deadline that still matters: to be attested (Submitted, or disputed before any
      // attestation), or to be disputed (Attested, Cleared, or disputed after one).
      ...deadline(b),
      ["seized", b.seized ? `${tokens(b.seized)} tokens` : null],
    ]),
    section("State history", table(["state", "when", "block", "transaction", ""], b.history.map((c) => [badge(c.state), ago(c.timestamp), c.block, txCell(c.tx), c.note ?? ""]), { id: "history-table" })),
    section(
      "Attestation",
      a
        ? h(
            "div",
            {},
            h("p", { class: "lead" }, `${a.signers.length} operators checked ${a.leavesChecked} leaves; attesting stake ${tokens(a.attestedWeight)} of ${tokens(a.totalWeight)} (${percent(a.attestedWeight, a.totalWeight)}), block ${a.block}, ${a.scheme === "bls" ? "one BLS aggregate signature" : "ECDSA signatures"}.`),
            table(["operator", "signing key", "stake at reference block"], a.signers.map((s) => [who(s.operator), hash(s.signingKey), tokens(s.weight)]), { id: "signers-table" }),
          )
        : h("p", { class: "lead" }, "Not attested."),
    ),
    b.disputeList.length ? section("Disputes", disputeTable(b.disputeList)) : null,
    await statsSection(b, o),
  );
}

function disputeTable(disputes: Dispute[]): HTMLElement {
  return table(
    ["dispute", "batch", "challenger", "votes (fraud / clean stake)", "outcome", "opened"],
    disputes.map((d) => [disputeLink(d.id), batchLink(d.batchId), who(d.challenger), `${tokens(d.fraudWeight)} / ${tokens(d.cleanWeight)}`, badge(d.state), ago(d.opened.timestamp)]),
    { id: "disputes-table" },
  );
}

export async function disputesPage(): Promise<HTMLElement> {
  const { data } = await api<{ data: Dispute[] }>("/disputes?limit=100");
  return section("Disputes", h("p", { class: "lead" }, "A dispute names one leaf of a batch (its inclusion proven on chain); operators recompute it and vote, weighted by stake."), disputeTable(data));
}

export async function disputePage(id: string): Promise<HTMLElement> {
  const d = await api<Dispute>(`/disputes/${id}`);
  return h(
    "div",
    {},
    h("h1", {}, `Dispute ${d.id} `, badge(d.state)),
    dl([
      ["batch", batchLink(d.batchId)],
      ["challenger", who(d.challenger)],
      ["disputed leaf", hash(d.leafHash)],
      ["evidence", hash(d.evidence)],
      ["voting deadline", until(d.votingDeadline)],
      ["fraud stake", tokens(d.fraudWeight)],
      ["clean stake", tokens(d.cleanWeight)],
      ["outcome", d.resolved ? `${d.resolved.outcome}, ${tokens(d.resolved.paidToChallenger)} tokens paid to the challenger` : "open"],
    ]),
    section(
      "Votes",
      d.votesKnown ? null : h("p", { class: "lead" }, "Some votes were cast through another contract: only their totals are known."),
      table(["operator", "signing key", "vote", "stake"], d.votes.map((v) => [who(v.operator), hash(v.signingKey), h("span", { class: v.fraud ? "vote-fraud" : "vote-clean" }, v.fraud ? "fraud" : "clean"), tokens(v.weight)]), { id: "votes-table" }),
    ),
  );
}

export async function slashingPage(): Promise<HTMLElement> {
  const { data } = await api<{ data: Slash[] }>("/slashings");
  return section(
    "Slashing",
    h("p", { class: "lead" }, "Stake taken by upheld disputes (the prover and the batch's attesters) and for equivocation (one signing key signing both ways)."),
    table(
      ["account", "for", "amount", "batch", "when", "transaction"],
      data.map((s) => [who(s.account), s.kind === "fraud" ? (s.disputeId ? disputeLink(s.disputeId) : "fraud") : `equivocation (key ${short(s.signingKey ?? "")})`, `${tokens(s.amount)} tokens`, s.batchId ? batchLink(s.batchId) : "–", ago(s.timestamp), txCell(s.tx)]),
      { id: "slashing-table" },
    ),
  );
}

const VERDICT_TEXT: Record<string, string> = { attested: "attested", "vote-fraud": "voted fraud", "vote-clean": "voted clean", disputed: "opened a dispute" };

function verdictCell(m: Member): HTMLElement {
  return h("span", {}, ...m.verdicts.map((v, i) => h("span", { class: `verdict-${v.kind}` }, i ? ", " : "", `${VERDICT_TEXT[v.kind] ?? v.kind} `, batchLink(v.batchId))));
}

export async function membersPage(role: "operators" | "provers"): Promise<HTMLElement> {
  const { data } = await api<{ data: Member[] }>(`/${role}`);
  return section(
    role === "operators" ? "Operators" : "Provers",
    table(
      role === "operators" ? ["operator", "signing key", "active stake", "unbonding", "recent verdicts", "slashed"] : ["prover", "signing key", "active stake", "unbonding", "batches", "slashed"],
      data.map((m) => [
        who(m.account),
        hash(m.signingKey),
        tokens(m.stake.active),
        m.stake.unbonding === "0" ? "–" : `${tokens(m.stake.unbonding)} (withdrawable ${until(m.stake.releaseAt)})`,
        role === "operators" ? verdictCell(m) : m.batchesSubmitted,
        m.slashes.length ? `${m.slashes.length}×, ${tokens(m.slashes.reduce((s, x) => s + BigInt(x.amount), 0n).toString())} tokens` : "–",
      ]),
      { id: `${role}-table` },
    ),
  );
}

export async function memberPage(address: string): Promise<HTMLElement> {
  const m = await api<Member>(`/members/${address}`);
  return h(
    "div",
    {},
    h("h1", {}, `${m.role === "operator" ? "Operator" : "Prover"} `, who(m.account, false)),
    dl([
      ["account", h("code", {}, m.account)],
      ["signing key", h("code", {}, m.signingKey)],
      ["active stake", `${tokens(m.stake.active)} tokens`],
      ["unbonding", m.stake.unbonding === "0" ? "none" : `${tokens(m.stake.unbonding)} tokens, withdrawable ${until(m.stake.releaseAt)}`],
      ["registered at block", m.registeredBlock],
      [m.role === "prover" ? "batches submitted" : "verdicts", String(m.role === "prover" ? m.batchesSubmitted : m.verdictCount)],
    ]),
    m.role === "operator" ? section("Recent verdicts", table(["verdict", "batch", "dispute", "when", "transaction"], m.verdicts.map((v) => [VERDICT_TEXT[v.kind] ?? v.kind, batchLink(v.batchId), v.disputeId ? disputeLink(v.disputeId) : "–", ago(v.timestamp), txCell(v.tx)]), { id: "verdicts-table" })) : null,
    m.slashes.length ? section("Slashed", table(["for", "amount", "batch", "when"], m.slashes.map((s) => [s.kind, `${tokens(s.amount)} tokens`, s.batchId ? batchLink(s.batchId) : "–", ago(s.timestamp)]))) : null,
  );
}
