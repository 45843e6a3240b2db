import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DeploymentConfigError,
  readDeploymentConfig,
  type IntakeDeploymentConfig,
} from '../../infra/lib/intake-config.js';
import { IntakeStack } from '../../infra/lib/intake-stack.js';
import { FAILED_JOB_LOG } from '../../infra/lib/intake-alarms.js';

// Synthesised offline, with the context cdk.json gives the CLI, so the template under test
// is the one `cdk deploy` would produce.
const cdkJson = JSON.parse(readFileSync(new URL('../../infra/cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
const REGION = 'eu-west-1';
const CERTIFICATE = `arn:aws:acm:${REGION}:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-111122223333`;
const PREFIX = 'intake-';

function configFrom(context: Record<string, unknown>): IntakeDeploymentConfig {
  const merged: Record<string, unknown> = { ...cdkJson.context, ...context };
  return readDeploymentConfig((key) => merged[key]);
}

// Synthesis writes a cloud assembly; keep it in one folder of ours that is removed afterwards
// (without an outdir every App leaves a cdk.out* folder in the system temp dir).
const assemblies = mkdtempSync(path.join(os.tmpdir(), 'intake-cdk-test-'));
let synthCount = 0;
afterAll(() => rmSync(assemblies, { recursive: true, force: true }));

function synth(context: Record<string, unknown> = {}, withNag = false) {
  const config = configFrom({ region: REGION, certificateArn: CERTIFICATE, imageTag: 'git-3f2a9c1', ...context });
  const app = new App({ context: cdkJson.context, outdir: path.join(assemblies, String(synthCount++)) });
  const stack = new IntakeStack(app, 'IntakeTest', { config });
  if (withNag) Aspects.of(stack).add(new AwsSolutionsChecks());
  return { stack, template: Template.fromStack(stack), config };
}

const { stack, template } = synth({}, true);

type Json = unknown;
interface Statement {
  Sid?: string;
  Action: string | string[];
  Resource: Json | Json[];
  Condition?: Record<string, Record<string, Json>>;
}

/** Renders an intrinsic-laden value as text: {Ref: X} → ${X}, Fn::Join concatenated. */
function flatten(value: Json): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, Json>;
    if ('Ref' in v) return `\${${String(v.Ref)}}`;
    if ('Fn::GetAtt' in v) return `\${${(v['Fn::GetAtt'] as string[]).join('.')}}`;
    if ('Fn::Join' in v) {
      const [separator, parts] = v['Fn::Join'] as [string, Json[]];
      return parts.map(flatten).join(separator);
    }
  }
  return JSON.stringify(value);
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

function policiesOf(roleLogicalIdPattern: RegExp): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) =>
      asArray(policy.Properties.Roles as Json[]).some((role) => roleLogicalIdPattern.test(flatten(role))),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

// IAM action(s) behind each SDK call, where the names differ.
const S3_ACTIONS_BY_CALL: Record<string, string[]> = {
  HeadBucket: ['s3:ListBucket'],
  ListObjectsV2: ['s3:ListBucket'],
  ListObjects: ['s3:ListBucket'],
  HeadObject: ['s3:GetObject'],
  CopyObject: ['s3:GetObject', 's3:PutObject'],
  DeleteObjects: ['s3:DeleteObject'],
  CreateMultipartUpload: ['s3:PutObject'],
  UploadPart: ['s3:PutObject'],
  CompleteMultipartUpload: ['s3:PutObject'],
  ListParts: ['s3:ListMultipartUploadParts'],
  ListMultipartUploads: ['s3:ListBucketMultipartUploads'],
  PutBucketEncryption: ['s3:PutEncryptionConfiguration'],
  PutBucketLifecycleConfiguration: ['s3:PutLifecycleConfiguration'],
  PutPublicAccessBlock: ['s3:PutBucketPublicAccessBlock'],
  // lib-storage: multipart upload, aborted on failure.
  Upload: ['s3:PutObject', 's3:AbortMultipartUpload'],
};
// @aws-sdk/lib-dynamodb document-client commands, should the adapters adopt them.
const DOCUMENT_CLIENT_CALLS: Record<string, string> = {
  Put: 'PutItem', Get: 'GetItem', Update: 'UpdateItem', Delete: 'DeleteItem',
  BatchWrite: 'BatchWriteItem', BatchGet: 'BatchGetItem', Query: 'Query', Scan: 'Scan',
  TransactWrite: 'TransactWriteItems', TransactGet: 'TransactGetItems',
};

/** IAM actions implied by every `new XCommand(` / `new Upload(` / `paginateX(` in the DynamoDB and S3 adapters. */
function storageActionsCalledBySource(): Set<string> {
  const dirs = ['../../src/storage/dynamodb/', '../../src/storage/s3/'].map((d) => new URL(d, import.meta.url));
  const actions = new Set<string>();
  for (const [dir, file] of dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.ts')).map((f) => [d, f] as const))) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    const moduleOf = new Map<string, string>();
    for (const [, names = '', from = ''] of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'(@aws-sdk\/[^']+)'/g)) {
      for (const name of names.split(',').map((n) => n.replace(/^\s*type\s+/, '').trim())) moduleOf.set(name, from);
    }
    const calls = [
      ...[...text.matchAll(/new\s+(\w+)Command\(/g)].map((m) => [`${m[1]}Command`, m[1]!] as const),
      ...[...text.matchAll(/\bpaginate(\w+)\(/g)].map((m) => [`paginate${m[1]}`, m[1]!] as const),
      ...[...text.matchAll(/new\s+(Upload)\(/g)].map((m) => [m[1]!, m[1]!] as const),
    ];
    for (const [symbol, call] of calls) {
      const from = moduleOf.get(symbol);
      if (from === '@aws-sdk/client-s3' || from === '@aws-sdk/lib-storage') {
        for (const action of S3_ACTIONS_BY_CALL[call] ?? [`s3:${call}`]) actions.add(action);
      } else if (from === '@aws-sdk/client-dynamodb') {
        actions.add(`dynamodb:${call}`);
      } else if (from === '@aws-sdk/lib-dynamodb') {
        actions.add(`dynamodb:${DOCUMENT_CLIENT_CALLS[call] ?? call}`);
      }
    }
  }
  return actions;
}

function container() {
  const defs = template.findResources('AWS::ECS::TaskDefinition');
  const [taskDefinition] = Object.values(defs);
  expect(Object.keys(defs)).toHaveLength(1);
  const containers = taskDefinition!.Properties.ContainerDefinitions as Array<Record<string, Json>>;
  expect(containers).toHaveLength(1);
  return containers[0]!;
}

describe('Fargate service', () => {
  it('runs ARM64 Linux tasks from the ECR repository and tag given in context', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      Cpu: '1024',
      Memory: '2048',
    });
    expect(flatten(container().Image)).toBe(
      `\${AWS::AccountId}.dkr.ecr.${REGION}.\${AWS::URLSuffix}/intake:git-3f2a9c1`,
    );
  });

  it('gives the container more time to stop than the service takes to drain', () => {
    const c = container();
    const env = Object.fromEntries(
      (c.Environment as Array<{ Name: string; Value: string }>).map((e) => [e.Name, e.Value]),
    );
    expect(c.StopTimeout).toBe(30);
    const shutdownMs = Number(env.INTAKE_SHUTDOWN_TIMEOUT_MS);
    expect(shutdownMs).toBe(25_000);
    expect(shutdownMs + 5_000).toBeLessThanOrEqual((c.StopTimeout as number) * 1000);
    expect(env).toMatchObject({ INTAKE_STORAGE: 'aws', INTAKE_NAME_PREFIX: PREFIX, INTAKE_TRUST_PROXY_HOPS: '1' });
    expect(c.PortMappings).toEqual([expect.objectContaining({ ContainerPort: 8080 })]);
    expect(c.HealthCheck).toMatchObject({ Command: ['CMD', 'node', '/app/docker/healthcheck.mjs'] });
  });

  it('passes only settings that the service knows', () => {
    const known = new Set(readFileSync(new URL('../../src/config.ts', import.meta.url), 'utf8').match(/\b(?:INTAKE|AWS)_[A-Z0-9_]+\b/g));
    const c = container();
    const names = [...(c.Environment as Array<{ Name: string }>), ...(c.Secrets as Array<{ Name: string }>)].map((e) => e.Name);
    for (const name of names) expect(known, name).toContain(name);
  });

  it('runs in private subnets without public IPs, with rollback on failed deployments', () => {
    template.hasResourceProperties('AWS::ECS::Service', {
      LaunchType: 'FARGATE',
      NetworkConfiguration: { AwsvpcConfiguration: { AssignPublicIp: 'DISABLED' } },
      DeploymentConfiguration: {
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        MinimumHealthyPercent: 100,
      },
      EnableExecuteCommand: false,
    });
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('scales on CPU and on ALB requests per target', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      MinCapacity: 2,
      MaxCapacity: 10,
      ScalableDimension: 'ecs:service:DesiredCount',
    });
    const metricTypes = Object.values(template.findResources('AWS::ApplicationAutoScaling::ScalingPolicy')).map(
      (p) => p.Properties.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType,
    );
    expect(metricTypes.sort()).toEqual(['ALBRequestCountPerTarget', 'ECSServiceAverageCPUUtilization']);
  });
});

describe('rate limits across tasks', () => {
  const envOf = (t: Template) => {
    const [c] = Object.values(t.findResources('AWS::ECS::TaskDefinition')).flatMap(
      (r) => (r as { Properties: { ContainerDefinitions: Array<{ Environment: Array<{ Name: string; Value: Json }> }> } }).Properties.ContainerDefinitions,
    );
    return Object.fromEntries(c!.Environment.map((e) => [e.Name, e.Value]));
  };
  const scalingOf = (t: Template) => {
    const targets = Object.values(t.findResources('AWS::ApplicationAutoScaling::ScalableTarget'));
    expect(targets).toHaveLength(1);
    return (targets[0] as { Properties: { MinCapacity: number; MaxCapacity: number } }).Properties;
  };

  it('shares the counters in DynamoDB when autoscaling may run more than one task', () => {
    for (const context of [{}, { minTasks: 1, maxTasks: 2 }, { minTasks: 3, maxTasks: 3 }]) {
      const { template: t } = synth(context);
      expect(scalingOf(t).MaxCapacity).toBeGreaterThan(1);
      expect(envOf(t).INTAKE_RATE_LIMIT_STORE, JSON.stringify(context)).toBe('dynamodb');
    }
  });

  it('keeps the in-memory counters when exactly one task runs', () => {
    const { template: t } = synth({ minTasks: 1, maxTasks: 1 });
    expect(scalingOf(t)).toMatchObject({ MinCapacity: 1, MaxCapacity: 1 });
    expect(envOf(t).INTAKE_RATE_LIMIT_STORE).toBe('memory');
  });
});

describe('load balancer', () => {
  it('checks /readyz and drains for as long as the container may take to stop', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      HealthCheckPath: '/readyz',
      Matcher: { HttpCode: '200' },
      Port: 8080,
      TargetType: 'ip',
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '30' }]),
    });
  });

  it('serves HTTPS with the given certificate and redirects HTTP to it', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: CERTIFICATE }],
      SslPolicy: Match.stringLikeRegexp('^ELBSecurityPolicy-TLS13'),
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
    });
    template.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 2);
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internet-facing',
      LoadBalancerAttributes: Match.arrayWith([
        { Key: 'routing.http.drop_invalid_header_fields.enabled', Value: 'true' },
        { Key: 'access_logs.s3.enabled', Value: 'true' },
      ]),
    });
  });

  it('does not expose /metrics to the internet', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::ListenerRule', {
      Conditions: [{ Field: 'path-pattern', PathPatternConfig: { Values: ['/metrics', '/metrics/*'] } }],
      Actions: [{ Type: 'fixed-response', FixedResponseConfig: Match.objectLike({ StatusCode: '404' }) }],
    });
  });
});

describe('secrets', () => {
  it('injects the admin token from Secrets Manager, never as a plain environment value', () => {
    const c = container();
    const envNames = (c.Environment as Array<{ Name: string }>).map((e) => e.Name);
    expect(envNames).not.toContain('INTAKE_ADMIN_TOKEN');
    expect(envNames).not.toContain('INTAKE_ALERT_WEBHOOK_URL');
    for (const e of c.Environment as Array<{ Name: string; Value: Json }>) {
      expect(e.Name).not.toMatch(/TOKEN|SECRET|PASSWORD|KEY|WEBHOOK/);
    }
    const secrets = c.Secrets as Array<{ Name: string; ValueFrom: Json }>;
    expect(secrets.map((s) => s.Name)).toEqual(['INTAKE_ADMIN_TOKEN']);
    const secretIds = Object.keys(template.findResources('AWS::SecretsManager::Secret'));
    expect(secretIds).toHaveLength(1);
    expect(secrets[0]!.ValueFrom).toEqual({ Ref: secretIds[0] });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: 48, ExcludePunctuation: true }),
      SecretString: Match.absent(),
    });
  });

  it('takes an existing token and the alert webhook from secrets given by ARN', () => {
    const token = `arn:aws:secretsmanager:${REGION}:123456789012:secret:intake/admin-token-AbC123`;
    const webhook = `arn:aws:secretsmanager:${REGION}:123456789012:secret:intake/webhook-XyZ789`;
    const other = synth({ adminTokenSecretArn: token, alertWebhookSecretArn: webhook }).template;
    other.resourceCountIs('AWS::SecretsManager::Secret', 0);
    const [taskDefinition] = Object.values(other.findResources('AWS::ECS::TaskDefinition'));
    const secrets = taskDefinition!.Properties.ContainerDefinitions[0].Secrets as Array<{ Name: string; ValueFrom: Json }>;
    expect(secrets).toEqual([
      { Name: 'INTAKE_ADMIN_TOKEN', ValueFrom: token },
      { Name: 'INTAKE_ALERT_WEBHOOK_URL', ValueFrom: webhook },
    ]);
  });
});

describe('IAM', () => {
  it('grants no wildcard action anywhere in the stack', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      for (const action of asArray(statement.Action)) {
        expect(action).not.toBe('*');
        expect(action).not.toMatch(/\*/);
      }
    }
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('limits the task role to tables and buckets under the name prefix', () => {
    const statements = policiesOf(/TaskRole/);
    expect(statements.length).toBeGreaterThan(0);
    const allowed = [
      new RegExp(`^arn:\\$\\{AWS::Partition\\}:dynamodb:${REGION}:\\$\\{AWS::AccountId\\}:table/${PREFIX}\\*(/index/\\*|-records)?$`),
      new RegExp(`^arn:\\$\\{AWS::Partition\\}:s3:::${PREFIX}\\*(/\\*)?$`),
    ];
    const actions = new Set<string>();
    for (const statement of statements) {
      for (const resource of asArray(statement.Resource).map(flatten)) {
        expect(allowed.some((pattern) => pattern.test(resource)), resource).toBe(true);
      }
      for (const action of asArray(statement.Action)) actions.add(action);
      const onS3Data = asArray(statement.Action).some((a) => a.startsWith('s3:') && a !== 's3:CreateBucket');
      if (onS3Data) {
        expect(statement.Condition).toEqual({ StringEquals: { 's3:ResourceAccount': { Ref: 'AWS::AccountId' } } });
      }
    }
    // It creates its own tables and buckets, and can read and write them...
    for (const needed of ['dynamodb:CreateTable', 'dynamodb:BatchWriteItem', 'dynamodb:Query', 's3:CreateBucket', 's3:PutObject', 's3:ListBucket']) {
      expect(actions).toContain(needed);
    }
    // ...but holds no admin or destructive resource-level rights, except what a project's
    // deletion needs: DeleteTable on project record tables only (never the control table),
    // DeleteBucket on the account's own buckets.
    for (const statement of statements) {
      if (asArray(statement.Action).includes('dynamodb:DeleteTable')) {
        expect(asArray(statement.Action)).toEqual(['dynamodb:DeleteTable']);
        for (const resource of asArray(statement.Resource).map(flatten)) expect(resource).toMatch(new RegExp(`:table/${PREFIX}\\*-records$`));
      }
      if (asArray(statement.Action).includes('s3:DeleteBucket')) {
        expect(statement.Condition).toEqual({ StringEquals: { 's3:ResourceAccount': { Ref: 'AWS::AccountId' } } });
      }
    }
    for (const action of actions) {
      expect(action).not.toMatch(/^dynamodb:(UpdateTable|DeleteBackup|RestoreTable)/);
      expect(action).not.toMatch(/^s3:(PutBucketPolicy|PutBucketAcl|PutObjectAcl|PutBucketPublicAccessBlock)/);
      expect(action).not.toMatch(/^(iam|sts|kms|secretsmanager):/);
    }
  });

  it('grants exactly the storage calls the AWS adapters make', () => {
    const called = storageActionsCalledBySource();
    const granted = new Set(
      policiesOf(/TaskRole/).flatMap((s) => asArray(s.Action)),
    );
    const missing = [...called].filter((a) => !granted.has(a));
    const unused = [...granted].filter((a) => !called.has(a));
    expect(missing, 'called in src/storage/dynamodb or s3, not granted in infra/lib/task-permissions.ts').toEqual([]);
    expect(unused, 'granted in infra/lib/task-permissions.ts, never called in src/storage/dynamodb or s3').toEqual([]);
  });

  it('lets only the execution role read the admin token secret', () => {
    const readers = policiesOf(/ExecutionRole/).filter((s) =>
      asArray(s.Action).includes('secretsmanager:GetSecretValue'),
    );
    expect(readers).toHaveLength(1);
    expect(policiesOf(/TaskRole/).some((s) => asArray(s.Action).some((a) => a.startsWith('secretsmanager:')))).toBe(false);
  });
});

describe('data, logs and alarms', () => {
  it('declares the control table with its GSI, on demand, with point-in-time recovery', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        TableName: `${PREFIX}control`,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          Match.objectLike({
            IndexName: 'gsi1',
            KeySchema: [
              { AttributeName: 'gsi1pk', KeyType: 'HASH' },
              { AttributeName: 'gsi1sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          }),
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      }),
    });
  });

  it('lets DynamoDB expire idempotency claims and rate counters on the attribute the service writes', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: `${PREFIX}control`,
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
    const adapter = readFileSync(new URL('../../src/storage/dynamodb/dynamo-control-store.ts', import.meta.url), 'utf8');
    expect(adapter).toMatch(/const TTL_ATTRIBUTE = 'ttl';/);
  });

  it('sends container logs to a log group with retention', () => {
    const logConfig = container().LogConfiguration as { LogDriver: string; Options: Record<string, Json> };
    expect(logConfig.LogDriver).toBe('awslogs');
    const groupRef = (logConfig.Options['awslogs-group'] as { Ref: string }).Ref;
    const group = template.findResources('AWS::Logs::LogGroup')[groupRef];
    expect(group?.Properties.RetentionInDays).toBe(30);
    for (const each of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(each.Properties.RetentionInDays).toBeGreaterThan(0);
    }
  });

  it('alarms on 5xx rate, unhealthy hosts and failed jobs, notifying one topic', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const topicId = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: topicId }]);

    const fiveXx = alarms.find((a) => Array.isArray(a.Metrics));
    const expression = (fiveXx?.Metrics as Array<{ Expression?: string }>).find((m) => m.Expression)?.Expression;
    expect(expression).toContain('elb5xx');
    expect(expression).toContain('target5xx');
    const metricNames = (fiveXx?.Metrics as Array<{ MetricStat?: { Metric: { MetricName: string } } }>)
      .flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []))
      .sort();
    expect(metricNames).toEqual(['HTTPCode_ELB_5XX_Count', 'HTTPCode_Target_5XX_Count', 'RequestCount']);

    expect(alarms.some((a) => a.MetricName === 'UnHealthyHostCount')).toBe(true);
    expect(alarms.some((a) => a.MetricName === 'HealthyHostCount')).toBe(true);
    expect(alarms.some((a) => a.MetricName === 'JobsFailed' && a.Namespace === 'Intake')).toBe(true);

    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: `{ ($.event = "${FAILED_JOB_LOG.event}") && ($.status = "${FAILED_JOB_LOG.status}") }`,
      MetricTransformations: [Match.objectLike({ MetricName: 'JobsFailed', MetricNamespace: 'Intake', MetricValue: '1' })],
    });
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports no unsuppressed error or warning', () => {
    const findings = [
      ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ].map((f) => `${f.id}: ${String(f.entry.data)}`);
    expect(findings).toEqual([]);
  });

  it('justifies every suppression with a reason', () => {
    const suppressions = Object.values(template.toJSON().Resources as Record<string, { Metadata?: Record<string, Json> }>)
      .flatMap((r) => ((r.Metadata?.cdk_nag as { rules_to_suppress?: unknown[] })?.rules_to_suppress ?? []) as Array<{ id: string; reason: string }>);
    expect(suppressions.length).toBeGreaterThan(0);
    for (const s of suppressions) expect(s.reason.length, s.id).toBeGreaterThan(60);
  });
});

describe('deployment context', () => {
  it('deploys into an existing VPC by ids alone, without lookups', () => {
    const other = synth({
      vpcId: 'vpc-0abc1234',
      availabilityZones: 'eu-west-1a,eu-west-1b',
      publicSubnetIds: 'subnet-0aaa1111,subnet-0bbb2222',
      privateSubnetIds: ['subnet-0ccc3333', 'subnet-0ddd4444'],
    }).template;
    other.resourceCountIs('AWS::EC2::VPC', 0);
    other.resourceCountIs('AWS::EC2::NatGateway', 0);
    other.hasResourceProperties('AWS::ECS::Service', {
      NetworkConfiguration: { AwsvpcConfiguration: { Subnets: ['subnet-0ccc3333', 'subnet-0ddd4444'] } },
    });
  });

  it('lists every bad or missing value in one error', () => {
    let error: unknown;
    try {
      readDeploymentConfig((key) =>
        ({ namePrefix: 'Intake_', imageTag: 'latest', cpu: '300', vpcId: 'vpc-0abc1234', maxTasks: 1, minTasks: 3 })[key],
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DeploymentConfigError);
    const problems = (error as DeploymentConfigError).problems.join('\n');
    for (const key of ['region', 'namePrefix', 'certificateArn', 'imageTag', 'cpu', 'availabilityZones', 'maxTasks']) {
      expect(problems).toContain(`${key}:`);
    }
  });

  it('refuses a certificate from another region', () => {
    expect(() =>
      configFrom({ region: 'us-east-1', certificateArn: CERTIFICATE, imageTag: 'v1' }),
    ).toThrow(/certificate must be in the stack's region/);
  });
});
