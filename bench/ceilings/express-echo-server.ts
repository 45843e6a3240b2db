// Ceiling for small pushes: a bare Express 5 app that parses a JSON body and echoes it,
// with none of Intake's auth, rate limiting, logging, validation or storage.
import express from 'express';

const app = express();
app.post('/echo', express.json(), (req, res) => {
  res.json(req.body);
});
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`LISTENING ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
