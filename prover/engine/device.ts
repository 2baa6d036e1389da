/**
 * Where inference runs: onnxruntime-node's CPU provider (always there) or its CUDA provider,
 * which the npm package does not bundle (its install script downloads it, and this project's
 * .npmrc skips that download). Asking for cuda without it is a DeviceUnavailableError that
 * says what is missing and how to get it, before any model is loaded.
 */
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { DeviceUnavailableError } from "./errors.ts";

export type Device = "cpu" | "cuda";
export const DEVICES: readonly Device[] = ["cpu", "cuda"];

const CUDA_PROVIDER = "libonnxruntime_providers_cuda.so";
const SHARED_PROVIDER = "libonnxruntime_providers_shared.so";

/** The folder of onnxruntime-node's native binaries for this platform, if it can be found. */
export function onnxruntimeBinaryDir(): { dir: string | undefined; version: string } {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve("onnxruntime-node/package.json");
  const version = (require(packageJson) as { version: string }).version;
  const bin = join(dirname(packageJson), "bin");
  const napi = existsSync(bin) ? readdirSync(bin).filter((d) => d.startsWith("napi-v")).sort().at(-1) : undefined;
  const dir = napi ? join(bin, napi, process.platform, process.arch) : undefined;
  return { dir: dir && existsSync(dir) ? dir : undefined, version };
}

/** Throws unless the installed onnxruntime-node has the CUDA provider libraries. */
export function assertCudaAvailable(): void {
  const { dir, version } = onnxruntimeBinaryDir();
  if (process.platform !== "linux" && process.platform !== "win32") {
    throw new DeviceUnavailableError(`--device cuda: onnxruntime-node has no CUDA provider on ${process.platform}`, "device");
  }
  const missing = [CUDA_PROVIDER, SHARED_PROVIDER].filter((name) => !dir || !existsSync(join(dir, process.platform === "win32" ? name.replace(/^lib/, "").replace(/\.so$/, ".dll") : name)));
  if (missing.length > 0) {
    throw new DeviceUnavailableError(
      `--device cuda: the installed onnxruntime-node ${version} (${dir ?? "its native binaries were not found"}) has no CUDA execution provider: ` +
        `${missing.join(" and ")} missing. Install its CUDA binaries with \`ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node\` ` +
        "(this project's .npmrc skips them) on a machine with CUDA 12 and cuDNN 9 libraries on the loader path, or use --device cpu",
      "device",
    );
  }
}

/** onnxruntime execution providers for a device (CUDA first, the CPU for ops CUDA lacks). */
export function executionProviders(device: Device): ("cpu" | "cuda")[] {
  if (device === "cpu") return ["cpu"];
  assertCudaAvailable();
  return ["cuda", "cpu"];
}

/** A session that failed on the CUDA provider: usually a CUDA or cuDNN library that does not load. */
export function cudaFailure(error: Error): DeviceUnavailableError {
  return new DeviceUnavailableError(`--device cuda: onnxruntime's CUDA provider failed to start (check the CUDA 12 / cuDNN 9 libraries): ${error.message}`, "device");
}
