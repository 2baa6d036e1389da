/**
 * Energy over the measured phase, from what the machine exposes: Intel/AMD RAPL counters under
 * /sys/class/powercap (package domains, wrap-around handled), or GPU power sampled from
 * nvidia-smi and integrated over time. With neither, energy is null and the run carries a
 * warning; it is never estimated.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { nvidiaGpus } from "./hardware.ts";

function gpusForEnergy(): number {
  return nvidiaGpus().gpus.length;
}

export interface EnergyReading {
  source: "rapl" | "nvidia-smi" | null;
  joules: number | null;
  warning: string | null;
}

export interface EnergyMeter {
  stop(): Promise<EnergyReading>;
}

interface RaplDomain {
  path: string;
  maxRange: number;
}

function raplDomains(root: string): RaplDomain[] {
  if (!existsSync(root)) return [];
  const out: RaplDomain[] = [];
  for (const d of readdirSync(root)) {
    // Package-level domains only ("intel-rapl:0"); subdomains ("intel-rapl:0:0") are inside them.
    if (!/^(intel|amd)-rapl:\d+$/.test(d)) continue;
    try {
      readFileSync(`${root}/${d}/energy_uj`, "utf8");
      const maxRange = Number(readFileSync(`${root}/${d}/max_energy_range_uj`, "utf8").trim());
      out.push({ path: `${root}/${d}/energy_uj`, maxRange });
    } catch {
      // Unreadable (often root-only): skip the domain.
    }
  }
  return out;
}

function hasNvidiaSmi(): boolean {
  return (process.env.PATH ?? "").split(":").some((dir) => dir && existsSync(`${dir}/nvidia-smi`));
}

export function startEnergyMeter(powercapRoot = "/sys/class/powercap"): EnergyMeter {
  const domains = raplDomains(powercapRoot);
  if (domains.length > 0) {
    const start = domains.map((d) => Number(readFileSync(d.path, "utf8").trim()));
    return {
      async stop() {
        let uj = 0;
        domains.forEach((d, i) => {
          const now = Number(readFileSync(d.path, "utf8").trim());
          uj += now >= start[i]! ? now - start[i]! : now + d.maxRange - start[i]!;
        });
        return { source: "rapl", joules: uj / 1e6, warning: null };
      },
    };
  }
  if (hasNvidiaSmi()) {
    // nvidia-smi prints one line per GPU per sample; a sample's total is the sum of `gpuCount`
    // consecutive lines. Energy is the left Riemann sum of total watts over sample intervals.
    const gpuCount = Math.max(1, gpusForEnergy());
    let joules = 0;
    let samples = 0;
    let lastAt: number | null = null;
    let lastW = 0;
    let batchW = 0;
    let batchLines = 0;
    let pending = "";
    const child: ChildProcess = spawn("nvidia-smi", ["--query-gpu=power.draw", "--format=csv,noheader,nounits", "-lms", "100"], { stdio: ["ignore", "pipe", "ignore"] });
    child.on("error", () => undefined);
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      pending += text;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) {
        const w = Number.parseFloat(l);
        batchW += Number.isFinite(w) ? w : 0;
        if (++batchLines < gpuCount) continue;
        const now = performance.now();
        if (lastAt !== null) joules += (lastW * (now - lastAt)) / 1000;
        lastAt = now;
        lastW = batchW;
        batchW = 0;
        batchLines = 0;
        samples++;
      }
    });
    return {
      async stop() {
        if (lastAt !== null) joules += (lastW * (performance.now() - lastAt)) / 1000;
        child.kill();
        if (samples < 2) return { source: null, joules: null, warning: "nvidia-smi gave fewer than two power samples; energy not reported" };
        return { source: "nvidia-smi", joules, warning: null };
      },
    };
  }
  return {
    async stop() {
      return { source: null, joules: null, warning: "no power source (no readable RAPL counters under /sys/class/powercap, no nvidia-smi): energy and joules_per_token are null" };
    },
  };
}
