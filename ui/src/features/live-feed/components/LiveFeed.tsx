import { useEffect, useMemo, useState } from 'react';
import { Empty, LoadError, Loading } from '../../../components/QueryStatus';
import { StatusSelect, TaskNameSelect } from '../../../components/FilterSelects';
import { StatusBadge } from '../../../components/StatusBadge';
import { TaskTypeName } from '../../../components/TaskTypeName';
import { isTaskStatus } from '../../../lib/api-types';
import { formatClock, formatDuration } from '../../../lib/format';
import type { FeedFilter } from '../../../lib/query-keys';
import { hasServiceFilter, useServiceFilter } from '../../../lib/service-filter';
import { useMonitoringSocket } from '../../../lib/socket-context';
import { useTaskNames } from '../../../lib/task-names';
import { taskTypeLabeler, type TaskType } from '../../../lib/task-types';
import { hrefWithSearch, updateSearch, useSearch } from '../../../lib/url-state';
import { useRecentRuns } from '../api/get-recent-runs';
import { countNewSince, matchesFeedFilter, type FeedItem } from '../feed-items';
import { ConnectionStatus } from './ConnectionStatus';

const taskTypeOf = (item: FeedItem): TaskType => ({
  task_name: item.taskName,
  service: item.service,
  environment: item.environment,
});

export function LiveFeed() {
  const search = useSearch();
  const taskName = search.get('feed_task') || null;
  const statusParam = search.get('feed_status');
  const status = isTaskStatus(statusParam) ? statusParam : null;
  const { service, environment } = useServiceFilter();
  const filter = useMemo<FeedFilter>(
    () => ({ taskName, status, service, environment }),
    [taskName, status, service, environment],
  );
  const socket = useMonitoringSocket();
  const taskNames = useTaskNames();
  const query = useRecentRuns(filter);
  // While paused the list shown is frozen; the cache keeps taking events (bounded), and the
  // difference is the "new" counter.
  const [pausedSnapshot, setPausedSnapshot] = useState<FeedItem[] | null>(null);

  useEffect(() => {
    socket.subscribe({
      taskNames: filter.taskName ? [filter.taskName] : null,
      statuses: filter.status ? [filter.status] : null,
      services: filter.service ? [filter.service] : null,
      environments: filter.environment ? [filter.environment] : null,
    });
  }, [socket, filter]);

  useEffect(() => setPausedSnapshot(null), [filter]);

  const live = query.data ?? [];
  const shown = (pausedSnapshot ?? live).filter((item) => matchesFeedFilter(item, filter));
  const newCount = pausedSnapshot ? countNewSince(pausedSnapshot, live) : 0;
  const labelOf = taskTypeLabeler(shown.map(taskTypeOf));

  return (
    <section className="panel live-feed" aria-labelledby="live-feed-title">
      <header className="panel-header">
        <h2 id="live-feed-title">Live activity</h2>
        <ConnectionStatus />
      </header>
      <div className="toolbar">
        <TaskNameSelect
          id="feed-task"
          value={filter.taskName}
          taskNames={taskNames}
          onChange={(value) => updateSearch({ feed_task: value }, { replace: true })}
        />
        <StatusSelect
          id="feed-status"
          value={filter.status}
          onChange={(value) => updateSearch({ feed_status: value }, { replace: true })}
        />
        <button
          type="button"
          className="pause-button"
          aria-pressed={pausedSnapshot !== null}
          onClick={() => setPausedSnapshot(pausedSnapshot ? null : live)}
        >
          {pausedSnapshot ? 'Resume' : 'Pause'}
        </button>
        {pausedSnapshot && (
          <span className="new-count" role="status" data-testid="feed-new-count">
            Paused · {newCount} new
          </span>
        )}
      </div>
      {query.isPending ? (
        <Loading what="recent runs" />
      ) : query.isError ? (
        <LoadError what="recent runs" error={query.error} onRetry={() => void query.refetch()} />
      ) : shown.length === 0 ? (
        <Empty>
          No runs yet{filter.taskName || filter.status || hasServiceFilter(filter) ? ' for this filter' : ''}: they appear
          here as their status changes.
        </Empty>
      ) : (
        <ol className="feed-list" aria-label="Run status changes, newest first" data-testid="live-feed-list">
          {shown.map((item) => (
            <li key={item.key} className="feed-item">
              <time dateTime={item.timestamp}>{formatClock(item.timestamp)}</time>
              <StatusBadge status={item.status} />
              <a
                className="feed-task"
                href={hrefWithSearch({ run: item.id })}
                onClick={(event) => {
                  event.preventDefault();
                  updateSearch({ run: item.id });
                }}
              >
                <TaskTypeName label={labelOf(taskTypeOf(item))} />
              </a>
              <span className="feed-meta">
                {item.durationMs !== null ? formatDuration(item.durationMs) : item.previousStatus ? `was ${item.previousStatus}` : 'new'}
                {item.attempt > 0 ? ` · attempt ${item.attempt}` : ''}
              </span>
              {item.errorMessage && <span className="feed-error">{item.errorMessage}</span>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
