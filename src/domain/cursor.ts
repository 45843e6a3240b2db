import { createHmac, timingSafeEqual } from 'node:crypto';
import { errors } from '../errors.js';

/**
 * Opaque pagination cursors: the position is signed with a key derived from the admin
 * token (shared by every task), so a forged or edited cursor is refused with 400 rather
 * than silently starting somewhere else. A cursor is bound to its listing and project.
 */
export class CursorCodec {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = createHmac('sha256', 'intake-cursor-v1').update(secret).digest();
  }

  encode(scope: string, position: string): string {
    const payload = Buffer.from(JSON.stringify({ s: scope, p: position })).toString('base64url');
    return `${payload}.${this.sign(payload)}`;
  }

  /** Returns the position, or throws invalid_cursor. */
  decode(scope: string, cursor: string): string {
    const [payload, signature, extra] = cursor.split('.');
    if (!payload || !signature || extra !== undefined || cursor.length > 4096) throw errors.invalidCursor();
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw errors.invalidCursor();
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw errors.invalidCursor();
    }
    const { s, p } = (parsed ?? {}) as { s?: unknown; p?: unknown };
    if (s !== scope || typeof p !== 'string') throw errors.invalidCursor();
    return p;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url').slice(0, 27);
  }
}
