/** A batcher option is out of range; names the config field. */
export class BatchConfigError extends Error {
  override name = "BatchConfigError";
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}
