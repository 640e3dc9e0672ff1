import type { ReactNode } from 'react';
import { Sparkline } from '../../../components/Sparkline';
import { StatusBadge } from '../../../components/StatusBadge';
import { TaskTypeName } from '../../../components/TaskTypeName';
import type { ErrorGroupDetail as Group, ErrorGroupItem, HistoryItem } from '../../../lib/api-types';
import { NONE, formatCount, formatDuration, formatTime } from '../../../lib/format';
import type { TaskTypeLabel } from '../../../lib/task-types';
import { windowLabel } from '../../../lib/time-windows';
import { hrefWithSearch, updateSearch } from '../../../lib/url-state';
import { historyOfGroup } from '../group-url';
import { GroupMarkers, GroupStateBadge } from './GroupBadges';
import { GroupStateActions } from './GroupStateActions';

/**
 * One error group (of one task type: its name, service and environment): its figures, failures
 * over the window (from the list's item, when the group was seen in the window), state actions,
 * traceback and latest runs. Task data is text only.
 */
export function ErrorGroupDetail({
  group,
  label: taskType,
  item,
  windowHours,
}: {
  group: Group;
  /** The task type's label among the listed groups (its service when the name is shared). */
  label: TaskTypeLabel;
  item: ErrorGroupItem | null;
  windowHours: number;
}) {
  const label = windowLabel(windowHours);
  return (
    <div className="run-detail">
      <dl className="detail-grid">
        <Row term="Task">
          <TaskTypeName label={taskType} />
        </Row>
        <Row term="Service">{group.service ?? NONE}</Row>
        <Row term="Environment">{group.environment ?? NONE}</Row>
        <Row term="State">
          <GroupStateBadge state={group.state} /> <GroupMarkers isNew={item?.is_new ?? false} regression={group.regression} />
        </Row>
        <Row term="State changed">{formatTime(group.state_changed_at)}</Row>
        <Row term={`Failures, last ${label}`}>{item ? formatCount(item.count) : '0'}</Row>
        <Row term="Failures ever">{formatCount(group.total)}</Row>
        <Row term="First seen">{formatTime(group.first_seen)}</Row>
        <Row term="Last seen">{formatTime(group.last_seen)}</Row>
      </dl>

      {group.message && (
        <p className="error-message" data-testid="group-detail-message">
          {group.message}
        </p>
      )}

      <section aria-label={`Failures over the last ${label}`}>
        {item ? (
          <Sparkline
            values={item.buckets.map((b) => b.count)}
            label={`${item.count} failures over the last ${label}`}
            tone="failed"
          />
        ) : (
          <p className="state-empty">No failures in the last {label}.</p>
        )}
      </section>

      <div className="group-actions">
        <GroupStateActions id={group.id} state={group.state} />
        <a
          href={hrefWithSearch(historyOfGroup(group.id))}
          onClick={(event) => {
            event.preventDefault();
            updateSearch(historyOfGroup(group.id));
            // Once the drawer has closed (and given focus back), go to the history.
            setTimeout(() => document.getElementById('history-title')?.focus(), 0);
          }}
        >
          Show in history
        </a>
      </div>

      <section aria-labelledby="group-traceback-title">
        <h3 id="group-traceback-title">Traceback (newest failure)</h3>
        {group.traceback ? (
          <pre className="code-block" data-testid="group-traceback">
            {group.traceback}
          </pre>
        ) : (
          <p className="state-empty">No traceback recorded.</p>
        )}
      </section>

      <section aria-labelledby="group-runs-title">
        <h3 id="group-runs-title">Latest runs</h3>
        {group.latest_runs.length === 0 ? (
          <p className="state-empty">No runs kept (older ones are removed by retention).</p>
        ) : (
          <ul className="attempts" data-testid="group-runs">
            {group.latest_runs.map((run) => (
              <RunLine key={run.id} run={run} />
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

function RunLine({ run }: { run: HistoryItem }) {
  return (
    <li>
      {/* Opens the run detail; the group comes back when it closes (see ErrorGroupDrawer). */}
      <a
        href={hrefWithSearch({ run: run.id })}
        onClick={(event) => {
          event.preventDefault();
          updateSearch({ run: run.id });
        }}
      >
        {run.task_id}
      </a>{' '}
      <StatusBadge status={run.status} /> {formatTime(run.created_at)} · attempt {run.attempt} · {formatDuration(run.duration_ms)}
    </li>
  );
}

function Row({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}
