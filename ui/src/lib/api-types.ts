// The page's names for the API's types, all taken from the generated schema.
import type { components } from '../api/schema';

type Schemas = components['schemas'];
export type TaskStatus = Schemas['TaskStatus'];
export type TaskMetrics = Schemas['TaskMetrics'];
export type MetricsResponse = Schemas['MetricsResponse'];
export type HistoryItem = Schemas['HistoryItem'];
export type HistoryResponse = Schemas['HistoryResponse'];
export type TaskDetail = Schemas['TaskDetail'];
export type OtherAttempt = Schemas['OtherAttempt'];
export type TimeseriesPoint = Schemas['TimeseriesPoint'];
export type TimeseriesResponse = Schemas['TimeseriesResponse'];
export type TaskNamesResponse = Schemas['TaskNamesResponse'];

export const TASK_STATUSES: readonly TaskStatus[] = ['pending', 'running', 'success', 'failed'];

export function isTaskStatus(value: string | null | undefined): value is TaskStatus {
  return value != null && (TASK_STATUSES as readonly string[]).includes(value);
}

// WebSocket messages (server → client). The OpenAPI document does not describe the socket.
export interface TaskStatusChangedMessage {
  type: 'task_status_changed';
  task_name: string;
  status: TaskStatus;
  timestamp: string;
  data: {
    id: number;
    task_id: string;
    previous_status: TaskStatus | null;
    source: string;
    attempt: number;
    created_at: string;
    started_at: string | null;
    completed_at: string | null;
    duration_ms: number | null;
    queue_wait_ms: number | null;
    error_message: string | null;
  };
}
export interface ResyncMessage {
  type: 'resync';
  timestamp: string;
  data: { reason: 'slow_client' | 'missed_events' | string };
}
export interface SubscribedMessage {
  type: 'subscribed';
  timestamp: string;
  data: { task_names: string[] | null; statuses: TaskStatus[] | null };
}
export interface ErrorMessage {
  type: 'error';
  timestamp: string;
  data: { message: string };
}
export type ServerMessage =
  | TaskStatusChangedMessage
  | ResyncMessage
  | SubscribedMessage
  | ErrorMessage;

export interface SubscribeMessage {
  type: 'subscribe';
  task_names: string[] | null;
  statuses: TaskStatus[] | null;
}
