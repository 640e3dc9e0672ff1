import { TaskNameSelect } from '../../../components/FilterSelects';
import { Empty, LoadError, Loading } from '../../../components/QueryStatus';
import { useServiceFilter } from '../../../lib/service-filter';
import { useTaskNames } from '../../../lib/task-names';
import { TIME_WINDOWS, parseWindowHours } from '../../../lib/time-windows';
import { updateSearch, useSearch } from '../../../lib/url-state';
import { useTimeseries } from '../api/get-timeseries';
import { chartBuckets, chartTaskTypes } from '../chart-data';
import { DurationChart, ThroughputChart } from './charts-svg';

export function ChartsPanel() {
  const search = useSearch();
  const windowHours = parseWindowHours(search.get('window'));
  const taskName = search.get('chart_task') || null;
  const taskNames = useTaskNames();
  const scope = useServiceFilter();
  const query = useTimeseries(windowHours, taskName, scope);
  const label = TIME_WINDOWS.find((w) => w.hours === windowHours)?.label ?? `${windowHours} h`;

  let body;
  if (query.isPending) body = <Loading what="charts" />;
  else if (query.isError) body = <LoadError what="charts" error={query.error} onRetry={() => void query.refetch()} />;
  else {
    const buckets = chartBuckets(query.data, taskName);
    const any = buckets.some((b) => b.success + b.failed + b.running + b.pending > 0);
    // One name can be several task types (services, environments): their durations are not merged.
    const severalTypes = taskName === null || chartTaskTypes(query.data, taskName) > 1;
    body = !any ? (
      <Empty>No runs in the last {label}{taskName ? ` for ${taskName}` : ''}.</Empty>
    ) : (
      <div className="charts">
        <figure>
          <figcaption>
            Throughput by status (per {query.data.granularity}) <Legend items={['success', 'failed', 'running', 'pending']} prefix="bar" />
          </figcaption>
          <ThroughputChart buckets={buckets} />
        </figure>
        <figure>
          <figcaption>
            Duration {severalTypes ? '(slowest task type) ' : ''}
            <Legend items={['p50', 'p95']} prefix="line" />
          </figcaption>
          <DurationChart buckets={buckets} />
        </figure>
      </div>
    );
  }
  return (
    <section className="panel" aria-labelledby="charts-title">
      <header className="panel-header">
        <h2 id="charts-title">Over time · last {label}</h2>
        <TaskNameSelect
          id="chart-task"
          value={taskName}
          taskNames={taskNames}
          onChange={(value) => updateSearch({ chart_task: value })}
        />
      </header>
      {body}
    </section>
  );
}

function Legend({ items, prefix }: { items: string[]; prefix: string }) {
  return (
    <span className="legend">
      {items.map((item) => (
        <span key={item} className="legend-item">
          <span className={`legend-swatch ${prefix}-${item}`} aria-hidden="true" />
          {item}
        </span>
      ))}
    </span>
  );
}
