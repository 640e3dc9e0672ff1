import { Empty, LoadError, Loading } from '../../../components/QueryStatus';
import { useErrors, useStuck } from '../../../lib/problem-queries';
import { hasServiceFilter, useServiceFilter } from '../../../lib/service-filter';
import { taskTypeKey, taskTypeLabeler } from '../../../lib/task-types';
import { TIME_WINDOWS, parseWindowHours } from '../../../lib/time-windows';
import { updateSearch, useSearch } from '../../../lib/url-state';
import { useMetrics } from '../api/get-metrics';
import { useThroughput } from '../api/get-throughput';
import { problemCounts, throughputSeries } from '../card-math';
import { HealthCard } from './HealthCard';

export function WindowSelector({ value }: { value: number }) {
  return (
    <div className="segmented" role="group" aria-label="Time window">
      {TIME_WINDOWS.map((w) => (
        <button
          key={w.hours}
          type="button"
          aria-pressed={w.hours === value}
          onClick={() => updateSearch({ window: w.hours === 24 ? null : w.hours })}
        >
          {w.label}
        </button>
      ))}
    </div>
  );
}

export function HealthCards() {
  const windowHours = parseWindowHours(useSearch().get('window'));
  const scope = useServiceFilter();
  const metrics = useMetrics(windowHours, scope);
  const throughput = useThroughput(windowHours, scope);
  // The Problems section's queries: shared, not fetched a second time.
  const errors = useErrors(windowHours);
  const stuck = useStuck();
  const label = TIME_WINDOWS.find((w) => w.hours === windowHours)?.label ?? `${windowHours} h`;

  let body;
  if (metrics.isPending) body = <Loading what="task health" />;
  else if (metrics.isError)
    body = <LoadError what="task health" error={metrics.error} onRetry={() => void metrics.refetch()} />;
  else if (metrics.data.metrics.length === 0)
    body = <Empty>No runs in the last {label}. Cards appear as soon as runs are recorded.</Empty>;
  else {
    const series = throughput.data;
    const problems = problemCounts(errors.data?.groups, stuck.data?.by_task);
    const labelOf = taskTypeLabeler(metrics.data.metrics);
    // Problems are counted per task name: a card of a narrowed scope, or one of several cards of
    // the same name, may count other services' problems.
    const filtered = hasServiceFilter(scope);
    body = (
      <div className="cards" aria-busy={metrics.isFetching}>
        {metrics.data.metrics.map((m) => {
          const label = labelOf(m);
          return (
            <HealthCard
              key={taskTypeKey(m)}
              metrics={m}
              label={label}
              throughput={series ? throughputSeries(series.points, m, series.start, series.end, series.bucket_seconds) : []}
              openGroups={problems.openGroups ? (problems.openGroups.get(m.task_name) ?? 0) : null}
              stuckRuns={problems.stuckRuns ? (problems.stuckRuns.get(m.task_name) ?? 0) : null}
              problemsOfName={filtered || label.qualifier !== null}
            />
          );
        })}
      </div>
    );
  }
  return (
    <section className="panel" aria-labelledby="health-title">
      <header className="panel-header">
        <h2 id="health-title">Task health · last {label}</h2>
        <WindowSelector value={windowHours} />
      </header>
      {body}
    </section>
  );
}
