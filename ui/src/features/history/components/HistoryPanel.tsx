import { useMemo } from 'react';
import { Empty, LoadError, Loading } from '../../../components/QueryStatus';
import { formatCount } from '../../../lib/format';
import { updateSearch, useSearch } from '../../../lib/url-state';
import { useHistory } from '../api/get-history';
import { filtersFromSearch } from '../history-url';
import { HistoryFilters } from './HistoryFilters';
import { HistoryTable } from './HistoryTable';

export function HistoryPanel() {
  const searchString = useSearch().toString();
  const filters = useMemo(() => filtersFromSearch(new URLSearchParams(searchString)), [searchString]);
  const query = useHistory(filters);
  const data = query.data;
  const filtered = Boolean(
    filters.taskName || filters.status || filters.startDate || filters.endDate || filters.q || filters.errorGroup ||
      filters.service || filters.environment,
  );

  let body;
  if (query.isPending) body = <Loading what="the history" />;
  else if (query.isError) body = <LoadError what="the history" error={query.error} onRetry={() => void query.refetch()} />;
  else if (!data || data.items.length === 0)
    body = <Empty>{filtered ? 'No runs match these filters.' : 'No runs recorded yet.'}</Empty>;
  else {
    // A free-text count stops at 1000: then it is a lower bound and the last page is unknown.
    const hasNext = data.total_is_exact ? data.page < data.total_pages : data.items.length === data.page_size;
    body = (
      <>
        <HistoryTable items={data.items} />
        <nav className="pagination" aria-label="History pages">
          <button type="button" disabled={data.page <= 1} onClick={() => updateSearch({ page: data.page - 1 > 1 ? data.page - 1 : null })}>
            ← Newer
          </button>
          <span>
            Page {data.page}
            {data.total_is_exact ? ` of ${Math.max(1, data.total_pages)}` : ''}
          </span>
          <button type="button" disabled={!hasNext} onClick={() => updateSearch({ page: data.page + 1 })}>
            Older →
          </button>
        </nav>
      </>
    );
  }

  return (
    <section className="panel" aria-labelledby="history-title">
      <header className="panel-header">
        {/* Focusable by script: "Show in history" moves here. */}
        <h2 id="history-title" tabIndex={-1}>
          History
        </h2>
        {data && !query.isError && (
          <span className="match-count" data-testid="match-count" aria-live="polite">
            {data.total_is_exact ? `${formatCount(data.total_count)} matches` : `${data.total_count}+ matches`}
          </span>
        )}
      </header>
      <HistoryFilters filters={filters} />
      <div aria-busy={query.isFetching}>{body}</div>
      {query.isPlaceholderData && (
        <p className="state state-loading" role="status">
          Loading the runs for these filters…
        </p>
      )}
    </section>
  );
}
