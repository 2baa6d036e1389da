/**
 * The explorer page: a hash router over the views in pages.ts and check.ts. List and batch pages
 * redraw every two seconds, so batches are seen moving Submitted -> Attested -> Finalized (or
 * Disputed -> Slashed) as the chain moves.
 */
import { api, type Overview } from "./api.ts";
import { checkView } from "./check.ts";
import { h, setChainNow, setLabels } from "./dom.ts";
import { batchPage, disputePage, disputesPage, homePage, memberPage, membersPage, slashingPage } from "./pages.ts";

const REFRESH_MS = 2_000;
const view = document.getElementById("view")!;
const status = document.getElementById("chain-status")!;

type Page = { nav: string; live: boolean; draw: (o: Overview, m: RegExpMatchArray, query: URLSearchParams) => Promise<HTMLElement> | HTMLElement };
const ROUTES: [RegExp, Page][] = [
  [/^\/?$/, { nav: "batches", live: true, draw: (o) => homePage(o) }],
  [/^\/batch\/([0-9]{1,20})$/, { nav: "batches", live: true, draw: (o, m) => batchPage(o, m[1]!) }],
  [/^\/disputes$/, { nav: "disputes", live: true, draw: () => disputesPage() }],
  [/^\/dispute\/([0-9]{1,20})$/, { nav: "disputes", live: true, draw: (_o, m) => disputePage(m[1]!) }],
  [/^\/slashing$/, { nav: "slashing", live: true, draw: () => slashingPage() }],
  [/^\/operators$/, { nav: "operators", live: true, draw: () => membersPage("operators") }],
  [/^\/provers$/, { nav: "provers", live: true, draw: () => membersPage("provers") }],
  [/^\/member\/(0x[0-9a-fA-F]{40})$/, { nav: "", live: true, draw: (_o, m) => memberPage(m[1]!) }],
  [/^\/check$/, { nav: "check", live: false, draw: (o, _m, q) => checkView(o, q) }],
];

let generation = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

async function overview(): Promise<Overview> {
  const o = await api<Overview>("/overview");
  setLabels(o.labels);
  setChainNow(Number(o.head.timestamp));
  status.textContent = `chain ${o.chainId} · block ${o.head.number} · ${o.mode} staking`;
  status.className = "ok";
  return o;
}

async function draw(first: boolean): Promise<void> {
  const mine = ++generation;
  clearTimeout(timer);
  const [path = "/", query = ""] = location.hash.replace(/^#/, "").split("?");
  const route = ROUTES.find(([re]) => re.test(path));
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", (a as HTMLElement).dataset.nav === (route?.[1].nav ?? "")));
  try {
    const o = await overview();
    if (!route) throw new Error(`no page ${path}`);
    if (!first && !route[1].live) return;
    const content = await route[1].draw(o, path.match(route[0])!, new URLSearchParams(query));
    if (mine !== generation) return; // a newer navigation won
    view.replaceChildren(content);
    document.body.dataset.ready = path;
  } catch (error) {
    if (mine !== generation) return;
    status.textContent = "explorer unreachable";
    status.className = "error";
    if (first) view.replaceChildren(h("p", { class: "error" }, (error as Error).message));
  } finally {
    if (mine === generation && route?.[1].live !== false) timer = setTimeout(() => void draw(false), REFRESH_MS);
  }
}

window.addEventListener("hashchange", () => void draw(true));
void draw(true);
