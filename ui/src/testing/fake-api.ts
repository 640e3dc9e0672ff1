// Answers the page's fetches from handlers by path, and records every URL asked for.
import { vi } from 'vitest';
import type {
  ErrorGroupItem,
  HistoryItem,
  TaskMetrics,
  TaskNamesResponse,
  TaskStatus,
  TaskStatusChangedMessage,
  TaskTypeItem,
} from '../lib/api-types';

/** What a handler learns of a request besides its URL. */
export interface FakeRequest {
  method: string;
  /** The JSON body, parsed; undefined without one. */
  body: unknown;
}

export type Handler = (url: URL, request: FakeRequest) => unknown;

export function installFakeApi(handlers: Record<string, Handler>) {
  const requests: URL[] = [];
  const sent: { url: URL; method: string; body: unknown }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://localhost');
    requests.push(url);
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    if (method !== 'GET') sent.push({ url, method, body });
    const handler = handlers[url.pathname];
    if (!handler) return new Response(JSON.stringify({ error: 'not_found', message: url.pathname }), { status: 404 });
    const answer = handler(url, { method, body });
    if (answer instanceof Response) return answer;
    return new Response(JSON.stringify(answer), { status: 200, headers: { 'content-type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fetchMock);
  return {
    requests,
    calls: (pathname: string) => requests.filter((url) => url.pathname === pathname),
    /** The requests other than GET to `pathname` (method and parsed JSON body). */
    sent: (pathname: string) => sent.filter((request) => request.url.pathname === pathname),
  };
}

export function errorGroupItem(overrides: Partial<ErrorGroupItem> = {}): ErrorGroupItem {
  return {
    id: 12,
    task_name: 'send_email',
    service: null,
    environment: null,
    error_type: 'ValueError',
    message: 'bad address',
    count: 3,
    total: 10,
    first_seen: '2026-11-20T08:00:00Z',
    last_seen: '2026-11-28T11:30:00Z',
    is_new: false,
    state: 'open',
    regression: false,
    buckets: [
      { bucket: '2026-11-28T09:00:00Z', count: 0 },
      { bucket: '2026-11-28T10:00:00Z', count: 1 },
      { bucket: '2026-11-28T11:00:00Z', count: 2 },
    ],
    ...overrides,
  };
}

export function errorsPage(groups: ErrorGroupItem[], timeWindowHours = 24) {
  return { time_window_hours: timeWindowHours, generated_at: '2026-11-28T12:00:00Z', groups };
}

export function historyItem(overrides: Partial<HistoryItem> = {}): HistoryItem {
  return {
    id: 1,
    task_name: 'score_message',
    status: 'success',
    params: { message_id: 1 },
    started_at: '2026-11-28T10:00:00Z',
    completed_at: '2026-11-28T10:00:01Z',
    duration_ms: 1000,
    error_message: null,
    error_traceback: null,
    created_at: '2026-11-28T09:59:59Z',
    task_id: 'task-1',
    attempt: 0,
    source: 'tasklens',
    queue: 'default',
    queue_wait_ms: 5,
    service_name: null,
    environment: null,
    updated_at: '2026-11-28T10:00:01Z',
    ...overrides,
  };
}

export function historyPage(items: HistoryItem[], overrides: Record<string, unknown> = {}) {
  return {
    total_count: items.length,
    total_is_exact: true,
    page: 1,
    page_size: 50,
    total_pages: 1,
    items,
    ...overrides,
  };
}

export function statusChanged(
  id: number,
  status: TaskStatus,
  taskName = 'score_message',
  second = 0,
  where: { service?: string | null; environment?: string | null } = {},
): TaskStatusChangedMessage {
  const timestamp = new Date(Date.UTC(2026, 10, 28, 12, 0, 0) + second * 1000).toISOString();
  return {
    type: 'task_status_changed',
    task_name: taskName,
    status,
    timestamp,
    data: {
      id,
      task_id: `task-${id}`,
      previous_status: null,
      source: 'tasklens',
      attempt: 0,
      created_at: timestamp,
      started_at: null,
      completed_at: null,
      duration_ms: null,
      queue_wait_ms: null,
      error_message: null,
      service_name: where.service ?? null,
      environment: where.environment ?? null,
    },
  };
}

export function metricsItem(task_name: string, overrides: Partial<TaskMetrics> = {}): TaskMetrics {
  return {
    task_name,
    service: null,
    environment: null,
    total_executions: 10,
    pending: 1,
    running: 1,
    success: 7,
    failed: 1,
    avg_duration_ms: 250,
    success_rate: 70,
    p50_duration_ms: 200,
    p95_duration_ms: 1500,
    p99_duration_ms: 2000,
    avg_queue_wait_ms: null,
    p50_queue_wait_ms: null,
    p95_queue_wait_ms: null,
    p99_queue_wait_ms: null,
    ...overrides,
  };
}

/** A task-names answer; services and environments default to those of the types. */
export function taskNamesAnswer(
  types: TaskTypeItem[],
  all: { services?: string[]; environments?: string[] } = {},
): TaskNamesResponse {
  const distinct = (values: (string | null)[]) => [...new Set(values.filter((v): v is string => v !== null))].sort();
  return {
    task_names: distinct(types.map((t) => t.task_name)),
    task_types: types,
    services: all.services ?? distinct(types.map((t) => t.service)),
    environments: all.environments ?? distinct(types.map((t) => t.environment)),
  };
}
