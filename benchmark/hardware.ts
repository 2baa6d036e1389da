/**
 * Hardware fingerprint: what the numbers were measured on. CPU model and microcode, logical
 * cores, memory, NUMA nodes, GPUs and driver (via nvidia-smi when it exists), kernel. The sha256
 * over the canonical JSON of everything else makes "same hardware?" one comparison for diff.
 * Nothing volatile (clock speeds, free memory) goes in, so the hash is stable on one machine.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { arch, cpus, release, totalmem } from "node:os";
import { canonicalJson } from "../protocol/envelope/canonical-json.ts";
import { fingerprintDigest, sha256Hex } from "../protocol/envelope/content-hash.ts";
import type { HardwareFingerprint } from "../protocol/envelope/schema.ts";

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function cpuInfoField(cpuinfo: string | null, field: string): string | null {
  const m = cpuinfo ? new RegExp(`^${field}\\s*:\\s*(.+)$`, "m").exec(cpuinfo) : null;
  return m ? m[1]!.trim() : null;
}

function numaNodes(root = "/sys/devices/system/node"): { id: number; cpus: string }[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => /^node\d+$/.test(d))
    .map((d) => ({ id: Number(d.slice(4)), cpus: (readText(`${root}/${d}/cpulist`) ?? "").trim() }))
    .sort((a, b) => a.id - b.id);
}

/** GPUs and driver from nvidia-smi; empty when it is absent or fails (no GPU here is not an error). */
export function nvidiaGpus(): { gpus: HardwareFingerprint["gpus"]; driver: string | null } {
  try {
    const out = execFileSync("nvidia-smi", ["--query-gpu=name,uuid,memory.total,vbios_version,driver_version", "--format=csv,noheader,nounits"], {
      encoding: "utf8",
      timeout: 10_000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    let driver: string | null = null;
    const gpus = out
      .trim()
      .split("\n")
      .filter((l) => l.trim())
      .map((line) => {
        const [name = "", uuid = "", mem = "", vbios = "", drv = ""] = line.split(",").map((s) => s.trim());
        driver = drv || driver;
        const mib = Number.parseInt(mem, 10);
        return { name, uuid, memory_mib: Number.isFinite(mib) ? mib : null, vbios };
      });
    return { gpus, driver };
  } catch {
    return { gpus: [], driver: null };
  }
}

export function hardwareFingerprint(): HardwareFingerprint {
  const cpuinfo = readText("/proc/cpuinfo");
  const { gpus, driver } = nvidiaGpus();
  const body: Omit<HardwareFingerprint, "sha256"> = {
    cpu: {
      model: cpuInfoField(cpuinfo, "model name") ?? cpus()[0]?.model ?? "unknown",
      microcode: cpuInfoField(cpuinfo, "microcode"),
      logical_cores: cpus().length,
      arch: arch(),
    },
    memory: { total_bytes: totalmem() },
    numa: { nodes: numaNodes() },
    gpus,
    driver,
    kernel: release(),
  };
  return { sha256: sha256Hex(canonicalJson(body)), ...body };
}

/** Recomputes the fingerprint hash from its parts (diff and verify use it to spot edits). */
export function fingerprintHash(fp: HardwareFingerprint): string {
  return fingerprintDigest(fp as unknown as Record<string, unknown>);
}
