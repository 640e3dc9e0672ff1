import { describe, expect, it } from 'vitest';
import { statusChanged } from '../../testing/fake-api';
import { FEED_BOUND, countNewSince, feedItemFromEvent, matchesFeedFilter, prependBounded, type FeedItem } from './feed-items';

describe('prependBounded', () => {
  it('keeps the newest 200 of 1000 events, newest first', () => {
    let feed: FeedItem[] = [];
    for (let i = 1; i <= 1000; i += 1) feed = prependBounded(feed, [feedItemFromEvent(statusChanged(i, 'running', 'a', i))]);
    expect(FEED_BOUND).toBe(200);
    expect(feed).toHaveLength(200);
    expect(feed[0]?.id).toBe(1000);
    expect(feed[199]?.id).toBe(801);
    expect(feed.map((item) => item.id)).toEqual(Array.from({ length: 200 }, (_, i) => 1000 - i));
  });

  it('takes a batch oldest-first, bounds it, and drops repeated changes', () => {
    const batch = Array.from({ length: 1000 }, (_, i) => feedItemFromEvent(statusChanged(i + 1, 'success', 'a', i)));
    const feed = prependBounded([batch[0]!], [...batch, batch[999]!]);
    expect(feed).toHaveLength(200);
    expect(feed[0]?.id).toBe(1000);
    expect(new Set(feed.map((item) => item.key)).size).toBe(200);
  });

  it('keeps each status change of a run as its own entry', () => {
    const feed = prependBounded([], [statusChanged(7, 'running', 'a', 1), statusChanged(7, 'success', 'a', 2)].map(feedItemFromEvent));
    expect(feed.map((item) => item.status)).toEqual(['success', 'running']);
  });
});

describe('matchesFeedFilter', () => {
  it('matches the service and the environment, each when set', () => {
    const item = feedItemFromEvent(statusChanged(1, 'failed', 'a', 0, { service: 'billing', environment: 'prod' }));
    const all = { taskName: null, status: null, service: null, environment: null };
    expect(matchesFeedFilter(item, all)).toBe(true);
    expect(matchesFeedFilter(item, { ...all, service: 'billing', environment: 'prod' })).toBe(true);
    expect(matchesFeedFilter(item, { ...all, service: 'shipping' })).toBe(false);
    expect(matchesFeedFilter(item, { ...all, environment: 'staging' })).toBe(false);
    // A run whose worker sent no service is not in any one service.
    expect(matchesFeedFilter(feedItemFromEvent(statusChanged(2, 'failed')), { ...all, service: 'billing' })).toBe(false);
  });
});

describe('countNewSince', () => {
  it('counts the entries that arrived after the snapshot', () => {
    const old = [1, 2, 3].map((i) => feedItemFromEvent(statusChanged(i, 'running', 'a', i)));
    const now = prependBounded(old, [4, 5].map((i) => feedItemFromEvent(statusChanged(i, 'running', 'a', i))));
    expect(countNewSince(old, now)).toBe(2);
  });
});
