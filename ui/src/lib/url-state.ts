// The page's state that belongs in the address bar (filters, window, open run), read and written
// through URLSearchParams and the history API: links can be shared and survive reload, and
// Back/Forward walk through filter changes.
import { useSyncExternalStore } from 'react';

const LOCATION_EVENT = 'tasklens:locationchange';

function subscribe(onChange: () => void): () => void {
  window.addEventListener('popstate', onChange);
  window.addEventListener(LOCATION_EVENT, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(LOCATION_EVENT, onChange);
  };
}

const getSearch = () => window.location.search;

/** The current query string; components re-render when it changes. */
export function useSearch(): URLSearchParams {
  const search = useSyncExternalStore(subscribe, getSearch, getSearch);
  return new URLSearchParams(search);
}

export type ParamUpdates = Record<string, string | number | null | undefined>;

/** Sets (or, for null/undefined/'' values, removes) query parameters; pushes a history entry. */
export function updateSearch(updates: ParamUpdates, options: { replace?: boolean } = {}): void {
  const params = new URLSearchParams(window.location.search);
  for (const [key, value] of Object.entries(updates)) {
    if (value === null || value === undefined || value === '') params.delete(key);
    else params.set(key, String(value));
  }
  const query = params.toString();
  const target = `${window.location.pathname}${query ? `?${query}` : ''}${window.location.hash}`;
  if (target === `${window.location.pathname}${window.location.search}${window.location.hash}`) return;
  if (options.replace) window.history.replaceState(null, '', target);
  else window.history.pushState(null, '', target);
  window.dispatchEvent(new Event(LOCATION_EVENT));
}

/** The link that `updateSearch(updates)` would go to, for real hrefs (open in a new tab, copy). */
export function hrefWithSearch(updates: ParamUpdates): string {
  const params = new URLSearchParams(window.location.search);
  for (const [key, value] of Object.entries(updates)) {
    if (value === null || value === undefined || value === '') params.delete(key);
    else params.set(key, String(value));
  }
  const query = params.toString();
  return `${window.location.pathname}${query ? `?${query}` : ''}`;
}
