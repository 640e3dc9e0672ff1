import { Empty, LoadError, Loading } from '../../../components/QueryStatus';
import { useErrors, useStuck } from '../../../lib/problem-queries';
import { useServiceFilter } from '../../../lib/service-filter';
import { taskTypeKey, taskTypeLabeler } from '../../../lib/task-types';
import { TIME_WINDOWS, parseWindowHours } from '../../../lib/time-windows';
import { updateSearch, useSearch } from '../../../lib/url-state';
import { useMetrics } from '../api/get-metrics';
import { useThroughput } from '../api/get-throughput';
import { problemCounts, problemsOf, throughputSeries } from '../card-math';
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
  // The Problems section's queries (same window and scope): shared, not fetched a second time.
  const errors = useErrors(windowHours, scope);
  const stuck = useStuck(scope);
  const label = TIME_WINDOWS.find((w) => w.hours === windowHours)?.label ?? `${windowHours} h`;

  let body;
  if (metrics.isPending) body = <Loading what="task health" />;
  else if (metrics.isError)
    body = <LoadError what="task health" error={metrics.error} onRetry={() => void metrics.refetch()} />;
  else if (metrics.data.metrics.length === 0)
    body = <Empty>No runs in the last {label}. Cards appear as soon as runs are recorded.</Empty>;
  else {
    const series = throughput.data;
    // Each query keeps its previous answer while the window or the scope changes. A list still
    // of the previous scope or window under cards of the new one would count wrong (a 0 for a
    // type it did not cover): it says nothing until its own answer comes.
    const current = <T,>(query: { data: T | undefined; isPlaceholderData: boolean }) =>
      query.isPlaceholderData && !metrics.isPlaceholderData ? undefined : query.data;
    const problems = problemCounts(current(errors)?.groups, current(stuck)?.by_task);
    const labelOf = taskTypeLabeler(metrics.data.metrics);
    body = (
      <div className="cards" aria-busy={metrics.isFetching}>
        {metrics.data.metrics.map((m) => {
          // A card's problems are its task type's: same name, service and environment.
          const { openGroups, stuckRuns } = problemsOf(problems, m);
          return (
            <HealthCard
              key={taskTypeKey(m)}
              metrics={m}
              label={labelOf(m)}
              throughput={series ? throughputSeries(series.points, m, series.start, series.end, series.bucket_seconds) : []}
              openGroups={openGroups}
              stuckRuns={stuckRuns}
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
