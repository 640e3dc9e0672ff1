import type { TaskMetrics } from '../../../lib/api-types';
import { plural } from '../../../lib/format';
import type { TaskTypeLabel } from '../../../lib/task-types';
import { summarizeCard } from '../card-math';
import { Sparkline } from '../../../components/Sparkline';
import { TaskTypeName } from '../../../components/TaskTypeName';

export function HealthCard({
  metrics,
  label,
  throughput,
  openGroups = null,
  stuckRuns = null,
}: {
  metrics: TaskMetrics;
  label: TaskTypeLabel;
  throughput: readonly number[];
  /** The task type's; null while (or when) the errors or stuck list is unknown: nothing is said. */
  openGroups?: number | null;
  stuckRuns?: number | null;
}) {
  const card = summarizeCard(metrics);
  const finished = throughput.reduce((sum, v) => sum + v, 0);
  return (
    <article className={`card card-${card.health}`} aria-label={`Health of ${label.text}`} data-testid="health-card">
      <h3 className="card-title" title={label.text}>
        <TaskTypeName label={label} />
      </h3>
      <dl className="card-stats">
        <div>
          <dt>Success rate</dt>
          <dd data-testid="success-rate">{card.successRate}</dd>
        </div>
        <div>
          <dt>Avg</dt>
          <dd data-testid="avg-duration">{card.avgDuration}</dd>
        </div>
        <div>
          <dt>p95</dt>
          <dd data-testid="p95-duration">{card.p95Duration}</dd>
        </div>
      </dl>
      <dl className="card-counts">
        <div>
          <dt>Runs</dt>
          <dd data-testid="count-total">{card.total}</dd>
        </div>
        <div className="count-pending">
          <dt>pending</dt>
          <dd data-testid="count-pending">{card.counts.pending}</dd>
        </div>
        <div className="count-running">
          <dt>running</dt>
          <dd data-testid="count-running">{card.counts.running}</dd>
        </div>
        <div className="count-success">
          <dt>success</dt>
          <dd data-testid="count-success">{card.counts.success}</dd>
        </div>
        <div className="count-failed">
          <dt>failed</dt>
          <dd data-testid="count-failed">{card.counts.failed}</dd>
        </div>
      </dl>
      {(openGroups !== null || stuckRuns !== null) && (
        <p className="card-problems">
          {openGroups !== null && (
            <span data-testid="open-groups" className={openGroups > 0 ? 'problem-some' : undefined}>
              {plural(openGroups, 'open error group')}
            </span>
          )}
          {stuckRuns !== null && (
            <span data-testid="stuck-runs" className={stuckRuns > 0 ? 'problem-some' : undefined}>
              {plural(stuckRuns, 'stuck run')}
            </span>
          )}
        </p>
      )}
      <Sparkline values={throughput} label={`${finished} finished runs over the window`} />
    </article>
  );
}
