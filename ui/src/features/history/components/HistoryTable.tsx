import { StatusBadge } from '../../../components/StatusBadge';
import { TaskTypeName } from '../../../components/TaskTypeName';
import type { HistoryItem } from '../../../lib/api-types';
import { formatDuration, formatTime } from '../../../lib/format';
import { taskTypeLabeler, type TaskType } from '../../../lib/task-types';
import { updateSearch } from '../../../lib/url-state';

const taskTypeOf = (item: HistoryItem): TaskType => ({
  task_name: item.task_name,
  service: item.service_name,
  environment: item.environment,
});

/** Rows are focusable: Tab or the arrow keys move between them, Enter opens the run. */
export function HistoryTable({ items }: { items: HistoryItem[] }) {
  const open = (id: number) => updateSearch({ run: id });
  // Runs of one name in several services on this page say which service each ran in.
  const labelOf = taskTypeLabeler(items.map(taskTypeOf));
  return (
    <div className="table-scroll">
      <table className="history-table">
        <caption className="visually-hidden">Runs, newest first. Press Enter on a row to open it.</caption>
        <thead>
          <tr>
            <th scope="col">Created</th>
            <th scope="col">Task type</th>
            <th scope="col">Status</th>
            <th scope="col">Duration</th>
            <th scope="col">Queue wait</th>
            <th scope="col">Attempt</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {items.map((item) => {
            const label = labelOf(taskTypeOf(item));
            return (
              <tr
                key={item.id}
                tabIndex={0}
                className="history-row"
                data-run-id={item.id}
                aria-label={`${label.text} ${item.status}, created ${formatTime(item.created_at)}`}
                onClick={() => open(item.id)}
                onKeyDown={(event) => {
                  if (event.key === 'Enter' || event.key === ' ') {
                    event.preventDefault();
                    open(item.id);
                  } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
                    event.preventDefault();
                    const row = event.currentTarget;
                    const next = event.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling;
                    if (next instanceof HTMLElement) next.focus();
                  }
                }}
              >
                <td>
                  <time dateTime={item.created_at}>{formatTime(item.created_at)}</time>
                </td>
                <td className="cell-name" title={label.text}>
                  <TaskTypeName label={label} />
                </td>
                <td>
                  <StatusBadge status={item.status} />
                </td>
                <td className="num">{formatDuration(item.duration_ms)}</td>
                <td className="num">{formatDuration(item.queue_wait_ms)}</td>
                <td className="num">{item.attempt}</td>
                <td className="cell-error" title={item.error_message ?? undefined}>
                  {item.error_message ?? ''}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
