/**
 * Runs a request set through prover variants and recomputes every response with the fp32
 * verifier: the evidence calibration fits bands on and detection tables are made of.
 */
import type { RequestEvidence } from "../protocol/verification/index.ts";
import { defaultCacheDir, Engine, type Generation, type LoadOptions } from "../prover/engine/index.ts";
import { ensureDefaultModel } from "../prover/model/ensure.ts";
import type { CalibrationRequest } from "./workload.ts";
import { editTokens, type EditVariant, type ModelVariant } from "./variants.ts";
import { prepareVariantModel } from "./variants/index.ts";

export interface Observed {
  request: CalibrationRequest;
  evidence: RequestEvidence;
  generation: Generation;
}

export interface RunnerOptions {
  /** The fp32 model; default the embedded default model. */
  modelPath?: string;
  tokenizerPath?: string;
  modelId?: string;
  cacheDir?: string;
  onRequest?: (variant: string, done: number, total: number) => void;
}

export class VariantRunner {
  private constructor(
    readonly verifier: Engine,
    private readonly modelPath: string,
    private readonly isDefault: boolean,
    private readonly cacheDir: string,
    private readonly loadBase: Partial<LoadOptions>,
    private readonly onRequest?: RunnerOptions["onRequest"],
  ) {}

  static async open(options: RunnerOptions): Promise<VariantRunner> {
    const cacheDir = options.cacheDir ?? defaultCacheDir();
    const modelPath = options.modelPath ?? (await ensureDefaultModel(cacheDir));
    const loadBase: Partial<LoadOptions> = {
      ...(options.tokenizerPath ? { tokenizerPath: options.tokenizerPath } : {}),
      ...(options.modelId ? { modelId: options.modelId } : {}),
      cacheDir,
    };
    // No profile: calibration makes one, and detection judges with the one it is given.
    const verifier = await Engine.load({ ...(options.modelPath ? { modelPath } : {}), ...loadBase, profile: null });
    return new VariantRunner(verifier, modelPath, options.modelPath === undefined, cacheDir, loadBase, options.onRequest);
  }

  private sampling(request: CalibrationRequest) {
    return { sampler: request.sampler, temperature: request.temperature, topP: request.topP, seed: request.seed };
  }

  /** Every request served by `variant` (a rewritten model), recomputed by the fp32 verifier. */
  async run(variant: ModelVariant, requests: readonly CalibrationRequest[]): Promise<Observed[]> {
    const path = await prepareVariantModel(this.modelPath, variant.spec, this.cacheDir);
    const prover = await Engine.load({
      modelPath: path,
      ...this.loadBase,
      profile: null,
      // The default model's graph is ours: name its activation rather than search for it.
      ...(this.isDefault ? { activationTensor: this.verifier.info.activationTensor } : {}),
      ...(variant.threads !== undefined ? { threads: variant.threads } : {}),
      ...(variant.graphOptimization ? { graphOptimization: variant.graphOptimization } : {}),
    });
    try {
      const out: Observed[] = [];
      for (const request of requests) {
        const generation = await prover.generate({ ...request, promptTokens: [...request.promptTokens] });
        const evidence = await this.verifier.evidence(generation.promptTokens, generation.outputTokens, generation.proofs, { sampling: this.sampling(request) });
        out.push({ request, evidence, generation });
        this.onRequest?.(variant.name, out.length, requests.length);
      }
      return out;
    } finally {
      await prover.close();
    }
  }

  /** Honest responses with tokens replaced after proving, recomputed. */
  async edited(variant: EditVariant, honest: readonly Observed[], seed: number): Promise<RequestEvidence[]> {
    const out: RequestEvidence[] = [];
    for (const o of honest) {
      const tokens = editTokens(o.generation.outputTokens, variant.edits, this.verifier.info.vocabSize, seed * 100_003 + o.request.index);
      if (!tokens) continue;
      out.push(await this.verifier.evidence(o.generation.promptTokens, tokens, o.generation.proofs, { sampling: this.sampling(o.request) }));
      this.onRequest?.(variant.name, out.length, honest.length);
    }
    return out;
  }

  close(): Promise<void> {
    return this.verifier.close();
  }
}
