import autocannon, { type AutocannonOptions } from 'autocannon';

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
}

/** autocannon with the bench's checks: any error or non-2xx answer fails the figure rather than flattering it. */
export async function load(options: AutocannonOptions): Promise<LoadResult> {
  const result = await autocannon({ timeout: 30, ...options });
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
    throw new Error(
      `load on ${options.url} had ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx answers ` +
        `(${JSON.stringify(result.statusCodeStats)})`,
    );
  }
  return {
    requestsPerSecond: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result['2xx'],
  };
}
