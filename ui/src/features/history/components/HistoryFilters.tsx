import { useEffect, useState } from 'react';
import { StatusSelect, TaskNameSelect } from '../../../components/FilterSelects';
import type { HistoryFilters as Filters } from '../../../lib/query-keys';
import { useTaskNames } from '../../../lib/task-names';
import { updateSearch } from '../../../lib/url-state';
import { searchUpdates } from '../history-url';

export function HistoryFilters({ filters }: { filters: Filters }) {
  const taskNames = useTaskNames();
  // The search box is applied on Enter (or the button), not on every key stroke.
  const [text, setText] = useState(filters.q ?? '');
  useEffect(() => setText(filters.q ?? ''), [filters.q]);
  const apply = (changes: Parameters<typeof searchUpdates>[0]) => updateSearch(searchUpdates(changes));

  return (
    <form
      className="toolbar history-filters"
      role="search"
      aria-label="Filter the history"
      onSubmit={(event) => {
        event.preventDefault();
        apply({ q: text.trim() || null });
      }}
    >
      <TaskNameSelect id="history-task" value={filters.taskName} taskNames={taskNames} onChange={(taskName) => apply({ taskName })} />
      <StatusSelect id="history-status" value={filters.status} onChange={(status) => apply({ status })} />
      <label className="field" htmlFor="history-from">
        <span>From</span>
        <input
          id="history-from"
          type="date"
          value={filters.startDate ?? ''}
          onChange={(e) => apply({ startDate: e.target.value || null })}
        />
      </label>
      <label className="field" htmlFor="history-to">
        <span>To (inclusive)</span>
        <input id="history-to" type="date" value={filters.endDate ?? ''} onChange={(e) => apply({ endDate: e.target.value || null })} />
      </label>
      <label className="field field-grow" htmlFor="history-q">
        <span>Search</span>
        <input
          id="history-q"
          type="search"
          placeholder="error text, task id, params…"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      <button type="submit">Search</button>
      <button
        type="button"
        onClick={() => apply({ taskName: null, status: null, startDate: null, endDate: null, q: null, errorGroup: null })}
      >
        Clear
      </button>
      {filters.errorGroup !== null && (
        // Set from an error group's "Show in history"; it has no field of its own.
        <span className="filter-chip" data-testid="error-group-filter">
          Error group #{filters.errorGroup}
          <button type="button" aria-label={`Clear the error group #${filters.errorGroup} filter`} onClick={() => apply({ errorGroup: null })}>
            ×
          </button>
        </span>
      )}
    </form>
  );
}
