import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/**
 * The job-finish line Intake logs (JSON on stdout, one object per line). The metric
 * filter counts lines with this event and status; keep them in step with the service.
 */
export const FAILED_JOB_LOG = { event: 'job_finished', status: 'failed' } as const;
export const METRIC_NAMESPACE = 'Intake';

export interface IntakeAlarmsProps {
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly logGroup: logs.ILogGroup;
  readonly alarmEmail: string | undefined;
  /** Percentage of requests answered 5xx (by the ALB or by Intake) that raises the alarm. */
  readonly max5xxPercent?: number;
}

/** Alarms on the things an on-call person acts on, all sent to one SNS topic. */
export class IntakeAlarms extends Construct {
  readonly topic: sns.Topic;
  readonly serverErrorRate: cloudwatch.Alarm;
  readonly unhealthyHosts: cloudwatch.Alarm;
  readonly noHealthyHosts: cloudwatch.Alarm;
  readonly failedJobs: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: IntakeAlarmsProps) {
    super(scope, id);
    const { loadBalancer, targetGroup } = props;
    const minute = Duration.minutes(1);

    this.topic = new sns.Topic(this, 'Topic', { displayName: 'Intake alarms', enforceSSL: true });
    if (props.alarmEmail) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }

    // 5xx from the ALB itself (no target, timeouts) and from Intake, over all requests.
    // Minutes without traffic count as 0 %, not as missing data.
    const errorRate = new cloudwatch.MathExpression({
      label: '5xx % of requests',
      expression: 'IF(requests > 0, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / requests, 0)',
      usingMetrics: {
        requests: loadBalancer.metrics.requestCount({ period: minute, statistic: 'Sum' }),
        elb5xx: loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, {
          period: minute,
          statistic: 'Sum',
        }),
        target5xx: targetGroup.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, {
          period: minute,
          statistic: 'Sum',
        }),
      },
      period: minute,
    });
    this.serverErrorRate = errorRate.createAlarm(this, 'ServerErrorRate', {
      alarmDescription: 'More than the allowed share of Intake requests answered 5xx for 3 of 5 minutes.',
      threshold: props.max5xxPercent ?? 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // A task that fails /readyz for 5 minutes in a row: storage unreachable from it, or
    // stuck. Deployments do not trip it; new tasks turn healthy within a minute.
    this.unhealthyHosts = targetGroup.metrics
      .unhealthyHostCount({ period: minute, statistic: 'Maximum' })
      .createAlarm(this, 'UnhealthyHosts', {
        alarmDescription: 'At least one Intake task has failed its /readyz check for 5 minutes.',
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    this.noHealthyHosts = targetGroup.metrics
      .healthyHostCount({ period: minute, statistic: 'Minimum' })
      .createAlarm(this, 'NoHealthyHosts', {
        alarmDescription: 'No Intake task is passing /readyz: the API is down.',
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });

    const failedJobsFilter = new logs.MetricFilter(this, 'FailedJobsFilter', {
      logGroup: props.logGroup,
      metricNamespace: METRIC_NAMESPACE,
      metricName: 'JobsFailed',
      filterPattern: logs.FilterPattern.all(
        logs.FilterPattern.stringValue('$.event', '=', FAILED_JOB_LOG.event),
        logs.FilterPattern.stringValue('$.status', '=', FAILED_JOB_LOG.status),
      ),
      metricValue: '1',
    });
    this.failedJobs = failedJobsFilter
      .metric({ period: Duration.minutes(5), statistic: 'Sum' })
      .createAlarm(this, 'FailedJobs', {
        alarmDescription: 'An ingestion job failed. Its log line (event job_finished) names the file and the reason.',
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });

    const notify = new actions.SnsAction(this.topic);
    for (const alarm of [this.serverErrorRate, this.unhealthyHosts, this.noHealthyHosts, this.failedJobs]) {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
    }
  }
}
