// The embedded engine's transport: answers reach the request they belong to; a request
// the engine never answers times out; an aborted one fails at once; a failed engine
// fails everything in flight.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineRequestHandler, type EngineRequest, type EngineResponse } from '../../src/storage/embedded/engine-transport.js';

const ports: MessagePort[] = [];
afterEach(() => {
  for (const port of ports.splice(0)) port.close();
});

/** A handler and the engine's end of its port, where requests arrive. */
function transport(): { handler: EngineRequestHandler; engine: MessagePort; requests: EngineRequest[] } {
  const channel = new MessageChannel();
  ports.push(channel.port1, channel.port2);
  const requests: EngineRequest[] = [];
  channel.port2.on('message', (request: EngineRequest) => requests.push(request));
  return { handler: new EngineRequestHandler(channel.port1), engine: channel.port2, requests };
}

function answer(engine: MessagePort, id: number, text: string): void {
  const body = new TextEncoder().encode(text);
  engine.postMessage({ type: 'response', id, status: 200, headers: {}, body } satisfies EngineResponse, [body.buffer]);
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('EngineRequestHandler', () => {
  it('matches answers to requests, in any order, and takes the body without copying it', async () => {
    const { handler, engine, requests } = transport();
    const firstBody = new TextEncoder().encode('{"n":1}');
    const first = handler.send('POST', '/', { a: 'b' }, firstBody);
    const second = handler.send('POST', '/x', {}, new TextEncoder().encode('{"n":2}'));
    expect(firstBody.byteLength).toBe(0); // transferred to the engine's side
    await until(() => requests.length === 2);
    expect(new TextDecoder().decode(requests[0]!.body)).toBe('{"n":1}');
    expect(requests[0]).toMatchObject({ method: 'POST', url: '/', headers: { a: 'b' } });
    answer(engine, requests[1]!.id, 'two');
    answer(engine, requests[0]!.id, 'one');
    expect(new TextDecoder().decode((await first).body)).toBe('one');
    expect(new TextDecoder().decode((await second).body)).toBe('two');
  });

  it('fails a request the engine does not answer within its timeout, and ignores a late answer', async () => {
    const { handler, engine, requests } = transport();
    const started = Date.now();
    const sent = handler.send('POST', '/', {}, new Uint8Array(1), { requestTimeout: 50 });
    await expect(sent).rejects.toMatchObject({ name: 'TimeoutError', code: 'ECONNRESET', message: expect.stringContaining('50 ms') });
    // Deadlines are checked once a second.
    expect(Date.now() - started).toBeLessThan(3000);
    answer(engine, requests[0]!.id, 'late');
    const next = handler.send('POST', '/', {}, new Uint8Array(1));
    await until(() => requests.length === 2);
    answer(engine, requests[1]!.id, 'fine');
    expect(new TextDecoder().decode((await next).body)).toBe('fine');
  });

  it('fails an aborted request at once, and one whose signal was already aborted', async () => {
    const { handler } = transport();
    const controller = new AbortController();
    const sent = handler.send('POST', '/', {}, new Uint8Array(1), { abortSignal: controller.signal });
    controller.abort();
    await expect(sent).rejects.toMatchObject({ name: 'AbortError' });
    await expect(handler.send('POST', '/', {}, new Uint8Array(1), { abortSignal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('fails every request in flight, and every later one, once the engine is gone', async () => {
    const { handler } = transport();
    const inFlight = handler.send('POST', '/', {}, new Uint8Array(1));
    handler.fail(new Error('engine stopped'));
    await expect(inFlight).rejects.toMatchObject({ message: 'engine stopped', code: 'ECONNRESET' });
    await expect(handler.send('POST', '/', {}, new Uint8Array(1))).rejects.toMatchObject({ message: 'engine stopped' });
  });

  it('answers the SDK with its status, headers and body as a Buffer', async () => {
    const { handler, engine, requests } = transport();
    const sent = handler.handle({ method: 'POST', path: '/', query: { a: 'b c' }, headers: { h: '1' }, body: '{"x":1}' });
    await until(() => requests.length === 1);
    expect(requests[0]!.url).toBe('/?a=b+c');
    answer(engine, requests[0]!.id, '{"ok":true}');
    const { response } = await sent;
    expect(response.statusCode).toBe(200);
    expect(Buffer.isBuffer(response.body)).toBe(true);
    expect(response.body.toString('utf8')).toBe('{"ok":true}');
  });
});
