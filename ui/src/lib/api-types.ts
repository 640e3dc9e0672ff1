// The page's names for the API's types, all taken from the generated schema.
import type { components } from '../api/schema';

type Schemas = components['schemas'];
export type TaskStatus = Schemas['RunStatus'];
export type TaskMetrics = Schemas['TaskMetricsItem'];
export type MetricsResponse = Schemas['MetricsResponse'];
export type HistoryItem = Schemas['HistoryItem'];
export type HistoryResponse = Schemas['HistoryResponse'];
export type TaskDetail = Schemas['RunDetailResponse'];
export type OtherAttempt = Schemas['AttemptItem'];
export type TimeseriesPoint = Schemas['TimeseriesPointItem'];
export type TimeseriesResponse = Schemas['TimeseriesResponse'];
export type TaskNamesResponse = Schemas['TaskNamesResponse'];
export type TaskTypeItem = Schemas['TaskTypeItem'];
export type ErrorBody = Schemas['ErrorBody'];
export type StuckItem = Schemas['StuckItem'];
export type StuckCount = Schemas['StuckCount'];
export type StuckResponse = Schemas['StuckResponse'];
export type ErrorGroupItem = Schemas['ErrorGroupItem'];
export type ErrorsResponse = Schemas['ErrorsResponse'];
export type ErrorGroupDetail = Schemas['ErrorGroupResponse'];
export type GroupState = Schemas['GroupState'];
export type GroupStateChange = Schemas['StateChange'];

export const TASK_STATUSES: readonly TaskStatus[] = ['pending', 'running', 'success', 'failed'];

export function isTaskStatus(value: string | null | undefined): value is TaskStatus {
  return value != null && (TASK_STATUSES as readonly string[]).includes(value);
}

// WebSocket messages, also described by the OpenAPI document.
export type ServerMessage = Schemas['ServerMessage'];
export type ErrorGroupCreatedMessage = Extract<ServerMessage, { type: 'error_group_created' }>;
export type TaskStatusChangedMessage = Extract<ServerMessage, { type: 'task_status_changed' }>;
export type ResyncMessage = Extract<ServerMessage, { type: 'resync' }>;
export type SubscribeMessage = Schemas['ClientMessage'];
