// Hand-written from the dashboard API's JSON contract until dashboard-api/openapi.json exists;
// then replaced by `npm run gen:api-types` (openapi-typescript) and checked by check:api-types.
export interface components {
  schemas: {
    TaskStatus: 'pending' | 'running' | 'success' | 'failed';
    TaskMetrics: {
      task_name: string;
      total_executions: number;
      pending: number;
      running: number;
      success: number;
      failed: number;
      avg_duration_ms: number | null;
      success_rate: number;
      p50_duration_ms: number | null;
      p95_duration_ms: number | null;
      p99_duration_ms: number | null;
      avg_queue_wait_ms: number | null;
      p50_queue_wait_ms: number | null;
      p95_queue_wait_ms: number | null;
      p99_queue_wait_ms: number | null;
    };
    MetricsResponse: {
      time_window_hours: number;
      generated_at: string;
      metrics: components['schemas']['TaskMetrics'][];
    };
    HistoryItem: {
      id: number;
      task_name: string;
      status: components['schemas']['TaskStatus'];
      params: unknown;
      started_at: string | null;
      completed_at: string | null;
      duration_ms: number | null;
      error_message: string | null;
      error_traceback: string | null;
      created_at: string;
      task_id: string;
      attempt: number;
      source: string;
      queue: string | null;
      queue_wait_ms: number | null;
      updated_at: string;
    };
    HistoryResponse: {
      total_count: number;
      total_is_exact: boolean;
      page: number;
      page_size: number;
      total_pages: number;
      items: components['schemas']['HistoryItem'][];
    };
    OtherAttempt: {
      id: number;
      attempt: number;
      status: components['schemas']['TaskStatus'];
      created_at: string;
      started_at: string | null;
      completed_at: string | null;
      duration_ms: number | null;
      error_message: string | null;
    };
    TaskDetail: {
      id: number;
      task_id: string;
      task_name: string;
      status: components['schemas']['TaskStatus'];
      attempt: number;
      source: string;
      params: unknown;
      created_at: string;
      updated_at: string;
      enqueued_at: string | null;
      started_at: string | null;
      completed_at: string | null;
      duration_ms: number | null;
      queue_wait_ms: number | null;
      error_message: string | null;
      error_type: string | null;
      error_traceback: string | null;
      trace_id: string | null;
      span_id: string | null;
      queue: string | null;
      service_name: string | null;
      worker_host: string | null;
      other_attempts: components['schemas']['OtherAttempt'][];
    };
    TimeseriesPoint: {
      bucket: string;
      task_name: string;
      pending: number;
      running: number;
      success: number;
      failed: number;
      p50_duration_ms: number | null;
      p95_duration_ms: number | null;
    };
    TimeseriesResponse: {
      granularity: 'minute' | 'hour' | 'day';
      bucket_seconds: number;
      start: string;
      end: string;
      points: components['schemas']['TimeseriesPoint'][];
    };
    TaskNamesResponse: { task_names: string[] };
    ErrorBody: { error: string; parameter?: string | null; message: string };
  };
}
