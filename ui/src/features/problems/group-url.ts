// Where the Problems section's links lead, as address-bar updates (see lib/url-state.ts).
import type { ParamUpdates } from '../../lib/url-state';

const ID = /^\d+$/;

/** The open group's id, from `?group=ID`. */
export function groupIdFromSearch(search: URLSearchParams): number | null {
  const value = search.get('group');
  return value !== null && ID.test(value) ? Number(value) : null;
}

export const openGroup = (id: number): ParamUpdates => ({ group: id });
export const closeGroup: ParamUpdates = { group: null };

/**
 * The history of group `id` (its `error_group` filter). The history's other filters
 * (features/history/history-url.ts) are cleared so that all of the group's runs show; Back
 * brings them back. The page's service filter stays: it is the whole page's, shown in its header.
 */
export const historyOfGroup = (id: number): ParamUpdates => ({
  error_group: id,
  task: null,
  status: null,
  from: null,
  to: null,
  q: null,
  page: null,
  group: null,
  run: null,
});
