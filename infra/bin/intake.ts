#!/usr/bin/env node
/**
 * CDK entry point: `cdk deploy -c imageTag=... -c certificateArn=...` from infra/.
 * Settings come from context (cdk.json and -c flags); see lib/intake-config.ts.
 * cdk-nag's AwsSolutions checks run on every synth, so an unjustified finding fails
 * `cdk synth` and `cdk deploy` as it fails the tests.
 */
import { App, Aspects, Tags } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DeploymentConfigError, readDeploymentConfig } from '../lib/intake-config.js';
import { IntakeStack } from '../lib/intake-stack.js';

const app = new App();
try {
  const config = readDeploymentConfig((key) => app.node.tryGetContext(key), process.env.CDK_DEFAULT_REGION);
  const stackName = String(app.node.tryGetContext('stackName') ?? 'Intake');
  new IntakeStack(app, stackName, {
    config,
    description: 'Intake ingestion service on ECS Fargate behind an HTTPS load balancer',
  });
  Tags.of(app).add('service', 'intake');
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  app.synth();
} catch (error) {
  if (!(error instanceof DeploymentConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exitCode = 1;
}
