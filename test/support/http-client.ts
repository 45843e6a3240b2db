// Driving a spawned server over HTTP as curl would: what the e2e tests share.

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** The body as JSON, or `{}` when it is empty or not JSON (the status then says enough). */
  json: Record<string, unknown>;
}

/** One request to `base + url`, read to the end. */
export async function call(base: string, method: string, url: string, headers: Record<string, string>, body?: string | Buffer): Promise<Reply> {
  const response = await fetch(`${base}${url}`, { method, headers, body });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    // Not JSON.
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Polls `probe` until it gives a value; fails after `timeoutMs`, naming what it waited for. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
