// The optional API token: taken from `?token=` once, then kept for the tab in sessionStorage and
// removed from the address bar so it is not shared with a copied link.
const STORAGE_KEY = 'tasklens.token';

export function captureTokenFromUrl(): void {
  const url = new URL(window.location.href);
  const token = url.searchParams.get('token');
  if (token === null) return;
  if (token !== '') window.sessionStorage.setItem(STORAGE_KEY, token);
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
}

export function getToken(): string | null {
  return window.sessionStorage.getItem(STORAGE_KEY);
}
