import { useEffect, useRef } from 'react';
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
  return <Drawer id={id} />;
}

function Drawer({ id }: { id: number }) {
  const query = useRun(id);
  const closeButton = useRef<HTMLButtonElement>(null);
  const close = () => updateSearch({ run: null });

  useEffect(() => {
    // Focus moves into the drawer, and back to where it was when it closes.
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    closeButton.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        updateSearch({ run: null });
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      if (previous?.isConnected) previous.focus();
    };
  }, []);

  return (
    <>
      <div className="drawer-backdrop" onClick={close} aria-hidden="true" />
      <aside className="drawer" role="dialog" aria-modal="true" aria-labelledby="drawer-title" data-testid="run-detail">
        <header className="drawer-header">
          <h2 id="drawer-title">{query.data ? query.data.task_name : `Run ${id}`}</h2>
          <span className="drawer-sub">run #{id}</span>
          <button ref={closeButton} type="button" onClick={close} aria-label="Close the run detail (Escape)">
            Close
          </button>
        </header>
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
      </aside>
    </>
  );
}
