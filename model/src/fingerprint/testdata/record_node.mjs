// Records real Node failures: BullMQ's failure reason (as bullmq-otel puts it on the span) and
// the Error.stack of the same error (as an OpenTelemetry JS `recordException` reports it).
//
//   mkdir /tmp/fp-node && cd /tmp/fp-node && npm init -y
//   npm install bullmq@6.7.0 bullmq-otel@2.0.1 ioredis@6.0.0 @opentelemetry/api@1.9.1 @opentelemetry/sdk-trace-base@2.12.1
//   node /path/to/record_node.mjs > /path/to/node.json
//
// Needs Redis on 127.0.0.1:6379 (database 15 is flushed). The job module (`app/jobs.cjs`,
// below) is written into two fresh release directories under the current one, the second with
// three more lines at its top: the same code after a deploy that moved every line.
import { createRequire } from 'node:module';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.cwd(), 'noop.js'));
const { Queue, Worker, QueueEvents } = require('bullmq');
const { BullMQOtel } = require('bullmq-otel');
const { trace } = require('@opentelemetry/api');
const {
  BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor,
} = require('@opentelemetry/sdk-trace-base');

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);

const JOBS = `
const semver = require('semver');

function messageText(job) {
  return job.data.message.text.trim();
}

async function scoreMessage(job) {
  const text = messageText(job);
  return text.length;
}

async function parsePayload(job) {
  return JSON.parse(job.data.raw);
}

async function fetchProfile(job) {
  const url = new URL(job.data.url);
  return url.pathname;
}

async function checkVersion(job) {
  const version = new semver.SemVer(job.data.version);
  return version.major;
}

module.exports = async function process(job) {
  switch (job.name) {
    case 'score_message': return scoreMessage(job);
    case 'parse_payload': return parsePayload(job);
    case 'fetch_profile': return fetchProfile(job);
    case 'check_version': return checkVersion(job);
    default: throw new Error('unknown job ' + job.name + ' (id ' + job.id + ')');
  }
};
`;

const CALLS = [
  ['score_message', { message_id: 17 }],
  ['score_message', { message_id: 90210 }],
  ['score_message', { message: {} }], // a different TypeError in the same job
  ['parse_payload', { raw: '{"user": }' }],
  ['parse_payload', { raw: '{"user_name": 1, "age": }' }],
  ['fetch_profile', { url: 'users/42/profile' }],
  ['fetch_profile', { url: 'users/90817/profile' }],
  ['check_version', { version: '1.2.x' }],
  ['check_version', { version: 'v10.beta' }],
  ['unknown_job', {}],
];

const connection = { host: '127.0.0.1', port: 6379, db: 15 };
const records = [];
const { Redis } = require('ioredis');
const flusher = new Redis(connection);
await flusher.flushdb();
flusher.disconnect();

for (const [deploy, padding] of [[1, ''], [2, '// moved\n// by a\n// deploy\n']]) {
  const release = mkdtempSync(join(process.cwd(), `release-${deploy}-`));
  mkdirSync(join(release, 'app'));
  const file = join(release, 'app', 'jobs.cjs');
  writeFileSync(file, padding + JOBS);
  const processor = require(file);
  const queueName = `fingerprint-${deploy}`;
  const telemetry = new BullMQOtel('record-node');
  const queue = new Queue(queueName, { connection, telemetry });
  const failures = [];
  const worker = new Worker(queueName, processor, { connection, telemetry, concurrency: 1 });
  worker.on('failed', (job, err) => {
    // What a generic instrumentation records for the same error.
    const span = trace.getTracer('record-node').startSpan(`run ${job.name}`);
    span.recordException(err);
    span.end();
    failures.push({ job, err });
  });
  for (const [name, data] of CALLS) {
    exporter.reset();
    const before = failures.length;
    await queue.add(name, data, { attempts: 1, removeOnFail: false });
    while (failures.length === before) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 50)); // the worker span ends after 'failed'
    const { job, err } = failures[failures.length - 1];
    const spans = exporter.getFinishedSpans();
    const event = (name) => spans.flatMap((s) => s.events).find((e) => e.name === name);
    records.push({
      deploy,
      task: name,
      data: JSON.stringify(data),
      bullmq_failed_reason: event('job failed')?.attributes['bullmq.job.failed.reason'],
      job_failed_reason: job.failedReason,
      type: event('exception')?.attributes['exception.type'],
      message: event('exception')?.attributes['exception.message'],
      stacktrace: event('exception')?.attributes['exception.stacktrace'],
    });
  }
  await worker.close();
  await queue.close();
}
process.stdout.write(JSON.stringify(records, null, 1) + '\n');
