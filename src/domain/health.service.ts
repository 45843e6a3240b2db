import type { ControlStore, ObjectStore } from '../storage/ports.js';

/** A probe that has not answered by then counts as failed: a hung store must not hang /readyz. */
const PROBE_TIMEOUT_MS = 3000;

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  error?: string;
}

export interface Readiness {
  ok: boolean;
  checks: ReadinessCheck[];
}

async function probe(name: string, ping: () => Promise<void>, timeoutMs: number): Promise<ReadinessCheck> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
      }),
    ]);
    return { name, ok: true };
  } catch (error) {
    return { name, ok: false, error: error instanceof Error ? error.message.slice(0, 200) : 'failed' };
  } finally {
    clearTimeout(timer);
  }
}

/** Whether the stores this task depends on answer, each probed on its own and at once. */
export class HealthService {
  constructor(
    private readonly control: Pick<ControlStore, 'ping'>,
    private readonly objects: Pick<ObjectStore, 'ping'>,
    private readonly timeoutMs = PROBE_TIMEOUT_MS,
  ) {}

  async readiness(): Promise<Readiness> {
    const checks = await Promise.all([
      // The check names are part of the /readyz answer in every mode, so they stay as they were.
      probe('dynamodb', () => this.control.ping(), this.timeoutMs),
      probe('objects', () => this.objects.ping(), this.timeoutMs),
    ]);
    return { ok: checks.every((c) => c.ok), checks };
  }
}
