// Liveness probe for the container: Docker's HEALTHCHECK and the ECS container health
// check both run `node /app/docker/healthcheck.mjs`. Slim Node images ship neither curl
// nor wget, and Node is already there, so the probe is a few lines of Node.
//
// It asks /healthz, which touches no storage: a container must not be restarted because
// S3 or DynamoDB is briefly down. Readiness (/readyz) is the load balancer's business.
import http from 'node:http';

const port = Number.parseInt(process.env.PORT ?? '', 10) || 8080;
const timeoutMs = Number.parseInt(process.env.INTAKE_HEALTHCHECK_TIMEOUT_MS ?? '', 10) || 3000;

const request = http.get(
  { host: '127.0.0.1', port, path: '/healthz', timeout: timeoutMs, agent: false },
  (response) => {
    response.resume();
    const status = response.statusCode ?? 0;
    if (status < 200 || status > 299) {
      process.stderr.write(`healthcheck: /healthz answered ${status}\n`);
      process.exitCode = 1;
    }
  },
);
request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
request.on('error', (error) => {
  process.stderr.write(`healthcheck: ${error.message}\n`);
  process.exitCode = 1;
});
