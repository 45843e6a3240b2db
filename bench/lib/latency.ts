import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { percentile } from './stats.js';

export interface LatencyResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * `connections` closed loops, each sending its next request when the last is answered,
 * for `durationMs`; every latency is kept (sub-millisecond precision, unlike autocannon's
 * millisecond histogram). A non-200 answer fails the figure.
 */
export async function closedLoop(
  run: () => Promise<void>,
  connections: number,
  durationMs: number,
): Promise<LatencyResult> {
  const latencies: number[] = [];
  const started = performance.now();
  const end = started + durationMs;
  const loop = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await run();
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  const seconds = (performance.now() - started) / 1000;
  return { requestsPerSecond: latencies.length / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99) };
}

export function httpGetter(connections: number): { get(url: string, headers: Record<string, string>): Promise<string>; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  return {
    get(url, headers) {
      return new Promise((resolve, reject) => {
        const req = http.get(url, { agent, headers }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`GET ${url} answered ${res.statusCode}: ${text.slice(0, 300)}`))));
          res.on('error', reject);
        });
        req.on('error', reject);
      });
    },
    close: () => agent.destroy(),
  };
}
