/**
 * Deployment settings for the Intake stack, read from CDK context (`cdk.json` or
 * `cdk deploy -c key=value`). Everything is resolved at synth time, so the template is
 * concrete and the tests can assert on real names; nothing needs an AWS lookup.
 *
 * Every problem is reported at once, like the service's own config loader.
 */

/** Same rule as the service's INTAKE_NAME_PREFIX (src/config.ts): buckets cap names at 63 chars. */
export const NAME_PREFIX_PATTERN = /^[a-z][a-z0-9-]{0,21}$/;

export interface ExistingVpc {
  readonly vpcId: string;
  readonly availabilityZones: readonly string[];
  readonly publicSubnetIds: readonly string[];
  readonly privateSubnetIds: readonly string[];
}

export interface IntakeDeploymentConfig {
  /**
   * The one environment value the stack pins. ALB access logging needs the region (the
   * log-delivery principal differs per region); the account stays unresolved, which
   * keeps the new VPC on Fn::GetAZs rather than an availability-zone lookup.
   */
  readonly region: string;
  /** Prefix of every table and bucket Intake creates; the task role is scoped to it. */
  readonly namePrefix: string;
  /** ACM certificate for the HTTPS listener, in the stack's region. */
  readonly certificateArn: string;
  /** ECR repository (name, in the stack's account and region) and tag of the image. */
  readonly ecrRepositoryName: string;
  readonly imageTag: string;
  /** Deploy into an existing VPC instead of creating one (all four ids needed, no lookup). */
  readonly existingVpc: ExistingVpc | undefined;
  /** NAT gateways of a new VPC: one per AZ (2) survives an AZ outage; 1 is cheaper. */
  readonly natGateways: number;
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly minTasks: number;
  readonly maxTasks: number;
  /** ALB requests per task per minute before scaling out. */
  readonly requestsPerTarget: number;
  readonly cpuTargetPercent: number;
  readonly logRetentionDays: number;
  /** Existing secret holding the admin token; when unset the stack generates one. */
  readonly adminTokenSecretArn: string | undefined;
  /** Existing secret holding the alert webhook URL (a Slack URL is a credential). */
  readonly alertWebhookSecretArn: string | undefined;
  /** Email subscribed to the alarm topic, if any. */
  readonly alarmEmail: string | undefined;
}

export const DEFAULTS = {
  namePrefix: 'intake-',
  ecrRepositoryName: 'intake',
  natGateways: 2,
  cpu: 1024,
  memoryMiB: 2048,
  minTasks: 2,
  maxTasks: 10,
  requestsPerTarget: 3000,
  cpuTargetPercent: 60,
  logRetentionDays: 30,
} as const;

// Fargate's valid CPU/memory pairs (MiB), per CPU units.
const FARGATE_MEMORY: Record<number, { min: number; max: number; step: number }> = {
  256: { min: 512, max: 2048, step: 512 },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
};

// CloudWatch Logs accepts only these retention periods.
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
  3288, 3653,
];

export class DeploymentConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid Intake deployment context:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'DeploymentConfigError';
  }
}

type ContextReader = (key: string) => unknown;

/**
 * Reads and validates the deployment context; throws one error listing every problem.
 * `defaultRegion` is used when the context names no region (the CLI passes the profile's
 * region as CDK_DEFAULT_REGION).
 */
export function readDeploymentConfig(get: ContextReader, defaultRegion?: string): IntakeDeploymentConfig {
  const problems: string[] = [];
  const text = (key: string): string | undefined => {
    const value = get(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value === 'string') return value.trim();
    problems.push(`${key}: must be a string`);
    return undefined;
  };
  const required = (key: string, hint: string): string => {
    const value = text(key);
    if (value === undefined) problems.push(`${key}: required (${hint})`);
    return value ?? '';
  };
  const integer = (key: string, fallback: number, min: number, max: number): number => {
    const raw = get(key);
    if (raw === undefined || raw === null || raw === '') return fallback;
    const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${key}: must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };
  const list = (key: string): string[] | undefined => {
    const raw = get(key);
    if (raw === undefined || raw === null || raw === '') return undefined;
    if (Array.isArray(raw) && raw.every((item) => typeof item === 'string')) return raw;
    if (typeof raw === 'string') {
      return raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0);
    }
    problems.push(`${key}: must be a list of strings or a comma-separated string`);
    return undefined;
  };

  const region = text('region') ?? defaultRegion ?? '';
  if (!region) problems.push('region: required (context "region", or a default region in the AWS profile)');
  else if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) problems.push(`region: "${region}" is not an AWS region`);

  const namePrefix = text('namePrefix') ?? DEFAULTS.namePrefix;
  if (!NAME_PREFIX_PATTERN.test(namePrefix)) {
    problems.push('namePrefix: must be 1-22 characters of [a-z0-9-], starting with a letter');
  }
  const certificateArn = required('certificateArn', 'ARN of an ACM certificate for the HTTPS listener');
  if (certificateArn && !/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[\w-]+$/.test(certificateArn)) {
    problems.push('certificateArn: must be an ACM certificate ARN');
  } else if (certificateArn && region && certificateArn.split(':')[3] !== region) {
    problems.push(`certificateArn: the certificate must be in the stack's region (${region})`);
  }
  const ecrRepositoryName = text('ecrRepositoryName') ?? DEFAULTS.ecrRepositoryName;
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(ecrRepositoryName)) {
    problems.push('ecrRepositoryName: not a valid ECR repository name');
  }
  const imageTag = required('imageTag', 'the image tag pushed to ECR, e.g. a git sha');
  if (imageTag && !/^[\w][\w.-]{0,127}$/.test(imageTag)) problems.push('imageTag: not a valid image tag');
  if (imageTag === 'latest') {
    problems.push('imageTag: "latest" is refused; deploy an immutable tag so rollbacks mean something');
  }

  const existingVpc = readExistingVpc(text('vpcId'), list, problems);

  const cpu = integer('cpu', DEFAULTS.cpu, 256, 4096);
  const memoryMiB = integer('memoryMiB', DEFAULTS.memoryMiB, 512, 30720);
  const memoryRule = FARGATE_MEMORY[cpu];
  if (!memoryRule) {
    problems.push(`cpu: must be one of ${Object.keys(FARGATE_MEMORY).join(', ')}`);
  } else if (
    memoryMiB < memoryRule.min ||
    memoryMiB > memoryRule.max ||
    (memoryMiB - memoryRule.min) % memoryRule.step !== 0
  ) {
    problems.push(
      `memoryMiB: with cpu ${cpu}, Fargate accepts ${memoryRule.min}-${memoryRule.max} in steps of ${memoryRule.step}`,
    );
  }
  const minTasks = integer('minTasks', DEFAULTS.minTasks, 1, 100);
  const maxTasks = integer('maxTasks', DEFAULTS.maxTasks, 1, 500);
  if (maxTasks < minTasks) problems.push('maxTasks: must not be below minTasks');
  const logRetentionDays = integer('logRetentionDays', DEFAULTS.logRetentionDays, 1, 3653);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    problems.push(`logRetentionDays: CloudWatch accepts ${LOG_RETENTION_DAYS.join(', ')}`);
  }

  const adminTokenSecretArn = secretArn('adminTokenSecretArn', text, problems);
  const alertWebhookSecretArn = secretArn('alertWebhookSecretArn', text, problems);
  const alarmEmail = text('alarmEmail');
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    problems.push('alarmEmail: not an email address');
  }

  const config: IntakeDeploymentConfig = {
    region,
    namePrefix,
    certificateArn,
    ecrRepositoryName,
    imageTag,
    existingVpc,
    natGateways: integer('natGateways', DEFAULTS.natGateways, 1, 2),
    cpu,
    memoryMiB,
    minTasks,
    maxTasks,
    requestsPerTarget: integer('requestsPerTarget', DEFAULTS.requestsPerTarget, 10, 100_000),
    cpuTargetPercent: integer('cpuTargetPercent', DEFAULTS.cpuTargetPercent, 10, 90),
    logRetentionDays,
    adminTokenSecretArn,
    alertWebhookSecretArn,
    alarmEmail,
  };
  if (problems.length > 0) throw new DeploymentConfigError(problems);
  return Object.freeze(config);
}

function readExistingVpc(
  vpcId: string | undefined,
  list: (key: string) => string[] | undefined,
  problems: string[],
): ExistingVpc | undefined {
  const availabilityZones = list('availabilityZones');
  const publicSubnetIds = list('publicSubnetIds');
  const privateSubnetIds = list('privateSubnetIds');
  if (vpcId === undefined) {
    if (availabilityZones || publicSubnetIds || privateSubnetIds) {
      problems.push('vpcId: required when availabilityZones or subnet ids are given');
    }
    return undefined;
  }
  if (!/^vpc-[0-9a-f]+$/.test(vpcId)) problems.push('vpcId: must look like vpc-0123abcd');
  const azCount = availabilityZones?.length ?? 0;
  if (azCount < 2) problems.push('availabilityZones: at least two are required with vpcId');
  for (const [key, ids] of [
    ['publicSubnetIds', publicSubnetIds],
    ['privateSubnetIds', privateSubnetIds],
  ] as const) {
    if (!ids || ids.length !== azCount) {
      problems.push(`${key}: one subnet per availability zone (${azCount}) is required with vpcId`);
    } else if (!ids.every((id) => /^subnet-[0-9a-f]+$/.test(id))) {
      problems.push(`${key}: every id must look like subnet-0123abcd`);
    }
  }
  return {
    vpcId,
    availabilityZones: availabilityZones ?? [],
    publicSubnetIds: publicSubnetIds ?? [],
    privateSubnetIds: privateSubnetIds ?? [],
  };
}

function secretArn(
  key: string,
  text: (key: string) => string | undefined,
  problems: string[],
): string | undefined {
  const value = text(key);
  // A complete ARN (with the random suffix) lets ECS resolve the secret without a lookup.
  if (value !== undefined && !/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/.test(value)) {
    problems.push(`${key}: must be the complete ARN of a Secrets Manager secret (ending in -XXXXXX)`);
  }
  return value;
}
