import { Drawer } from '../../../components/Drawer';
import { LoadError, Loading } from '../../../components/QueryStatus';
import { ApiError } from '../../../lib/api-client';
import { updateSearch, useSearch } from '../../../lib/url-state';
import { useRun } from '../api/get-run';
import { RunDetail } from './RunDetail';

/** The run named by `?run=ID`, in a drawer over the page; Escape or Close closes it. */
export function RunDetailDrawer() {
  const runParam = useSearch().get('run');
  const id = runParam !== null && /^\d+$/.test(runParam) ? Number(runParam) : null;
  if (id === null) return null;
  return <RunDrawer id={id} />;
}

function RunDrawer({ id }: { id: number }) {
  const query = useRun(id);
  return (
    <Drawer
      title={query.data ? query.data.task_name : `Run ${id}`}
      sub={`run #${id}`}
      closeLabel="Close the run detail (Escape)"
      onClose={() => updateSearch({ run: null })}
      testId="run-detail"
    >
      {query.isPending ? (
        <Loading what={`run ${id}`} />
      ) : query.isError ? (
        query.error instanceof ApiError && query.error.status === 404 ? (
          <p className="state state-empty">Run {id} does not exist (or was removed by retention).</p>
        ) : (
          <LoadError what={`run ${id}`} error={query.error} onRetry={() => void query.refetch()} />
        )
      ) : (
        <RunDetail run={query.data} />
      )}
    </Drawer>
  );
}
