/**
 * Small DOM helpers. Every value shown comes from the chain or a prover, which may be hostile,
 * so nodes are built with textContent and attributes only, never with innerHTML.
 */
import { formatUnits } from "viem";

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(key.replace(/^on/, ""), value);
    else if (key === "href" && typeof value === "string" && !/^(#|https?:)/.test(value)) continue; // no javascript: links
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function table(head: string[], rows: Child[][], attrs: Attrs = {}): HTMLElement {
  return h(
    "table",
    attrs,
    h("thead", {}, h("tr", {}, ...head.map((c) => h("th", {}, c)))),
    h("tbody", {}, ...(rows.length ? rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c)))) : [h("tr", {}, h("td", { colspan: head.length, class: "empty" }, "nothing yet"))])),
  );
}

/** A state badge (class state-attested etc.). */
export function badge(state: string): HTMLElement {
  return h("span", { class: `badge state-${state.toLowerCase()}` }, state);
}

let labels: Record<string, string> = {};
export function setLabels(next: Record<string, string>): void {
  labels = next;
}

/** The name the explorer was given for an address, if any. */
export function label(address: string): string | undefined {
  return labels[address.toLowerCase()];
}

export function short(hex: string, keep = 6): string {
  return hex.length <= 2 + 2 * keep ? hex : `${hex.slice(0, 2 + keep)}…${hex.slice(-4)}`;
}

/** An address: its label when the explorer was given one, linking to the member page. */
export function who(address: string | null, link = true): Node {
  if (!address) return document.createTextNode("unknown");
  const label = labels[address.toLowerCase()];
  const text = label ? `${label} (${short(address, 4)})` : short(address);
  return link ? h("a", { href: `#/member/${address}`, title: address, class: "addr" }, text) : h("span", { title: address, class: "addr" }, text);
}

export function hash(hex: string): HTMLElement {
  return h("code", { title: hex }, short(hex, 8));
}

/** Token amounts in wei, shown in whole tokens (18 decimals). */
export function tokens(wei: string | null): string {
  if (wei === null) return "–";
  const value = formatUnits(BigInt(wei), 18);
  const [whole, fraction = ""] = value.split(".");
  return fraction ? `${whole}.${fraction.slice(0, 3).replace(/0+$/, "") || "0"}` : whole!;
}

export function percent(part: string | null, whole: string | null): string {
  if (part === null || whole === null || BigInt(whole) === 0n) return "–";
  return `${((Number((BigInt(part) * 10_000n) / BigInt(whole)) / 100)).toFixed(1)}%`;
}

let chainNow = 0;
export function setChainNow(seconds: number): void {
  chainNow = seconds;
}

/** How long before the chain's newest block something happened. */
export function ago(unixSeconds: string): string {
  const s = chainNow - Number(unixSeconds);
  if (!Number.isFinite(s) || Number(unixSeconds) === 0) return "–";
  if (s < 60) return `${Math.max(0, s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

export function until(unixSeconds: string): string {
  const s = Number(unixSeconds) - chainNow;
  return s <= 0 ? "passed" : s < 120 ? `in ${s} s` : `in ${Math.round(s / 60)} min`;
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return h("section", {}, h("h2", {}, title), ...children);
}

/** A definition list; entries whose value is null are left out. */
export function dl(entries: [string, Child][]): HTMLElement {
  return h("dl", {}, ...entries.filter(([, v]) => v !== null && v !== undefined).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}
