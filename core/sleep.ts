/** Resolves after `ms`; for pacing loops outside workflow code (workflows use Temporal's own sleep). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
