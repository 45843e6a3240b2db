import winston from 'winston';

export type Logger = winston.Logger;

const SECRET_FIELD = /(authorization|x-api-key|token|secret|password|apikey|api_key|cookie)/i;
// An Intake key anywhere in a string: keep its id, drop the secret part.
const KEY_IN_TEXT = /\bik_([a-z2-7]{16})_[A-Za-z0-9_-]{10,}/g;
const BEARER_IN_TEXT = /(Bearer\s+)[^\s"']+/gi;

function redactPlainText(text: string, secrets: readonly string[]): string {
  let out = text.replace(KEY_IN_TEXT, 'ik_$1_[REDACTED]').replace(BEARER_IN_TEXT, '$1[REDACTED]');
  for (const secret of secrets) if (secret.length >= 8) out = out.split(secret).join('[REDACTED]');
  return out;
}

/** Percent-escapes decoded as UTF-8 bytes; never throws (a bad sequence becomes U+FFFD). */
function percentDecoded(text: string): string {
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replaceAll('%', ''), 'hex').toString('utf8'));
}

// Enough rounds for a secret encoded twice or three times over; each round only shortens the text.
const DECODE_ROUNDS = 3;

/**
 * A secret can arrive percent-encoded (a key or the admin token pasted into a URL path,
 * `ik%5F...`, even encoded twice), and the text quoted as received would then match none
 * of the patterns. So the text is also read decoded; when that reading holds a secret, the
 * decoded text is the one kept, with the secret masked.
 */
function redactText(text: string, secrets: readonly string[]): string {
  const plain = redactPlainText(text, secrets);
  if (!text.includes('%')) return plain;
  let decoded = text;
  for (let round = 0; round < DECODE_ROUNDS; round++) {
    const next = percentDecoded(decoded);
    if (next === decoded) break;
    decoded = next;
  }
  if (decoded === text) return plain;
  const masked = redactPlainText(decoded, secrets);
  return masked === decoded ? plain : masked;
}

/** Replaces secrets in a log entry; known secret values (the admin token) are masked wherever they appear. */
export function redact(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (depth > 8 || typeof value !== 'object' || value === null) return value;
  if (value instanceof Error) {
    return { name: value.name, message: redact(value.message, secrets, depth + 1) };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_FIELD.test(k) && typeof v === 'string' ? '[REDACTED]' : redact(v, secrets, depth + 1);
  }
  return out;
}

const redactFormat = winston.format((info, opts: unknown) => {
  const { secrets } = opts as { secrets: readonly string[] };
  for (const key of Object.keys(info)) {
    info[key] = SECRET_FIELD.test(key) && typeof info[key] === 'string' ? '[REDACTED]' : redact(info[key], secrets);
  }
  return info;
});

export interface LoggerOptions {
  level: string;
  secrets?: readonly string[];
  /** Where JSON lines go; stdout by default (tests capture them). */
  stream?: NodeJS.WritableStream;
}

/** JSON lines, one object per event, with secrets redacted before anything is written. */
export function createLogger(options: LoggerOptions): Logger {
  const secrets = options.secrets ?? [];
  const silent = options.level === 'silent';
  const level = silent ? 'error' : options.level;
  // winston formats every entry before its transports drop those below their level: this
  // gate drops them first, so an entry nobody will see costs no timestamp or redaction.
  const atLevel = winston.format((info) => (logger.isLevelEnabled(info.level) ? info : false));
  const logger: Logger = winston.createLogger({
    level,
    silent,
    format: winston.format.combine(
      atLevel(),
      winston.format.timestamp(),
      redactFormat({ secrets }),
      winston.format.json(),
    ),
    defaultMeta: { service: 'intake' },
    transports: [
      options.stream
        ? new winston.transports.Stream({ stream: options.stream })
        : new winston.transports.Console(),
    ],
  });
  return logger;
}
