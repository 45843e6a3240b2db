// Ceiling for uploads: a bare Node HTTP server that streams a PUT body to a file on the
// same disk and answers once it is durable (fsync, then rename into place), which is
// the least any upload that promises durability before its answer must do.
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = process.argv[2];
if (!dir) throw new Error('usage: bare-upload-server.ts <dir>');
await fs.mkdir(dir, { recursive: true });

const server = http.createServer((req, res) => {
  void (async () => {
    const tmp = path.join(dir, `${randomUUID()}.tmp`);
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    await pipeline(req, createWriteStream(tmp));
    const handle = await fs.open(tmp, 'r+');
    await handle.sync();
    await handle.close();
    await fs.rename(tmp, path.join(dir, `${randomUUID()}.bin`));
    res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ bytes }));
  })().catch((error: unknown) => {
    res.writeHead(500).end(String(error));
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`LISTENING ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
