import type { Stack } from 'aws-cdk-lib';
import { NagSuppressions } from 'cdk-nag';
import type { IntakeDeploymentConfig } from './intake-config.js';

/**
 * Every cdk-nag AwsSolutions finding the stack accepts, each with the reason it is
 * accepted. Suppressions are by construct path and, for IAM5, by the exact resource
 * pattern: a new wildcard elsewhere still fails the check, and a path that disappears
 * makes cdk-nag throw instead of leaving a stale suppression behind.
 */
export function applyNagSuppressions(stack: Stack, config: IntakeDeploymentConfig): void {
  const at = (path: string) => `/${stack.node.path}/${path}`;
  const tables = `arn:<AWS::Partition>:dynamodb:${config.region}:<AWS::AccountId>:table/${config.namePrefix}*`;
  const buckets = `arn:<AWS::Partition>:s3:::${config.namePrefix}*`;

  NagSuppressions.addResourceSuppressionsByPath(stack, at('Task/TaskRole/DefaultPolicy/Resource'), [
    {
      id: 'AwsSolutions-IAM5',
      reason:
        'Intake creates a table and a bucket per project at run time (project ids are data, ' +
        'not known at deploy time), so the role is scoped to the configured name prefix rather ' +
        'than to fixed names. Actions are listed one by one, none is an admin action; the only ' +
        'delete-resource actions are those of deleting a project through the API: DeleteTable on ' +
        'project record tables (`*-records`, never the control table) and DeleteBucket, and the ' +
        'bucket statements are limited to buckets owned by this account.',
      appliesTo: [tables, `${tables}/index/*`, `${tables}-records`, buckets, `${buckets}/*`].map((arn) => `Resource::${arn}`),
    },
  ]);

  NagSuppressions.addResourceSuppressionsByPath(stack, at('Task/ExecutionRole/DefaultPolicy/Resource'), [
    {
      id: 'AwsSolutions-IAM5',
      reason:
        'ecr:GetAuthorizationToken has no resource-level permissions and must be granted on "*". ' +
        'Image pulls themselves are limited to the one repository.',
      appliesTo: ['Resource::*'],
    },
  ]);

  NagSuppressions.addResourceSuppressionsByPath(stack, at('Task/Resource'), [
    {
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds non-secret settings only (storage mode, name prefix, proxy hops, ' +
        'shutdown bound, log level, region). The admin token and the alert webhook URL are ' +
        'injected from Secrets Manager through the container "secrets" field.',
    },
  ]);

  NagSuppressions.addResourceSuppressionsByPath(stack, at('LoadBalancer/SecurityGroup/Resource'), [
    {
      id: 'AwsSolutions-EC23',
      reason:
        'A public ingestion API: the load balancer accepts 443 (and 80, which only redirects to ' +
        '443) from anywhere. Callers are authenticated per request by API key, with optional ' +
        'per-key IP allowlists enforced by the service.',
    },
  ]);

  NagSuppressions.addResourceSuppressionsByPath(stack, at('AlbAccessLogs/Resource'), [
    {
      id: 'AwsSolutions-S1',
      reason:
        'This bucket receives the load balancer access logs; logging access to the log bucket ' +
        'into yet another bucket would recurse. It is private, SSL-only and expires objects.',
    },
  ]);

  if (!config.adminTokenSecretArn) {
    NagSuppressions.addResourceSuppressionsByPath(stack, at('AdminToken/Resource'), [
      {
        id: 'AwsSolutions-SMG4',
        reason:
          'The admin token is a static bearer credential read by the tasks at start. A rotation ' +
          'Lambda would change it under running tasks and break admin clients mid-flight. It is ' +
          'rotated by an operator: put a new value, then force a new deployment (see README).',
      },
    ]);
  }
}
