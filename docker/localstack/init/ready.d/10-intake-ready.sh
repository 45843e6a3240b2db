#!/bin/sh
# LocalStack runs this once it is READY (mounted at /etc/localstack/init/ready.d).
#
# It provisions nothing, on purpose. Intake creates every table and bucket it uses:
# the control table when it starts and a table plus a bucket per project when the
# project is created, exactly as it does on AWS. Pre-creating them here would hide a
# broken start-up path and make LocalStack disagree with production.
#
# What it does: LocalStack starts services lazily, and its DynamoDB engine is a JVM
# that takes seconds on first use. Touching both services here pays that cost before
# Intake starts, then leaves the marker the compose healthcheck waits for, so Intake's
# first CreateTable does not spend its retry budget on a cold emulator.
set -eu

awslocal s3api list-buckets > /dev/null
awslocal dynamodb list-tables > /dev/null

touch /tmp/intake-localstack-ready
echo "intake: S3 and DynamoDB are answering"
