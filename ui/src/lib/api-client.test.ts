import { describe, expect, it } from 'vitest';
import { installFakeApi } from '../testing/fake-api';
import { ApiError, apiGet, apiPost, apiWebSocketUrl } from './api-client';
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

describe('apiPost', () => {
  it('sends a JSON body with the token, and carries errors like apiGet', async () => {
    window.sessionStorage.setItem('tasklens.token', 't0k');
    const api = installFakeApi({
      '/api/v1/monitoring/errors/3/state': (_url, request) => ({ echoed: request.body }),
      '/api/v1/monitoring/errors/4/state': () =>
        new Response(JSON.stringify({ error: 'not_found', parameter: null, message: 'no error group with id 4' }), { status: 404 }),
    });
    expect(await apiPost('/api/v1/monitoring/errors/3/state', { state: 'ignored' })).toEqual({ echoed: { state: 'ignored' } });
    const fetchMock = fetch as unknown as { mock: { calls: [string, RequestInit][] } };
    const [url, init] = fetchMock.mock.calls[0]!;
    expect(url).toBe('/api/v1/monitoring/errors/3/state');
    expect(init.method).toBe('POST');
    expect(init.body).toBe('{"state":"ignored"}');
    expect(init.headers).toMatchObject({ Authorization: 'Bearer t0k', 'Content-Type': 'application/json' });
    expect(api.sent('/api/v1/monitoring/errors/3/state')).toHaveLength(1);

    const error = await apiPost('/api/v1/monitoring/errors/4/state', { state: 'open' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 404, code: 'not_found', message: 'no error group with id 4' });
  });
});
