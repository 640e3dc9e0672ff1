import { Empty, LoadError, Loading } from '../../../components/QueryStatus';
import { Sparkline } from '../../../components/Sparkline';
import { TaskTypeName } from '../../../components/TaskTypeName';
import type { ErrorGroupItem } from '../../../lib/api-types';
import { formatCount, formatTime } from '../../../lib/format';
import { useErrors } from '../../../lib/problem-queries';
import { useServiceFilter } from '../../../lib/service-filter';
import { taskTypeLabeler, type TaskTypeLabel } from '../../../lib/task-types';
import { parseWindowHours, windowLabel } from '../../../lib/time-windows';
import { hrefWithSearch, updateSearch, useSearch } from '../../../lib/url-state';
import { openGroup } from '../group-url';
import { GroupMarkers, GroupStateBadge, errorTypeOf } from './GroupBadges';

function GroupRow({ group, label }: { group: ErrorGroupItem; label: TaskTypeLabel }) {
  const failures = group.buckets.map((b) => b.count);
  return (
    <tr data-group-id={group.id}>
      <td className="cell-group">
        {/* A real href (shareable, opens in a new tab); a click opens the detail in place. */}
        <a
          href={hrefWithSearch(openGroup(group.id))}
          onClick={(event) => {
            event.preventDefault();
            updateSearch(openGroup(group.id));
          }}
        >
          {errorTypeOf(group.error_type)}
        </a>{' '}
        <GroupMarkers isNew={group.is_new} regression={group.regression} />
        {/* Task data: rendered as text only (React escapes it). */}
        <div className="group-message" title={group.message ?? undefined} data-testid="group-message">
          {group.message ?? 'No message'}
        </div>
      </td>
      <td className="cell-name" title={label.text}>
        <TaskTypeName label={label} />
      </td>
      <td className="num" data-testid="group-count">
        {formatCount(group.count)}
      </td>
      <td className="num" data-testid="group-total">
        {formatCount(group.total)}
      </td>
      <td className="cell-spark">
        <Sparkline values={failures} label={`${group.count} failures over the window`} tone="failed" />
      </td>
      <td className="cell-seen">
        <time dateTime={group.first_seen} data-testid="group-first-seen">
          {formatTime(group.first_seen)}
        </time>
        <br />
        <time dateTime={group.last_seen} data-testid="group-last-seen">
          {formatTime(group.last_seen)}
        </time>
      </td>
      <td>
        <GroupStateBadge state={group.state} />
      </td>
    </tr>
  );
}

/**
 * The error groups seen in the page's window and scope, most recently seen first. A group is one
 * task type's: a name in several services is one row each, with its service.
 */
export function ErrorGroups() {
  const windowHours = parseWindowHours(useSearch().get('window'));
  const errors = useErrors(windowHours, useServiceFilter());
  const label = windowLabel(windowHours);

  let body;
  if (errors.isPending) body = <Loading what="error groups" />;
  else if (errors.isError)
    body = <LoadError what="error groups" error={errors.error} onRetry={() => void errors.refetch()} />;
  else if (errors.data.groups.length === 0) body = <Empty>No failures in the last {label}.</Empty>;
  else {
    const labelOf = taskTypeLabeler(errors.data.groups);
    body = (
      <div className="table-scroll" aria-busy={errors.isFetching}>
        <table className="history-table groups-table" aria-label="Error groups">
          <thead>
            <tr>
              <th scope="col">Error</th>
              <th scope="col">Task</th>
              <th scope="col" className="num">
                In window
              </th>
              <th scope="col" className="num">
                Total
              </th>
              <th scope="col">Failures</th>
              <th scope="col">First / last seen</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {errors.data.groups.map((group) => (
              <GroupRow key={group.id} group={group} label={labelOf(group)} />
            ))}
          </tbody>
        </table>
      </div>
    );
  }
  const count = errors.data?.groups.length;
  return (
    <section className="panel" aria-labelledby="groups-title">
      <header className="panel-header">
        <h2 id="groups-title">
          Problems · error groups · last {label}
          {count ? ` (${count})` : ''}
        </h2>
      </header>
      {body}
    </section>
  );
}
