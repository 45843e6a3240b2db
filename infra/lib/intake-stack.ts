import { CfnOutput, Duration, RemovalPolicy, Size, Stack, type StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { IntakeDeploymentConfig } from './intake-config.js';
import { IntakeAlarms } from './intake-alarms.js';
import { applyNagSuppressions } from './nag-suppressions.js';
import { grantIntakeStorage } from './task-permissions.js';

export interface IntakeStackProps extends Omit<StackProps, 'env'> {
  readonly config: IntakeDeploymentConfig;
}

export const CONTAINER_NAME = 'intake';
export const CONTAINER_PORT = 8080;

/**
 * Timing of a graceful stop, end to end. When ECS stops a task it first deregisters it
 * from the target group and lets in-flight requests drain for DEREGISTRATION_DELAY, then
 * sends SIGTERM. Intake turns /readyz to 503, finishes in-flight work and releases its
 * leases within SHUTDOWN_TIMEOUT; ECS sends SIGKILL only after STOP_TIMEOUT, which
 * leaves 5 s of margin. Fargate caps STOP_TIMEOUT at 120 s.
 */
export const SHUTDOWN_TIMEOUT = Duration.seconds(25);
export const STOP_TIMEOUT = Duration.seconds(30);
export const DEREGISTRATION_DELAY = Duration.seconds(30);

/** The attribute the service writes expiries to in the control table (see dynamo-control-store.ts). */
export const CONTROL_TABLE_TTL_ATTRIBUTE = 'ttl';

/**
 * In-memory rate-limit counters are per task: with N tasks a key would get N times its
 * limit. Whenever autoscaling may run more than one task, the counters live in the control
 * table, shared by every task; a single task keeps the cheaper in-memory store.
 */
export function rateLimitStoreFor(config: Pick<IntakeDeploymentConfig, 'maxTasks'>): 'memory' | 'dynamodb' {
  return config.maxTasks > 1 ? 'dynamodb' : 'memory';
}

/** Intake on ECS Fargate (ARM64) behind an HTTPS ALB, with its control table, logs and alarms. */
export class IntakeStack extends Stack {
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly controlTable: dynamodb.Table;
  readonly alarms: IntakeAlarms;

  constructor(scope: Construct, id: string, props: IntakeStackProps) {
    super(scope, id, { ...props, env: { region: props.config.region } });
    const { config } = props;

    const vpc = this.createVpc(config);

    // The service creates this table itself when missing; declaring it here adds point-in-time
    // recovery, deletion protection and retention that a runtime CreateTable cannot.
    // The key schema must match what the service would create.
    this.controlTable = new dynamodb.Table(this, 'ControlTable', {
      tableName: `${config.namePrefix}control`,
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      // Idempotency claims and rate-limit counters carry an expiry (epoch seconds) here;
      // DynamoDB deletes them lazily, and the service treats an expired item as absent.
      timeToLiveAttribute: CONTROL_TABLE_TTL_ATTRIBUTE,
    });
    this.controlTable.addGlobalSecondaryIndex({
      indexName: 'gsi1',
      partitionKey: { name: 'gsi1pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'gsi1sk', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    const adminToken = config.adminTokenSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, 'AdminToken', config.adminTokenSecretArn)
      : new secretsmanager.Secret(this, 'AdminToken', {
          description: 'Intake admin bearer token (INTAKE_ADMIN_TOKEN).',
          // 48 letters and digits: the service wants >= 32 characters and no whitespace.
          generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
          removalPolicy: RemovalPolicy.RETAIN,
        });
    const secrets: Record<string, ecs.Secret> = {
      INTAKE_ADMIN_TOKEN: ecs.Secret.fromSecretsManager(adminToken),
    };
    if (config.alertWebhookSecretArn) {
      const webhook = secretsmanager.Secret.fromSecretCompleteArn(this, 'AlertWebhook', config.alertWebhookSecretArn);
      secrets.INTAKE_ALERT_WEBHOOK_URL = ecs.Secret.fromSecretsManager(webhook);
    }

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });

    const taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: config.cpu,
      memoryLimitMiB: config.memoryMiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.ARM64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    grantIntakeStorage(taskDefinition.taskRole, config.namePrefix);

    const repository = ecr.Repository.fromRepositoryName(this, 'Repository', config.ecrRepositoryName);
    taskDefinition.addContainer(CONTAINER_NAME, {
      containerName: CONTAINER_NAME,
      image: ecs.ContainerImage.fromEcrRepository(repository, config.imageTag),
      essential: true,
      portMappings: [{ containerPort: CONTAINER_PORT, name: 'http' }],
      // Only non-secret settings; the token and webhook URL arrive through `secrets`.
      environment: {
        INTAKE_STORAGE: 'aws',
        INTAKE_NAME_PREFIX: config.namePrefix,
        INTAKE_TRUST_PROXY_HOPS: '1',
        INTAKE_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT.toMilliseconds()),
        INTAKE_LOG_LEVEL: 'info',
        INTAKE_RATE_LIMIT_STORE: rateLimitStoreFor(config),
        AWS_REGION: this.region,
      },
      secrets,
      stopTimeout: STOP_TIMEOUT,
      // Liveness only, the same probe as the image's HEALTHCHECK (ECS ignores that one).
      healthCheck: {
        command: ['CMD', 'node', '/app/docker/healthcheck.mjs'],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      // Non-blocking: a slow CloudWatch Logs endpoint must not stall request handling by
      // blocking stdout. The buffer absorbs bursts; lines are dropped only past it.
      logging: ecs.LogDrivers.awsLogs({
        logGroup,
        streamPrefix: 'intake',
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    });

    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition,
      // No desiredCount: autoscaling owns it, and a deploy must not reset a scaled-out service.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      assignPublicIp: false,
      healthCheckGracePeriod: Duration.seconds(60),
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      enableExecuteCommand: false,
    });

    this.loadBalancer = this.createLoadBalancer(vpc);
    const targetGroup = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc,
      port: CONTAINER_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      targets: [this.service.loadBalancerTarget({ containerName: CONTAINER_NAME, containerPort: CONTAINER_PORT })],
      deregistrationDelay: DEREGISTRATION_DELAY,
      healthCheck: {
        // Readiness: S3 and DynamoDB reachable, and 503 as soon as a task starts draining.
        path: '/readyz',
        healthyHttpCodes: '200',
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 3,
      },
    });
    this.addListeners(config, targetGroup);

    const scaling = this.service.autoScaleTaskCount({ minCapacity: config.minTasks, maxCapacity: config.maxTasks });
    scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: config.cpuTargetPercent,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(180),
    });
    scaling.scaleOnRequestCount('Requests', {
      targetGroup,
      requestsPerTarget: config.requestsPerTarget,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(180),
    });

    this.alarms = new IntakeAlarms(this, 'Alarms', {
      loadBalancer: this.loadBalancer,
      targetGroup,
      logGroup,
      alarmEmail: config.alarmEmail,
    });

    applyNagSuppressions(this, config);

    new CfnOutput(this, 'LoadBalancerDnsName', {
      value: this.loadBalancer.loadBalancerDnsName,
      description: 'Point the DNS name of the certificate at this (CNAME or alias record).',
    });
    new CfnOutput(this, 'AdminTokenSecretArn', {
      value: adminToken.secretArn,
      description: 'Secrets Manager secret holding INTAKE_ADMIN_TOKEN.',
    });
    new CfnOutput(this, 'ControlTableName', { value: this.controlTable.tableName });
    new CfnOutput(this, 'LogGroupName', { value: logGroup.logGroupName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
  }

  private createVpc(config: IntakeDeploymentConfig): ec2.IVpc {
    if (config.existingVpc) {
      const existing = config.existingVpc;
      return ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
        vpcId: existing.vpcId,
        availabilityZones: [...existing.availabilityZones],
        publicSubnetIds: [...existing.publicSubnetIds],
        privateSubnetIds: [...existing.privateSubnetIds],
      });
    }
    const flowLogs = new logs.LogGroup(this, 'VpcFlowLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    return new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),
      maxAzs: 2,
      natGateways: config.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      // S3 and DynamoDB traffic (all of Intake's data) stays off the NAT gateways:
      // gateway endpoints cost nothing and remove the NAT data-processing charge.
      gatewayEndpoints: {
        s3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
        dynamodb: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
      },
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });
  }

  private createLoadBalancer(vpc: ec2.IVpc): elbv2.ApplicationLoadBalancer {
    const accessLogs = new s3.Bucket(this, 'AlbAccessLogs', {
      // ALB log delivery supports only SSE-S3 on the target bucket.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      lifecycleRules: [{ id: 'expire', expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const alb = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      dropInvalidHeaderFields: true,
      idleTimeout: Duration.seconds(60),
    });
    alb.logAccessLogs(accessLogs, 'alb');
    return alb;
  }

  private addListeners(config: IntakeDeploymentConfig, targetGroup: elbv2.ApplicationTargetGroup): void {
    const https = this.loadBalancer.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [elbv2.ListenerCertificate.fromArn(config.certificateArn)],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      defaultTargetGroups: [targetGroup],
      open: true,
    });
    // Metrics are for the VPC (a Prometheus or ADOT scraper reaching tasks on 8080), not
    // for the internet: the public listener answers 404 for them.
    https.addAction('HideMetrics', {
      priority: 10,
      conditions: [elbv2.ListenerCondition.pathPatterns(['/metrics', '/metrics/*'])],
      action: elbv2.ListenerAction.fixedResponse(404, {
        contentType: 'application/json',
        messageBody: '{"error":{"code":"not_found","message":"Not found"}}',
      }),
    });
    this.loadBalancer.addRedirect({
      sourceProtocol: elbv2.ApplicationProtocol.HTTP,
      sourcePort: 80,
      targetProtocol: elbv2.ApplicationProtocol.HTTPS,
      targetPort: 443,
    });
  }
}
