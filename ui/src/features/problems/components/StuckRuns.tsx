import { Empty, LoadError, Loading } from '../../../components/QueryStatus';
import { StatusBadge } from '../../../components/StatusBadge';
import { TaskTypeName } from '../../../components/TaskTypeName';
import type { StuckItem } from '../../../lib/api-types';
import { formatDuration, formatTime } from '../../../lib/format';
import { updateSearch } from '../../../lib/url-state';
import { useStuck } from '../../../lib/problem-queries';
import { useServiceFilter } from '../../../lib/service-filter';
import { taskTypeLabeler, type TaskTypeLabel } from '../../../lib/task-types';

const THRESHOLD_ORIGIN: Record<StuckItem['threshold_source'], string> = {
  configured: 'set by --stuck-threshold',
  history: '5 x its 7-day p99',
  floor: 'the 5-minute floor',
};

function StuckRow({ run, label }: { run: StuckItem; label: TaskTypeLabel }) {
  const state = run.status === 'pending' ? 'pending' : 'running';
  return (
    <tr>
      <td>
        <button
          type="button"
          className="link-button cell-name"
          title={label.text}
          onClick={() => updateSearch({ run: run.id })}
        >
          <TaskTypeName label={label} />
        </button>
        <div className="stuck-id">{run.task_id}</div>
      </td>
      <td>
        <StatusBadge status={run.status} />
      </td>
      <td title={`${state} since ${formatTime(run.since)}`}>
        <span data-testid="stuck-age">{formatDuration(run.age_ms)}</span>
      </td>
      <td title={THRESHOLD_ORIGIN[run.threshold_source]}>
        {formatDuration(run.threshold_ms)} <span className="stuck-origin">({THRESHOLD_ORIGIN[run.threshold_source]})</span>
      </td>
    </tr>
  );
}

/** The stuck runs of the page's scope, oldest first; a name in several services shows its service. */
export function StuckRuns() {
  const stuck = useStuck(useServiceFilter());
  let body;
  if (stuck.isPending) body = <Loading what="stuck runs" />;
  else if (stuck.isError)
    body = <LoadError what="stuck runs" error={stuck.error} onRetry={() => void stuck.refetch()} />;
  else if (stuck.data.runs.length === 0)
    body = <Empty>No stuck runs: every unfinished run is within its task type&apos;s threshold.</Empty>;
  else {
    const labelOf = taskTypeLabeler(stuck.data.runs);
    body = (
      <>
      {stuck.data.total > stuck.data.runs.length && (
        <p className="panel-note" data-testid="stuck-listed">
          The oldest {stuck.data.runs.length} of {stuck.data.total} stuck runs.
        </p>
      )}
      <div className="table-scroll" aria-busy={stuck.isFetching}>
      <table className="history-table" aria-label="Stuck runs">
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Status</th>
            <th scope="col">For</th>
            <th scope="col">Threshold</th>
          </tr>
        </thead>
        <tbody>
          {stuck.data.runs.map((run) => (
            <StuckRow key={run.id} run={run} label={labelOf(run)} />
          ))}
        </tbody>
      </table>
      </div>
      </>
    );
  }
  const count = stuck.data?.total;
  return (
    <section className="panel" aria-labelledby="stuck-title">
      <header className="panel-header">
        <h2 id="stuck-title">
          Problems · stuck runs{count ? ` (${count})` : ''}
        </h2>
      </header>
      {body}
    </section>
  );
}
