import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// No Docker engine runs where these tests run, so `docker compose up` cannot be tried
// here. These tests check the structure and the environment compose would hand over.

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string };
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval?: string; retries?: number };
  volumes?: string[];
  ports?: string[];
  profiles?: string[];
  stop_grace_period?: string;
  command?: string[];
}

const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const { services } = compose;
const intake = services.intake!;
const localstack = services.localstack!;

/** The value compose would use when the variable is unset: `${NAME:-default}` → default. */
const defaultOf = (value: string) => /^\$\{\w+:-(.*)\}$/.exec(value)?.[1] ?? value;
const seconds = (duration: string) => Number(/^(\d+)s$/.exec(duration)?.[1]);

function volume(service: Service, target: string): string {
  const found = (service.volumes ?? []).map((v) => v.split(':')).find(([, t]) => t === target);
  expect(found, `${target} mounted`).toBeDefined();
  return found![0]!;
}

describe('docker-compose.yml', () => {
  it('runs Intake and LocalStack by default, Prometheus and Grafana under the monitoring profile', () => {
    expect(Object.keys(services).sort()).toEqual(['grafana', 'intake', 'localstack', 'prometheus']);
    expect(intake.profiles).toBeUndefined();
    expect(localstack.profiles).toBeUndefined();
    expect(services.prometheus!.profiles).toEqual(['monitoring']);
    expect(services.grafana!.profiles).toEqual(['monitoring']);
  });

  it('builds Intake from the repository Dockerfile and starts it once LocalStack is healthy', () => {
    expect(intake.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(intake.depends_on).toEqual({ localstack: { condition: 'service_healthy' } });
    expect(intake.healthcheck?.test).toEqual(['CMD', 'node', '/app/docker/healthcheck.mjs']);
    expect(localstack.healthcheck?.test.join(' ')).toContain('/_localstack/health');
  });

  it('points Intake at LocalStack in aws mode with dummy credentials', () => {
    const env = intake.environment!;
    expect(env.INTAKE_STORAGE).toBe('aws');
    expect(env.AWS_ENDPOINT_URL).toBe('http://localstack:4566');
    expect(env.INTAKE_S3_FORCE_PATH_STYLE).toBe('true');
    expect(env.AWS_REGION).toMatch(/^[a-z]{2}-[a-z]+-\d$/);
    expect(env.AWS_ACCESS_KEY_ID).toBe('test');
    expect(env.AWS_SECRET_ACCESS_KEY).toBe('test');
    expect(env.PORT).toBe('8080');
    // aws mode refuses to start without a token of at least 32 characters.
    const token = defaultOf(env.INTAKE_ADMIN_TOKEN!);
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(token).not.toMatch(/\s/);
  });

  it('passes only settings that the service knows', () => {
    const known = new Set(read('src/config.ts').match(/\b(?:INTAKE|AWS)_[A-Z0-9_]+\b/g));
    known.add('PORT');
    // Read by the AWS SDK's credential chain rather than by the config module.
    known.add('AWS_ACCESS_KEY_ID').add('AWS_SECRET_ACCESS_KEY');
    for (const name of Object.keys(intake.environment!)) expect(known, name).toContain(name);
  });

  it('lets the graceful drain finish before Docker kills the container', () => {
    const shutdownMs = Number(intake.environment!.INTAKE_SHUTDOWN_TIMEOUT_MS);
    expect(shutdownMs).toBe(25_000);
    expect(seconds(intake.stop_grace_period!) * 1000).toBeGreaterThanOrEqual(shutdownMs + 5_000);
  });

  it('publishes ports on loopback only', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it('pins every image to a version', () => {
    for (const [name, service] of Object.entries(services)) {
      if (!service.image || name === 'intake') continue;
      const image = defaultOf(service.image);
      expect(image, name).toMatch(/:v?\d+\.\d+(\.\d+)?$/);
    }
  });

  it('mounts only paths that exist in the repository', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const mount of service.volumes ?? []) {
        const source = mount.split(':')[0]!;
        if (source.startsWith('./')) expect(existsSync(`${root}${source.slice(2)}`), `${name}: ${source}`).toBe(true);
      }
    }
  });
});

describe('LocalStack init hook', () => {
  const hostDir = volume(localstack, '/etc/localstack/init/ready.d').slice(2);
  const scripts = readdirSync(`${root}${hostDir}`).filter((f) => f.endsWith('.sh'));

  it('emulates only S3 and DynamoDB', () => {
    expect(localstack.environment?.SERVICES?.split(',').sort()).toEqual(['dynamodb', 's3']);
  });

  it('ships executable shell scripts with a shebang', () => {
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) {
      const path = `${root}${hostDir}/${script}`;
      expect(readFileSync(path, 'utf8').startsWith('#!/')).toBe(true);
      expect(statSync(path).mode & 0o111, script).not.toBe(0);
    }
  });

  it('provisions nothing the service creates itself, and leaves the marker the healthcheck waits for', () => {
    const text = scripts.map((s) => readFileSync(`${root}${hostDir}/${s}`, 'utf8')).join('\n');
    expect(text).not.toMatch(/create-table|create-bucket|\bs3 mb\b|put-item/);
    const marker = /touch\s+(\S+)/.exec(text)?.[1];
    expect(marker).toBeDefined();
    expect(localstack.healthcheck!.test.join(' ')).toContain(`test -f ${marker}`);
  });
});

describe('monitoring profile', () => {
  const prometheus = services.prometheus!;
  const grafana = services.grafana!;

  it('scrapes Intake /metrics inside the compose network', () => {
    const configDir = volume(prometheus, '/etc/prometheus').slice(2);
    const config = parse(read(`${configDir}/prometheus.yml`)) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; metrics_path: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const job = config.scrape_configs.find((j) => j.job_name === 'intake');
    expect(job?.metrics_path).toBe('/metrics');
    expect(job?.static_configs[0]?.targets).toEqual(['intake:8080']);
    for (const file of config.rule_files) {
      const local = file.replace('/etc/prometheus/', `${configDir}/`);
      const rules = parse(read(local)) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
      expect(rules.groups.flatMap((g) => g.rules).length).toBeGreaterThan(0);
    }
  });

  it('provisions the Prometheus datasource and the dashboard into Grafana', () => {
    const provisioning = volume(grafana, '/etc/grafana/provisioning').slice(2);
    const dashboardsDir = volume(grafana, '/var/lib/grafana/dashboards').slice(2);
    const datasources = parse(read(`${provisioning}/datasources/prometheus.yml`)) as {
      datasources: Array<{ uid: string; type: string; url: string }>;
    };
    expect(datasources.datasources).toEqual([
      expect.objectContaining({ uid: 'intake-prometheus', type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
    const providers = parse(read(`${provisioning}/dashboards/intake.yml`)) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    expect(providers.providers[0]?.options.path).toBe('/var/lib/grafana/dashboards');
    expect(grafana.environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe('/var/lib/grafana/dashboards/intake.json');
    expect(existsSync(`${root}${dashboardsDir}/intake.json`)).toBe(true);
    expect(grafana.depends_on).toEqual({ prometheus: { condition: 'service_healthy' } });
  });

  it('has a dashboard covering requests, latency, records, jobs and failures', () => {
    const dashboardsDir = volume(grafana, '/var/lib/grafana/dashboards').slice(2);
    const dashboard = JSON.parse(read(`${dashboardsDir}/intake.json`)) as {
      uid: string;
      panels: Array<{ id: number; type: string; title: string; datasource?: { uid: string }; targets?: Array<{ expr: string }> }>;
    };
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      expect(panel.datasource?.uid, panel.title).toBe('intake-prometheus');
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    }
    const exprs = panels.flatMap((p) => p.targets!.map((t) => t.expr)).join('\n');
    for (const metric of [
      'intake_http_requests_total',
      'intake_http_request_duration_seconds_bucket',
      'intake_records_accepted_total',
      'intake_records_rejected_total',
      'intake_upload_bytes_total',
      'intake_jobs_total',
      'intake_job_duration_seconds_bucket',
      'intake_poller_lag_seconds',
      'intake_storage_retries_total',
      'intake_auth_failures_total',
      'intake_rate_limited_total',
    ]) {
      expect(exprs, metric).toContain(metric);
    }
    expect(exprs).toMatch(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(intake_http_request_duration_seconds_bucket/);
    expect(exprs).toContain('intake_jobs_total{outcome="failed"}');
  });

  it('uses metric names that the service registers', () => {
    const registered = new Set(read('src/observability/metrics.ts').match(/intake_[a-z_]+/g));
    const dashboardsDir = volume(grafana, '/var/lib/grafana/dashboards').slice(2);
    const used = read(`${dashboardsDir}/intake.json`).match(/intake_[a-z_]+/g) ?? [];
    const rules = read('docker/prometheus/intake-alerts.yml').match(/intake_[a-z_]+/g) ?? [];
    for (const name of new Set([...used, ...rules])) {
      // Histogram series carry a suffix; default process metrics use the intake_ prefix.
      const base = name.replace(/_(bucket|sum|count)$/, '');
      if (/^intake_(process|nodejs)_/.test(base)) continue;
      expect(registered, name).toContain(base);
    }
  });
});
