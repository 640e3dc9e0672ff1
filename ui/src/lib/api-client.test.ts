import { describe, expect, it } from 'vitest';
import { installFakeApi } from '../testing/fake-api';
import { ApiError, apiGet, apiWebSocketUrl } from './api-client';
import { captureTokenFromUrl } from './auth-token';

describe('the API token', () => {
  it('is read from ?token= once, kept for the tab, sent as Bearer and on the WebSocket URL', async () => {
    window.history.replaceState(null, '', '/monitoring?token=s3cr%2Ft&status=failed');
    captureTokenFromUrl();
    expect(window.location.search).toBe('?status=failed');
    expect(window.sessionStorage.getItem('tasklens.token')).toBe('s3cr/t');

    const api = installFakeApi({ '/api/v1/monitoring/task-names': () => ({ task_names: [] }) });
    await apiGet('/api/v1/monitoring/task-names');
    const fetchMock = fetch as unknown as { mock: { calls: [string, RequestInit][] } };
    expect((fetchMock.mock.calls[0]![1].headers as Record<string, string>).Authorization).toBe('Bearer s3cr/t');
    expect(api.requests[0]!.searchParams.has('token')).toBe(false);

    const ws = new URL(apiWebSocketUrl('/api/v1/monitoring/ws'));
    expect(ws.protocol).toBe('ws:');
    expect(ws.pathname).toBe('/api/v1/monitoring/ws');
    expect(ws.searchParams.get('token')).toBe('s3cr/t');
  });

  it('is not sent when there is none', async () => {
    installFakeApi({ '/x': () => ({}) });
    await apiGet('/x', { a: 1, b: null, c: '' });
    const fetchMock = fetch as unknown as { mock: { calls: [string, RequestInit][] } };
    expect(fetchMock.mock.calls[0]![0]).toBe('/x?a=1');
    expect((fetchMock.mock.calls[0]![1].headers as Record<string, string>).Authorization).toBeUndefined();
    expect(new URL(apiWebSocketUrl('/api/v1/monitoring/ws')).search).toBe('');
  });
});

describe('apiGet errors', () => {
  it("carries the API's error code, parameter and message", async () => {
    installFakeApi({
      '/api/v1/monitoring/history': () =>
        new Response(JSON.stringify({ error: 'unavailable', parameter: null, message: 'database unreachable' }), { status: 503 }),
    });
    const error = await apiGet('/api/v1/monitoring/history').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 503, code: 'unavailable', message: 'database unreachable' });
  });
});
