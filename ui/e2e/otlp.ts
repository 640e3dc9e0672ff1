// OTLP/JSON trace requests for task runs, following docs/conventions.md: an `enqueue` span
// (PRODUCER), a `start` span (INTERNAL, state running) and a `run` span (CONSUMER) whose error
// is an `exception` event.
import { randomBytes } from 'node:crypto';

type AnyValue = { stringValue: string } | { intValue: string };
interface KeyValue {
  key: string;
  value: AnyValue;
}

const str = (key: string, value: string): KeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: bigint): KeyValue => ({ key, value: { intValue: value.toString() } });
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const KIND_INTERNAL = 1;
const KIND_PRODUCER = 4;
const KIND_CONSUMER = 5;
const STATUS_ERROR = 2;

export interface RunSpec {
  taskName: string;
  taskId: string;
  params: unknown;
  /** When given, the run fails with this exception. */
  error?: { type: string; message: string; stacktrace: string };
  queueWaitMs?: number;
  durationMs?: number;
}

export function runSpans(run: RunSpec, enqueuedAt: bigint = BigInt(Date.now()) * 1_000_000n) {
  const traceId = hex(16);
  const enqueueId = hex(8);
  const runId = hex(8);
  const startedAt = enqueuedAt + BigInt(run.queueWaitMs ?? 40) * 1_000_000n;
  const endedAt = startedAt + BigInt(run.durationMs ?? 250) * 1_000_000n;
  const common = [str('tasklens.task.name', run.taskName), str('tasklens.task.id', run.taskId), int('tasklens.task.attempt', 0n)];
  const enqueue = {
    traceId,
    spanId: enqueueId,
    name: `enqueue ${run.taskName}`,
    kind: KIND_PRODUCER,
    startTimeUnixNano: enqueuedAt.toString(),
    endTimeUnixNano: (enqueuedAt + 1000n).toString(),
    attributes: [
      ...common,
      str('tasklens.task.state', 'pending'),
      str('tasklens.task.params', JSON.stringify(run.params)),
      str('tasklens.task.queue', 'e2e'),
    ],
  };
  const start = {
    traceId,
    spanId: hex(8),
    parentSpanId: runId,
    name: `start ${run.taskName}`,
    kind: KIND_INTERNAL,
    startTimeUnixNano: startedAt.toString(),
    endTimeUnixNano: startedAt.toString(),
    attributes: [...common, str('tasklens.task.state', 'running'), int('tasklens.task.enqueued_at_unix_nano', enqueuedAt)],
  };
  const finished = {
    traceId,
    spanId: runId,
    parentSpanId: enqueueId,
    name: `run ${run.taskName}`,
    kind: KIND_CONSUMER,
    startTimeUnixNano: startedAt.toString(),
    endTimeUnixNano: endedAt.toString(),
    attributes: [
      ...common,
      str('tasklens.task.state', run.error ? 'failed' : 'success'),
      int('tasklens.task.enqueued_at_unix_nano', enqueuedAt),
    ],
    events: run.error
      ? [
          {
            timeUnixNano: endedAt.toString(),
            name: 'exception',
            attributes: [
              str('exception.type', run.error.type),
              str('exception.message', run.error.message),
              str('exception.stacktrace', run.error.stacktrace),
            ],
          },
        ]
      : [],
    status: run.error ? { code: STATUS_ERROR, message: run.error.message } : { code: 0 },
  };
  return { traceId, spans: [enqueue, start, finished] };
}

export function traceRequest(spans: unknown[]) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [str('service.name', 'e2e-worker'), str('host.name', 'e2e-host')] },
        scopeSpans: [{ scope: { name: 'tasklens-e2e' }, spans }],
      },
    ],
  };
}

/** POSTs spans to the collector's OTLP/HTTP endpoint as JSON; fails on a refusal or a partial success. */
export async function sendSpans(otlpHttpBase: string, spans: unknown[]): Promise<void> {
  const response = await fetch(`${otlpHttpBase}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(traceRequest(spans)),
  });
  const body = await response.text();
  if (!response.ok) throw new Error(`collector answered ${response.status}: ${body}`);
  const parsed = body ? (JSON.parse(body) as { partialSuccess?: { rejectedSpans?: string | number; errorMessage?: string } }) : {};
  const rejected = Number(parsed.partialSuccess?.rejectedSpans ?? 0);
  if (rejected > 0) throw new Error(`collector rejected ${rejected} spans: ${parsed.partialSuccess?.errorMessage}`);
}
