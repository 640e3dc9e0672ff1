import { describe, expect, it } from 'vitest';
import { updateSearch } from '../../lib/url-state';
import { filtersFromSearch, searchUpdates } from './history-url';

const fromUrl = () => filtersFromSearch(new URLSearchParams(window.location.search));

describe('the history URL', () => {
  it('keeps the error group filter: set, read back, and cleared', () => {
    window.history.replaceState(null, '', '/monitoring?status=failed&page=3');
    updateSearch(searchUpdates({ errorGroup: 12 }));
    // A filter change goes back to page 1 and keeps the others.
    expect(window.location.search).toBe('?status=failed&error_group=12');
    expect(fromUrl()).toMatchObject({ errorGroup: 12, status: 'failed', page: 1 });

    updateSearch(searchUpdates({ errorGroup: null }));
    expect(window.location.search).toBe('?status=failed');
    expect(fromUrl().errorGroup).toBeNull();
  });

  it('round-trips every filter', () => {
    const filters = {
      taskName: 'send_email',
      status: 'failed' as const,
      startDate: '2026-11-01',
      endDate: '2026-11-28',
      q: 'timeout',
      errorGroup: 7,
    };
    window.history.replaceState(null, '', '/monitoring');
    updateSearch(searchUpdates(filters));
    expect(fromUrl()).toEqual({ ...filters, page: 1, service: null, environment: null });
  });

  it("reads the page's service filter, which the history's own updates leave alone", () => {
    window.history.replaceState(null, '', '/monitoring?service=billing&environment=prod&page=2');
    expect(fromUrl()).toMatchObject({ service: 'billing', environment: 'prod', page: 2 });
    updateSearch(searchUpdates({ taskName: null, status: null, q: null }));
    expect(window.location.search).toBe('?service=billing&environment=prod');
  });

  it('drops an error group that is not a positive id', () => {
    for (const value of ['0', '-1', 'abc', '1.5', '', '99999999999999999999']) {
      expect(filtersFromSearch(new URLSearchParams({ error_group: value })).errorGroup).toBeNull();
    }
    expect(filtersFromSearch(new URLSearchParams({ error_group: '42' })).errorGroup).toBe(42);
  });
});
