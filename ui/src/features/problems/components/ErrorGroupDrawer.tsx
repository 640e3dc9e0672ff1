import { Drawer } from '../../../components/Drawer';
import { LoadError, Loading } from '../../../components/QueryStatus';
import { ApiError } from '../../../lib/api-client';
import { useErrors } from '../../../lib/problem-queries';
import { useServiceFilter } from '../../../lib/service-filter';
import { taskTypeLabeler } from '../../../lib/task-types';
import { parseWindowHours } from '../../../lib/time-windows';
import { updateSearch, useSearch } from '../../../lib/url-state';
import { useErrorGroup } from '../api/get-error-group';
import { closeGroup, groupIdFromSearch } from '../group-url';
import { ErrorGroupDetail } from './ErrorGroupDetail';
import { errorTypeOf } from './GroupBadges';

/**
 * The group named by `?group=ID`, in a drawer. A run opened from it (`?run=`) takes its place
 * while open, so one dialog shows at a time, and closing the run comes back to the group.
 */
export function ErrorGroupDrawer() {
  const search = useSearch();
  const id = groupIdFromSearch(search);
  const runOpen = /^\d+$/.test(search.get('run') ?? '');
  if (id === null || runOpen) return null;
  return <GroupDrawer id={id} windowHours={parseWindowHours(search.get('window'))} />;
}

function GroupDrawer({ id, windowHours }: { id: number; windowHours: number }) {
  const query = useErrorGroup(id);
  // The failures per bucket come with the list (the same query as the panel's, not refetched).
  const groups = useErrors(windowHours, useServiceFilter()).data?.groups ?? [];
  const item = groups.find((g) => g.id === id) ?? null;
  const group = query.data;
  // Labelled among the panel's groups: its service shows when the list's row shows it.
  const labelOf = taskTypeLabeler(group ? [group, ...groups] : groups);
  return (
    <Drawer
      title={group ? `${errorTypeOf(group.error_type)} in ${labelOf(group).text}` : `Error group ${id}`}
      sub={`error group #${id}`}
      closeLabel="Close the error group (Escape)"
      onClose={() => updateSearch(closeGroup)}
      testId="error-group-detail"
    >
      {query.isPending ? (
        <Loading what={`error group ${id}`} />
      ) : query.isError ? (
        query.error instanceof ApiError && query.error.status === 404 ? (
          <p className="state state-empty">Error group {id} does not exist.</p>
        ) : (
          <LoadError what={`error group ${id}`} error={query.error} onRetry={() => void query.refetch()} />
        )
      ) : (
        <ErrorGroupDetail group={query.data} label={labelOf(query.data)} item={item} windowHours={windowHours} />
      )}
    </Drawer>
  );
}
